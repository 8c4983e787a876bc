package planner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/planner"
)

// probeLog is a planner.Prober for tests that records or replays.
//
// Recording (live set), it forwards every call to a real Prober (a
// TxProber over a scratch transaction) and logs it in order: method,
// arguments, result and error. Replaying (live nil), it answers from such a
// log without a server: a call is matched by its method and arguments (one
// queue per key, so repeated identical calls get their answers in the
// recorded order); a call that is not in the log fails.
//
// Errors are logged as data ({code, message, detail, ...} for a PostgreSQL
// error) and replayed as *pgconn.PgError, which is what the planner
// inspects (Code for its verdicts, Message and Detail for its messages).
//
// pgMajor, when not 0, replaces the server's major version in the catalog
// (in both modes), so that one recording on the local server gives the plan
// for an older one.
type probeLog struct {
	live    planner.Prober
	pgMajor int

	mu      sync.Mutex
	calls   []*probeCall            // recorded, in order
	queues  map[string][]*probeCall // replay: key -> answers left
	misses  []string                // replay: calls not in the log
	pending int                     // replay: answers not used yet
}

// probeCall is one logged call.
type probeCall struct {
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *probeError     `json:"error,omitempty"`
}

// probeError is an error as data. Text is the whole error message when it
// is not just the PostgreSQL error's (a wrapped one).
type probeError struct {
	Code           string `json:"code,omitempty"`
	Message        string `json:"message,omitempty"`
	Detail         string `json:"detail,omitempty"`
	Hint           string `json:"hint,omitempty"`
	Position       int32  `json:"position,omitempty"`
	SchemaName     string `json:"schema_name,omitempty"`
	TableName      string `json:"table_name,omitempty"`
	ColumnName     string `json:"column_name,omitempty"`
	ConstraintName string `json:"constraint_name,omitempty"`
	Text           string `json:"text,omitempty"`
}

var _ planner.Prober = (*probeLog)(nil)

// newRecorder logs the calls to live.
func newRecorder(live planner.Prober, pgMajor int) *probeLog {
	return &probeLog{live: live, pgMajor: pgMajor}
}

// newReplayer answers from a log (the JSON that probeLog.JSON wrote).
func newReplayer(raw []byte, pgMajor int) (*probeLog, error) {
	var calls []*probeCall
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, fmt.Errorf("probes.json: %w", err)
	}
	l := &probeLog{pgMajor: pgMajor, queues: map[string][]*probeCall{}, pending: len(calls)}
	for _, c := range calls {
		k := key(c.Method, c.Args)
		l.queues[k] = append(l.queues[k], c)
	}
	return l, nil
}

// JSON renders the recorded log: one call per element, its arguments on
// one line, a long result indented.
func (l *probeLog) JSON() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, c := range l.calls {
		fmt.Fprintf(&buf, "  {\"method\": %q, \"args\": %s", c.Method, c.Args)
		if c.Result != nil {
			res := c.Result
			if len(res) > 100 {
				var ind bytes.Buffer
				if err := json.Indent(&ind, res, "  ", "  "); err != nil {
					return nil, err
				}
				res = ind.Bytes()
			}
			fmt.Fprintf(&buf, ", \"result\": %s", res)
		}
		if c.Error != nil {
			e, err := marshal(c.Error)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&buf, ", \"error\": %s", e)
		}
		buf.WriteString("}")
		if i < len(l.calls)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]\n")
	return buf.Bytes(), nil
}

// marshal is json.Marshal without HTML escapes (SQL has < and >).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Check reports the calls a replay could not answer and the recorded
// answers it did not use: either means the log is stale.
func (l *probeLog) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.misses) > 0 {
		return fmt.Errorf("unexpected probe %s: re-record with -record", strings.Join(l.misses, "; "))
	}
	if l.pending > 0 {
		for _, q := range l.queues {
			if len(q) > 0 {
				return fmt.Errorf("%d recorded probes were not asked, e.g. %s(%s): re-record with -record", l.pending, q[0].Method, trim(q[0].Args))
			}
		}
	}
	return nil
}

func key(method string, args []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, args); err != nil {
		return method + string(args)
	}
	return method + buf.String()
}

