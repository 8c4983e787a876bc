// Package scenario makes what-if scenarios inside one database: a schema and
// a NOLOGIN role of the same name (prefix scn_ by default) holding filtered
// copies of the tables an attempt changes. The application enters a
// scenario with SET ROLE: its search_path starts with "$user", which then
// names the scenario schema, so copied tables read the copies and every
// other table falls through to the base tables (read-only for the role).
//
// Copies are made under one exported snapshot, several tables in parallel.
// Every change made in a scenario is recorded (the key and, on the first
// change, the copied row) by a trigger on the copy, so diff and promote
// look only at the rows that changed, and promote detects base rows changed
// since the copy (conflicts).
//
// The contract is docs/scenarios.md.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
)

// MaxNameLen is the longest scenario name, in bytes.
const MaxNameLen = 40

// DefaultPrefix is put before a scenario's name to name its schema and role.
const DefaultPrefix = "scn_"

// Options configure a Manager. Zero values mean the defaults.
type Options struct {
	Schema       string        // managed (base) schema; default "public"
	StateSchema  string        // strata's state schema; default "strata"
	Prefix       string        // schema and role prefix; default "scn_"
	LockTimeout  time.Duration // lock_timeout of every statement; default 2s
	LockDeadline time.Duration // total time to retry on lock timeouts; default 10m
	Parallel     int           // tables copied at once; default 2
	Logf         func(format string, args ...any)
	// AfterCopy is called after each table's copy committed (crash tests
	// kill the process there).
	AfterCopy func(table string)
}

// Manager creates and manages the scenarios of one database.
type Manager struct {
	cfg  *pgx.ConnConfig
	opts Options
	exec *pgexec.Runner
}

// New prepares a Manager for the database at connString.
func New(connString string, opts Options) (*Manager, error) {
	if err := pgerr.CheckURL(connString); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, pgerr.Parse(err, connString)
	}
	if opts.Schema == "" {
		opts.Schema = "public"
	}
	if opts.StateSchema == "" {
		opts.StateSchema = "strata"
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	cfg.RuntimeParams["application_name"] = "strata scenario"
	delete(cfg.RuntimeParams, "search_path")
	if !strings.Contains(connString, "default_query_exec_mode") {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	m := &Manager{cfg: cfg, opts: opts}
	m.exec = &pgexec.Runner{LockTimeout: opts.LockTimeout, Deadline: opts.LockDeadline, SearchPath: pgquery.Ident(opts.Schema),
		OnRetry: func(attempt int, wait time.Duration, err error) {
			m.logf("lock not available (attempt %d), retrying in %s: %s", attempt, wait.Round(time.Millisecond), pgexec.Message(err))
		}}
	return m, nil
}

func (m *Manager) logf(format string, args ...any) {
	if m.opts.Logf != nil {
		m.opts.Logf(format, args...)
	}
}

func (m *Manager) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, m.cfg)
	if err != nil {
		return nil, pgerr.Connect(err, "")
	}
	return conn, nil
}

// InputError is bad input, refused before anything changed. Flag names
// the flag or argument at fault.
type InputError struct {
	Flag string
	Msg  string
	Hint string
}

func (e *InputError) Error() string {
	s := e.Flag + ": " + e.Msg
	if e.Hint != "" {
		s += "\nhint: " + e.Hint
	}
	return s
}

// ErrNotFound is returned for a scenario that does not exist.
var ErrNotFound = errors.New("no such scenario")

// ConflictError lists the base rows changed since the copy: promote
// changed nothing.
type ConflictError struct {
	Scenario  string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("scenario promote %s: %d conflict(s): base rows changed since the copy; nothing was changed\nhint: look at them with strata scenario diff %s, then reset the scenario (strata scenario reset %s) or promote only other tables with --table",
		e.Scenario, len(e.Conflicts), e.Scenario, e.Scenario)
}