func trim(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// call records or replays one call; args are the method's arguments after
// the context, fn the call to the live Prober.
func call[R any](l *probeLog, method string, fn func() (R, error), args ...any) (R, error) {
	var zero R
	rawArgs, err := marshal(args)
	if err != nil {
		return zero, fmt.Errorf("probelog: %s: %w", method, err)
	}
	if l.live == nil {
		return replay[R](l, method, rawArgs)
	}
	res, ferr := fn()
	c := &probeCall{Method: method, Args: rawArgs, Error: errorData(ferr)}
	if _, ok := any(res).(none); !ok {
		if c.Result, err = marshal(res); err != nil {
			return zero, fmt.Errorf("probelog: %s: %w", method, err)
		}
	}
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
	return res, ferr
}

func replay[R any](l *probeLog, method string, rawArgs []byte) (R, error) {
	var res R
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(method, rawArgs)
	q := l.queues[k]
	if len(q) == 0 {
		miss := method + "(" + trim(rawArgs) + ")"
		l.misses = append(l.misses, miss)
		return res, fmt.Errorf("unexpected probe %s: re-record with -record", miss)
	}
	c := q[0]
	l.queues[k] = q[1:]
	l.pending--
	if len(c.Result) > 0 {
		if err := json.Unmarshal(c.Result, &res); err != nil {
			return res, fmt.Errorf("probelog: %s result: %w", method, err)
		}
	}
	return res, c.Error.err()
}

// errorData turns an error into data.
func errorData(err error) *probeError {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return &probeError{Text: err.Error()}
	}
	e := &probeError{Code: pg.Code, Message: pg.Message, Detail: pg.Detail, Hint: pg.Hint, Position: pg.Position,
		SchemaName: pg.SchemaName, TableName: pg.TableName, ColumnName: pg.ColumnName, ConstraintName: pg.ConstraintName}
	if err.Error() != pg.Error() {
		e.Text = err.Error()
	}
	return e
}

// err turns data back into an error: a *pgconn.PgError (wrapped in an error
// with the recorded text when there is one).
func (e *probeError) err() error {
	if e == nil {
		return nil
	}
	if e.Code == "" && e.Message == "" {
		return errors.New(e.Text)
	}
	pg := &pgconn.PgError{Severity: "ERROR", Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint,
		Position: e.Position, SchemaName: e.SchemaName, TableName: e.TableName, ColumnName: e.ColumnName,
		ConstraintName: e.ConstraintName}
	if e.Text != "" {
		return &wrapped{text: e.Text, err: pg}
	}
	return pg
}

type wrapped struct {
	text string
	err  error
}

func (w *wrapped) Error() string { return w.text }
func (w *wrapped) Unwrap() error { return w.err }

// none is the result of a method that returns only an error.
type none struct{}

func (l *probeLog) Catalog(ctx context.Context, schema string) (*planner.Catalog, error) {
	c, err := call(l, "Catalog", func() (*planner.Catalog, error) { return l.live.Catalog(ctx, schema) }, schema)
	if c != nil && l.pgMajor != 0 {
		c.PGMajor = l.pgMajor
	}
	return c, err
}

func (l *probeLog) SetSearchPath(ctx context.Context, path string) error {
	_, err := call(l, "SetSearchPath", func() (none, error) { return none{}, l.live.SetSearchPath(ctx, path) }, path)
	return err
}

func (l *probeLog) Apply(ctx context.Context, stmt string) error {
	_, err := call(l, "Apply", func() (none, error) { return none{}, l.live.Apply(ctx, stmt) }, stmt)
	return err
}

func (l *probeLog) Try(ctx context.Context, stmts []string) (int, error) {
	return call(l, "Try", func() (int, error) { return l.live.Try(ctx, stmts) }, stmts)
}

func (l *probeLog) FastDefault(ctx context.Context, typ, def string) (bool, error) {
	return call(l, "FastDefault", func() (bool, error) { return l.live.FastDefault(ctx, typ, def) }, typ, def)
}

func (l *probeLog) ResolveTypes(ctx context.Context, types []string) ([]uint32, error) {
	return call(l, "ResolveTypes", func() ([]uint32, error) { return l.live.ResolveTypes(ctx, types) }, types)
}

func (l *probeLog) Collatable(ctx context.Context, typ string) (bool, error) {
	return call(l, "Collatable", func() (bool, error) { return l.live.Collatable(ctx, typ) }, typ)
}

func (l *probeLog) NameOwner(ctx context.Context, kind, schema, table, name string) (string, error) {
	return call(l, "NameOwner", func() (string, error) { return l.live.NameOwner(ctx, kind, schema, table, name) }, kind, schema, table, name)
}

func (l *probeLog) RelationExists(ctx context.Context, schema, name string) (bool, error) {
	return call(l, "RelationExists", func() (bool, error) { return l.live.RelationExists(ctx, schema, name) }, schema, name)
}

func (l *probeLog) TypeExists(ctx context.Context, schema, name string) (bool, error) {
	return call(l, "TypeExists", func() (bool, error) { return l.live.TypeExists(ctx, schema, name) }, schema, name)
}

func (l *probeLog) ConstraintType(ctx context.Context, schema, table, name string) (string, error) {
	return call(l, "ConstraintType", func() (string, error) { return l.live.ConstraintType(ctx, schema, table, name) }, schema, table, name)
}

func (l *probeLog) Index(ctx context.Context, schema, name string) (*planner.IndexInfo, error) {
	return call(l, "Index", func() (*planner.IndexInfo, error) { return l.live.Index(ctx, schema, name) }, schema, name)
}

func (l *probeLog) PrimaryKey(ctx context.Context, schema, table string) (string, error) {
	return call(l, "PrimaryKey", func() (string, error) { return l.live.PrimaryKey(ctx, schema, table) }, schema, table)
}

func (l *probeLog) HasUnique(ctx context.Context, schema, table string, cols []string) (bool, error) {
	return call(l, "HasUnique", func() (bool, error) { return l.live.HasUnique(ctx, schema, table, cols) }, schema, table, cols)
}

func (l *probeLog) TableColumns(ctx context.Context, schema, table string) ([]string, error) {
	return call(l, "TableColumns", func() ([]string, error) { return l.live.TableColumns(ctx, schema, table) }, schema, table)
}

func (l *probeLog) EnumLabels(ctx context.Context, schema, name string) ([]string, error) {
	return call(l, "EnumLabels", func() ([]string, error) { return l.live.EnumLabels(ctx, schema, name) }, schema, name)
}

func (l *probeLog) TypeOIDs(ctx context.Context, schema, name string) (planner.TypeOIDs, error) {
	return call(l, "TypeOIDs", func() (planner.TypeOIDs, error) { return l.live.TypeOIDs(ctx, schema, name) }, schema, name)
}

func (l *probeLog) TypeDependents(ctx context.Context, oid, array uint32, skipViews string) ([]planner.TypeDependent, error) {
	return call(l, "TypeDependents", func() ([]planner.TypeDependent, error) {
		return l.live.TypeDependents(ctx, oid, array, skipViews)
	}, oid, array, skipViews)
}

func (l *probeLog) ColumnDependents(ctx context.Context, schema, table, column string) ([]planner.ColumnDependent, error) {
	return call(l, "ColumnDependents", func() ([]planner.ColumnDependent, error) {
		return l.live.ColumnDependents(ctx, schema, table, column)
	}, schema, table, column)
}

func (l *probeLog) TableDependents(ctx context.Context, schema, table, skipViews string) ([]string, error) {
	return call(l, "TableDependents", func() ([]string, error) {
		return l.live.TableDependents(ctx, schema, table, skipViews)
	}, schema, table, skipViews)
}

func (l *probeLog) Dependents(ctx context.Context, tableOID uint32, attnum int) ([]planner.Dependent, error) {
	return call(l, "Dependents", func() ([]planner.Dependent, error) { return l.live.Dependents(ctx, tableOID, attnum) }, tableOID, attnum)
}

func (l *probeLog) RelKind(ctx context.Context, oid uint32) (string, error) {
	return call(l, "RelKind", func() (string, error) { return l.live.RelKind(ctx, oid) }, oid)
}

func (l *probeLog) IndexConstraint(ctx context.Context, indexOID, tableOID uint32) (uint32, error) {
	return call(l, "IndexConstraint", func() (uint32, error) { return l.live.IndexConstraint(ctx, indexOID, tableOID) }, indexOID, tableOID)
}

func (l *probeLog) ColumnDefault(ctx context.Context, oid uint32) (planner.ColumnDefault, error) {
	return call(l, "ColumnDefault", func() (planner.ColumnDefault, error) { return l.live.ColumnDefault(ctx, oid) }, oid)
}

func (l *probeLog) Rule(ctx context.Context, oid, tableOID uint32) (planner.Rule, error) {
	return call(l, "Rule", func() (planner.Rule, error) { return l.live.Rule(ctx, oid, tableOID) }, oid, tableOID)
}