// Conflict is one base row that changed since the copy.
type Conflict struct {
	Table  string            `json:"table"`
	Key    map[string]string `json:"key"`
	Reason string            `json:"reason"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// checkName validates a scenario name and the object name it makes.
func checkName(name, prefix string) error {
	switch {
	case name == "":
		return &InputError{Flag: "NAME", Msg: "the scenario name is empty", Hint: "name it with lower-case letters, digits and _"}
	case !nameRE.MatchString(name):
		return &InputError{Flag: "NAME", Msg: fmt.Sprintf("scenario name %q may only hold a-z, 0-9 and _", name), Hint: "name it with lower-case letters, digits and _"}
	case len(name) > MaxNameLen:
		return &InputError{Flag: "NAME", Msg: fmt.Sprintf("scenario name %q is %d bytes, longer than %d", name, len(name), MaxNameLen), Hint: "choose a shorter name"}
	case len(prefix+name) > 63:
		return &InputError{Flag: "--prefix", Msg: fmt.Sprintf("%q is longer than PostgreSQL's 63-byte names", prefix+name), Hint: "choose a shorter --prefix or name"}
	}
	return nil
}

// Scenario is one scenario's metadata.
type Scenario struct {
	Name        string    `json:"name"`
	Schema      string    `json:"schema"`
	Role        string    `json:"role"`
	BaseSchema  string    `json:"base_schema"`
	State       string    `json:"state"`
	ParentState *string   `json:"parent_state"`
	Where       *string   `json:"where"`
	Logged      bool      `json:"logged"`
	CreatedAt   time.Time `json:"created_at"`
	CopyXID     string    `json:"copy_snapshot"`
	Members     []string  `json:"members"`
	Tables      []Table   `json:"tables"`
	Rows        int64     `json:"rows"`
	Bytes       int64     `json:"bytes"`
}

// Table is one copied table of a scenario.
type Table struct {
	Name       string    `json:"name"`
	Filter     *string   `json:"filter"`
	Via        string    `json:"followed_from,omitempty"`
	RowsCopied int64     `json:"rows_copied"`
	Bytes      int64     `json:"bytes"`
	Changed    int64     `json:"changed_rows"`
	CopiedAt   time.Time `json:"copied_at"`
	CopyXID    string    `json:"copy_snapshot"`
	logTable   string
}

// States of a scenario.
const (
	StateCreating = "creating" // create is running or was interrupted: drop clears it
	StateReady    = "ready"
)

func (m *Manager) st(name string) string { return pgquery.Qual(m.opts.StateSchema, name) }

// ensureMeta creates the state schema's scenario tables (safe to re-run).
func (m *Manager) ensureMeta(ctx context.Context, tx pgx.Tx) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, m.opts.StateSchema).Scan(&exists); err != nil {
		return err
	}
	for _, s := range m.metaSQL(exists) {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("scenario: install metadata tables: %w", err)
		}
	}
	return nil
}

// metaSQL creates the scenario tables (and the state schema unless
// schemaExists: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on
// the database even when the schema exists).
func (m *Manager) metaSQL(schemaExists bool) []string {
	var stmts []string
	if !schemaExists {
		stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+pgquery.Ident(m.opts.StateSchema))
	}
	return append(stmts, `CREATE TABLE IF NOT EXISTS `+m.st("scenario")+` (
			name text PRIMARY KEY,
			schema_name text NOT NULL,
			role_name text NOT NULL,
			base_schema text NOT NULL,
			state text NOT NULL CHECK (state IN ('creating', 'ready')),
			parent_state text,
			where_expr text,
			logged boolean NOT NULL DEFAULT false,
			copy_snapshot text,
			created_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS `+m.st("scenario_table")+` (
			scenario text NOT NULL REFERENCES `+m.st("scenario")+` ON DELETE CASCADE,
			table_name text NOT NULL,
			position int NOT NULL,
			filter text,
			via text,
			log_table text NOT NULL,
			rows_copied bigint NOT NULL DEFAULT 0,
			copy_snapshot text,
			copied_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (scenario, table_name))`)
}

// metaInstalled reports whether the scenario tables exist.
func (m *Manager) metaInstalled(ctx context.Context, q querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, m.st("scenario_table")).Scan(&ok)
	return ok, err
}

// querier is a transaction: every read and write of a scenario runs in one.
type querier = pgx.Tx

// load reads one scenario's metadata (nil when it does not exist), with
// live sizes and members.
func (m *Manager) load(ctx context.Context, q querier, name string) (*Scenario, error) {
	all, err := m.loadAll(ctx, q, name, loadSizes|loadCounts)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[0], nil
}

// What loadAll reads besides the metadata.
const (
	loadSizes     = 1 << iota // each copy's live size
	loadCounts                // each change log's exact row count
	loadMetaKnown             // the metadata tables exist: do not check
)

// loadAll reads the scenarios (only one when only is not ""), with what
// the flags ask for.
func (m *Manager) loadAll(ctx context.Context, q querier, only string, flags int) ([]*Scenario, error) {
	if flags&loadMetaKnown == 0 {
		ok, err := m.metaInstalled(ctx, q)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
	}
	// The scenarios and their tables: two queries in one round trip.
	var names []string
	if only != "" {
		names = []string{only}
	}
	b := &pgx.Batch{}
	m.queueLoad(b, names, flags)
	br := q.SendBatch(ctx, b)
	out, err := m.readLoad(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read metadata: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	if flags&loadCounts == 0 {
		return out, nil
	}
	// The change counts: exact, from the logs (small).
	for _, s := range out {
		for i := range s.Tables {
			t := &s.Tables[i]
			var n int64
			err := q.QueryRow(ctx, `SELECT count(*) FROM `+pgquery.Qual(s.Schema, t.logTable)).Scan(&n)
			if err == nil {
				t.Changed = n
			} else {
				t.Changed = 0
				if s.State == StateReady {
					return nil, fmt.Errorf("scenario %s: read the change log of %s: %w", s.Name, t.Name, err)
				}
			}
		}
	}
	return out, nil
}

// queueLoad queues the two queries of the scenarios named (nil: all) and
// their tables, for readLoad; flags&loadSizes adds each copy's live size.
func (m *Manager) queueLoad(b *pgx.Batch, names []string, flags int) {
	sizes := `0::bigint, 0::bigint`
	if flags&loadSizes != 0 {
		sizes = `coalesce(pg_total_relation_size(to_regclass(quote_ident(s.schema_name) || '.' || quote_ident(t.table_name))), 0),
			coalesce((SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = to_regclass(quote_ident(s.schema_name) || '.' || quote_ident(t.log_table))), 0)`
	}
	b.Queue(`SELECT s.name, s.schema_name, s.role_name, s.base_schema, s.state, s.parent_state, s.where_expr,
			s.logged, s.created_at, coalesce(s.copy_snapshot, ''),
			coalesce((SELECT array_agg(m.rolname::text ORDER BY m.rolname) FROM pg_auth_members a
				JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member WHERE r.rolname = s.role_name), '{}')
		FROM `+m.st("scenario")+` s WHERE $1::text[] IS NULL OR s.name = ANY ($1) ORDER BY s.name`, names)
	b.Queue(`SELECT t.scenario, t.table_name, t.filter, coalesce(t.via, ''), t.rows_copied, t.copied_at,
			coalesce(t.copy_snapshot, ''), t.log_table, `+sizes+`
		FROM `+m.st("scenario_table")+` t JOIN `+m.st("scenario")+` s ON s.name = t.scenario
		WHERE $1::text[] IS NULL OR t.scenario = ANY ($1) ORDER BY t.scenario, t.position`, names)
}

// readLoad reads the results of queueLoad's queries.
func (m *Manager) readLoad(br pgx.BatchResults) ([]*Scenario, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	var out []*Scenario
	byName := map[string]*Scenario{}
	for rows.Next() {
		s := &Scenario{}
		if err := rows.Scan(&s.Name, &s.Schema, &s.Role, &s.BaseSchema, &s.State, &s.ParentState, &s.Where,
			&s.Logged, &s.CreatedAt, &s.CopyXID, &s.Members); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		out = append(out, s)
		byName[s.Name] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sc string
		var t Table
		if err := rows.Scan(&sc, &t.Name, &t.Filter, &t.Via, &t.RowsCopied, &t.CopiedAt, &t.CopyXID, &t.logTable, &t.Bytes, &t.Changed); err != nil {
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		if s := byName[sc]; s != nil {
			s.Tables = append(s.Tables, t)
			s.Rows += t.RowsCopied
			s.Bytes += t.Bytes
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	return out, nil
}

// List returns every scenario.
func (m *Manager) List(ctx context.Context) ([]*Scenario, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var out []*Scenario
	err = m.readTx(ctx, conn, func(tx pgx.Tx) error {
		out, err = m.loadAll(ctx, tx, "", loadSizes|loadCounts)
		return err
	})
	return out, err
}

// Show returns one scenario.
func (m *Manager) Show(ctx context.Context, name string) (*Scenario, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var s *Scenario
	err = m.readTx(ctx, conn, func(tx pgx.Tx) error {
		s, err = m.mustLoad(ctx, tx, name)
		return err
	})
	return s, err
}

func (m *Manager) mustLoad(ctx context.Context, q querier, name string) (*Scenario, error) {
	return m.mustLoadWith(ctx, q, name, m.load)
}

func (m *Manager) mustLoadWith(ctx context.Context, q querier, name string, load func(context.Context, querier, string) (*Scenario, error)) (*Scenario, error) {
	s, err := load(ctx, q, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w %q\nhint: strata scenario list shows the scenarios", ErrNotFound, name)
	}
	return s, nil
}

// readTxStatements is how many statements readTxSQL returns.
const readTxStatements = 4

// readTxSQL begins strata's read-only transactions and sets them up.
func (m *Manager) readTxSQL() []string {
	return []string{"BEGIN READ ONLY", "SET LOCAL statement_timeout = 0", "SET LOCAL jit = off", "SET LOCAL search_path = " + pgquery.Ident(m.opts.Schema)}
}

// queueReadTx queues readTxSQL's statements, to begin the transaction in
// the same round trip as the first queries.
func (m *Manager) queueReadTx(b *pgx.Batch) {
	for _, s := range m.readTxSQL() {
		b.Queue(s)
	}
}

// readTx runs fn in a read-only transaction (rolled back).
func (m *Manager) readTx(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	// No JIT: diff's lookups are many cheap index probes whose summed cost
	// estimate would trigger a compilation costing more than the query.
	// The settings go with BEGIN: one round trip.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{BeginQuery: strings.Join(m.readTxSQL(), "; ")})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(tx)
}

// phaseInProgress returns the migrations of the phase in progress in the
// managed schema ("" when none).
func (m *Manager) phaseInProgress(ctx context.Context, q querier) (string, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, m.st("phase")).Scan(&ok); err != nil || !ok {
		return "", err
	}
	var migs string
	err := q.QueryRow(ctx, `SELECT state || ' ' || migrations::text FROM `+m.st("phase")+` WHERE schema_name = $1`, m.opts.Schema).Scan(&migs)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return migs, err
}

// parentState is the latest completed migration of the managed schema.
func (m *Manager) parentState(ctx context.Context, q querier) (*string, string, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, m.st("history")).Scan(&ok); err != nil || !ok {
		return nil, "", err
	}
	var name, vs string
	err := q.QueryRow(ctx, `SELECT name, coalesce(version_schema, '') FROM `+m.st("history")+`
		WHERE schema_name = $1 AND completed_at IS NOT NULL ORDER BY completed_at DESC, name DESC LIMIT 1`, m.opts.Schema).Scan(&name, &vs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	// The version schema exists only if it is still there.
	var exists bool
	if vs != "" {
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, vs).Scan(&exists); err != nil {
			return nil, "", err
		}
	}
	if !exists {
		vs = ""
	}
	return &name, vs, nil
}