func (l *probeLog) IndexDef(ctx context.Context, oid uint32) (planner.IndexDef, error) {
	return call(l, "IndexDef", func() (planner.IndexDef, error) { return l.live.IndexDef(ctx, oid) }, oid)
}

func (l *probeLog) ConstraintDef(ctx context.Context, oid uint32) (planner.ConstraintDef, error) {
	return call(l, "ConstraintDef", func() (planner.ConstraintDef, error) { return l.live.ConstraintDef(ctx, oid) }, oid)
}

func (l *probeLog) PolicyDef(ctx context.Context, oid uint32) (planner.PolicyDef, error) {
	return call(l, "PolicyDef", func() (planner.PolicyDef, error) { return l.live.PolicyDef(ctx, oid) }, oid)
}

func (l *probeLog) StatisticsDef(ctx context.Context, oid uint32) (planner.StatisticsDef, error) {
	return call(l, "StatisticsDef", func() (planner.StatisticsDef, error) { return l.live.StatisticsDef(ctx, oid) }, oid)
}

func (l *probeLog) SequenceDef(ctx context.Context, oid uint32) (planner.SequenceDef, error) {
	return call(l, "SequenceDef", func() (planner.SequenceDef, error) { return l.live.SequenceDef(ctx, oid) }, oid)
}

func (l *probeLog) ColumnAttrs(ctx context.Context, tableOID uint32, attnum int) (planner.ColumnAttrs, error) {
	return call(l, "ColumnAttrs", func() (planner.ColumnAttrs, error) { return l.live.ColumnAttrs(ctx, tableOID, attnum) }, tableOID, attnum)
}

// stubProber answers Try from a list, in order; every other method panics
// (the embedded nil Prober).
type stubProber struct {
	planner.Prober
	answers []error
}

func (s *stubProber) Try(_ context.Context, stmts []string) (int, error) {
	err := s.answers[0]
	s.answers = s.answers[1:]
	if err != nil {
		return len(stmts) - 1, err
	}
	return 0, nil
}

// A recorded log replays identical calls in their order, PostgreSQL errors
// as *pgconn.PgError (wrapped ones with their text), and reports calls it
// does not hold and answers left unused.
func TestProbeLogReplay(t *testing.T) {
	ctx := context.Background()
	lockErr := &pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"}
	checkErr := &pgconn.PgError{Code: "42804", Message: "argument of CHECK must be type boolean", Detail: "some detail"}
	live := &stubProber{answers: []error{nil, lockErr, fmt.Errorf("engine: savepoint: %w", checkErr)}}
	rec := newRecorder(live, 0)
	for range 3 {
		_, _ = rec.Try(ctx, []string{"SELECT 1", "SELECT 2"})
	}
	raw, err := rec.JSON()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := newReplayer(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	if i, err := pl.Try(ctx, []string{"SELECT 1", "SELECT 2"}); i != 0 || err != nil {
		t.Errorf("first call: %d, %v; want 0, nil", i, err)
	}
	i, err := pl.Try(ctx, []string{"SELECT 1", "SELECT 2"})
	var pg *pgconn.PgError
	if i != 1 || !errors.As(err, &pg) || pg.Code != "55P03" || !pgexec.Retryable(err) {
		t.Errorf("second call: %d, %#v; want 1 and the lock timeout", i, err)
	}
	_, err = pl.Try(ctx, []string{"SELECT 1", "SELECT 2"})
	if !errors.As(err, &pg) || pg.Code != "42804" || pg.Detail != "some detail" || err.Error() != "engine: savepoint: "+checkErr.Error() {
		t.Errorf("third call: %#v; want the wrapped check error", err)
	}
	if err := pl.Check(); err != nil {
		t.Errorf("Check after every answer was used: %v", err)
	}
	if _, err := pl.Try(ctx, []string{"SELECT 1", "SELECT 2"}); err == nil {
		t.Error("a fourth call was answered")
	}
	if err := pl.Check(); err == nil || !strings.Contains(err.Error(), `unexpected probe Try([["SELECT 1","SELECT 2"]])`) {
		t.Errorf("Check = %v; want the unexpected probe named", err)
	}
	pl, _ = newReplayer(raw, 0)
	if err := pl.Check(); err == nil || !strings.Contains(err.Error(), "3 recorded probes were not asked") {
		t.Errorf("Check of an unused log = %v", err)
	}
}
