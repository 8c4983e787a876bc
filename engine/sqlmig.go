package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/planner"
	"github.com/stratapg/strata/sqlrun"
	"github.com/stratapg/strata/state"
)

// ErrChanged is returned by Start and Migrate when a completed migration's
// file changed since it ran (Options.AllowChanged overrides).
var ErrChanged = errors.New("a completed migration's file has changed")

// SQLGate checks .sql migrations before any of them runs (the CLI lints
// them in their real transaction shape); an error refuses them all.
type SQLGate func(migs []*migration.Migration) error

func isSQL(mg *migration.Migration) bool { return mg.Kind == migration.KindSQL }

// leadingSQL splits pend into the .sql migrations before the first
// expand/contract one, and the expand/contract ones that follow (up to the
// next .sql file).
func leadingSQL(pend []*migration.Migration) (sqls, group []*migration.Migration) {
	i := 0
	for i < len(pend) && isSQL(pend[i]) {
		i++
	}
	j := i
	for j < len(pend) && !isSQL(pend[j]) {
		j++
	}
	return pend[:i], pend[i:j]
}

// checkChanged refuses while a completed migration's file changed.
func (m *Migrator) checkChanged(migs []*migration.Migration, hist []state.HistoryEntry) error {
	if m.opts.AllowChanged {
		return nil
	}
	sum := map[string]string{}
	for _, h := range hist {
		sum[h.Name] = h.Checksum
	}
	var changed []string
	for _, mg := range migs {
		if c, ok := sum[mg.Name]; ok && c != mg.Checksum {
			changed = append(changed, mg.File)
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w since it was applied: %s (hint: restore the file, or pass --allow-changed to go on anyway)", ErrChanged, strings.Join(changed, ", "))
	}
	return nil
}

// gate runs Options.SQLGate over the .sql migrations among migs.
func (m *Migrator) gate(migs []*migration.Migration) error {
	var sqls []*migration.Migration
	for _, mg := range migs {
		if isSQL(mg) {
			sqls = append(sqls, mg)
		}
	}
	if len(sqls) == 0 || m.opts.SQLGate == nil {
		return nil
	}
	return m.opts.SQLGate(sqls)
}

// sqlRecorder records one .sql migration in the history.
type sqlRecorder struct {
	m       *Migrator
	st      *state.Store // the session's: writes check its lease
	mg      *migration.Migration
	started time.Time
	begun   bool // the start is recorded (BeginSQL): a no-transaction file of several statements
}

// begins says whether a file's start is recorded before it runs: only a
// no-transaction file of several statements needs it, to resume after the
// statements that ran.
func begins(mg *migration.Migration) bool {
	return mg.SQL.NoTransaction && len(mg.SQL.Statements) > 1
}

func (r sqlRecorder) Progress(ctx context.Context, tx pgx.Tx, done int) error {
	return r.st.SQLProgress(ctx, tx, r.m.opts.Schema, r.mg.Name, done)
}

// Complete records the file (in its own transaction when it has one): one
// write for a file without a start record, else its record is completed.
func (r sqlRecorder) Complete(ctx context.Context, tx pgx.Tx, n int) error {
	if !r.begun {
		return r.st.RecordSQL(ctx, tx, r.m.opts.Schema, r.mg.Name, r.mg.Checksum, Version, n, time.Since(r.started))
	}
	return r.st.CompleteSQL(ctx, tx, r.m.opts.Schema, r.mg.Name, n)
}

// Failed records the failure; a file without a start record (a
// transactional one rolled back with its record) gets one here.
func (r sqlRecorder) Failed(ctx context.Context, conn *pgx.Conn, stmt int, err error) error {
	if !r.begun {
		return r.m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			if _, err := r.st.BeginSQL(ctx, tx, r.m.opts.Schema, r.mg.Name, r.mg.Checksum, Version); err != nil {
				return err
			}
			return r.st.SQLFailed(ctx, tx, r.m.opts.Schema, r.mg.Name, stmt, err.Error())
		})
	}
	return r.st.SQLFailed(ctx, conn, r.m.opts.Schema, r.mg.Name, stmt, err.Error())
}

// runSQL applies one .sql migration and records it.
//
// Round trips per file are what a folder of many small files costs (the
// bench's sql benchmark against goose): a transactional file is one
// transaction (its statements, the leftover check, the version-schema
// refresh and its history record, which checks the lease in the same
// round trip); the state schema is installed and the lease claimed once
// per session; the leftovers known after one file are the "before" of the
// next (sqlrun.Runner).
func (m *Migrator) runSQL(ctx context.Context, s *session, mg *migration.Migration, versionSchema string) error {
	conn := s.conn
	started := time.Now()
	var from int
	// The first file of the session installs (or moves forward) the state
	// schema and claims the lease; once that committed, later files only
	// check the lease in each write (state.Store), as every step does. A
	// no-transaction file of several statements records its start first,
	// to resume after the statements that ran.
	if !s.sqlReady || begins(mg) {
		err := m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			if !s.sqlReady {
				if err := s.st.Init(ctx, tx); err != nil {
					return err
				}
				if err := s.claim(tx); err != nil {
					return err
				}
			}
			if !begins(mg) {
				return nil
			}
			var err error
			from, err = s.st.BeginSQL(ctx, tx, m.opts.Schema, mg.Name, mg.Checksum, Version)
			return err
		})
		if err != nil {
			return err
		}
		s.sqlReady = true
	}
	if from > 0 {
		m.logf("%s: continuing at statement %d (statements 1-%d ran before)", mg.File, from+1, from)
	} else {
		shape := "in one transaction"
		if mg.SQL.NoTransaction {
			shape = "statement by statement, no transaction"
		}
		m.logf("applying %s (%s; lock_timeout %s, statement_timeout 0)", mg.File, shape, m.opts.LockTimeout)
	}
	if s.sqlRunner == nil {
		s.sqlRunner = &sqlrun.Runner{Exec: m.exec, Schema: m.opts.Schema, Logf: m.opts.Logf}
	}
	r := s.sqlRunner
	r.AfterFile = func(ctx context.Context, tx pgx.Tx) error {
		return refreshVersionViews(ctx, tx, m.opts.Schema, versionSchema)
	}
	return r.Run(ctx, conn, mg, from, sqlRecorder{m: m, st: s.st, mg: mg, started: started, begun: begins(mg)})
}

// refreshVersionViews keeps the latest version schema vs right after a .sql
// migration changed tables of schema: a view there gains the columns its
// table gained. Tables without a view (new ones included) are reached
// through the version's search_path, <version schema>, <managed schema>;
// in a Reshape-style version schema (a view of every table, marked by its
// comment) a new table gets its view.
func refreshVersionViews(ctx context.Context, tx pgx.Tx, schema, vs string) error {
	if vs == "" {
		return nil
	}
	var exists bool
	var comment string
	if err := tx.QueryRow(ctx, `SELECT count(*) > 0, coalesce(max(obj_description(oid, 'pg_namespace')), '')
		FROM pg_namespace WHERE nspname = $1`, vs).Scan(&exists, &comment); err != nil || !exists {
		return err
	}
	everyTable := comment == planner.ReshapeSchemaComment
	// Tables of schema, and the view of vs over each (by dependency).
	rows, err := tx.Query(ctx, `
		SELECT t.relname, coalesce(v.relname, ''), coalesce(pg_get_viewdef(v.oid), '')
		FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
		LEFT JOIN LATERAL (
			SELECT DISTINCT vc.oid, vc.relname FROM pg_depend d
			JOIN pg_rewrite rw ON rw.oid = d.objid
			JOIN pg_class vc ON vc.oid = rw.ev_class
			JOIN pg_namespace vn ON vn.oid = vc.relnamespace
			WHERE d.refobjid = t.oid AND d.classid = 'pg_rewrite'::regclass AND vn.nspname = $2 AND vc.relkind = 'v'
		) v ON true
		WHERE tn.nspname = $1 AND t.relkind IN ('r', 'p')
		ORDER BY 1, 2`, schema, vs)
	if err != nil {
		return fmt.Errorf("refresh version schema %s: %w", vs, err)
	}
	type tv struct{ table, view, def string }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tv, error) {
		var x tv
		return x, r.Scan(&x.table, &x.view, &x.def)
	})
	if err != nil {
		return fmt.Errorf("refresh version schema %s: %w", vs, err)
	}
	major := 0 // the server's major version, read when a view changes
	for _, x := range list {
		if x.view == "" && !everyTable {
			// No view: the version reaches the table itself through its
			// search_path (<version schema>, <managed schema>), new tables
			// and new columns included.
			continue
		}
		cols, err := tableColumns(ctx, tx, schema, x.table)
		if err != nil {
			return err
		}
		var sel []string
		if x.view != "" {
			sel, err = viewSelect(x.def)
			if err != nil {
				return fmt.Errorf("refresh version schema %s: view %s: %w", vs, x.view, err)
			}
		}
		have := map[string]bool{}
		for _, s := range sel {
			have[s[:strings.IndexByte(s, '\x00')]] = true
		}
		var out, added []string
		for _, s := range sel {
			phys, name, _ := strings.Cut(s, "\x00")
			if phys == name {
				out = append(out, pgquery.Ident(phys))
			} else {
				out = append(out, pgquery.Ident(phys)+" AS "+pgquery.Ident(name))
			}
		}
		for _, c := range cols {
			if !have[c.name] {
				out = append(out, pgquery.Ident(c.name))
				added = append(added, c.name)
			}
		}
		if len(added) == 0 {
			continue
		}
		view := x.view
		if view == "" {
			view = x.table
		}
		if major == 0 {
			if err := tx.QueryRow(ctx, `SELECT current_setting('server_version_num')::int / 10000`).Scan(&major); err != nil {
				return fmt.Errorf("refresh version schema %s: %w", vs, err)
			}
		}
		stmts := versionViewSQL(major, vs, view, schema, x.table, out, cols, added)
		if x.view == "" {
			v := pgquery.Qual(vs, view)
			stmts = append(stmts, "COMMENT ON VIEW "+v+" IS "+pgquery.Literal(planner.ViewComment(vs)),
				planner.CopyGrantsSQL(v, pgquery.Qual(schema, x.table)))
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("refresh version schema %s: %w", vs, err)
			}
		}
	}
	return nil
}

// versionViewSQL renders the statements that (re)create view vs.view over
// schema.table selecting out, with the defaults of the added columns. Like
// the planner's views, it is security_invoker on PostgreSQL 15+ (older
// servers reject the option; there the view runs with its owner's rights,
// as every version view does).
func versionViewSQL(major int, vs, view, schema, table string, out []string, cols []tcol, added []string) []string {
	v := pgquery.Qual(vs, view)
	with := ""
	if major >= 15 {
		with = " WITH (security_invoker = true)"
	}
	stmts := []string{"CREATE OR REPLACE VIEW " + v + with + " AS SELECT " + strings.Join(out, ", ") + " FROM " + pgquery.Qual(schema, table)}
	for _, c := range cols {
		if c.def != "" && contains(added, c.name) {
			stmts = append(stmts, "ALTER VIEW "+v+" ALTER COLUMN "+pgquery.Ident(c.name)+" SET DEFAULT "+c.def)
		}
	}
	return stmts
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

type tcol struct{ name, def string }

func tableColumns(ctx context.Context, tx pgx.Tx, schema, table string) ([]tcol, error) {
	rows, err := tx.Query(ctx, `SELECT a.attname, coalesce(pg_get_expr(d.adbin, d.adrelid), '')
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.attgenerated = ''
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, pgquery.Qual(schema, table))
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (tcol, error) {
		var c tcol
		return c, r.Scan(&c.name, &c.def)
	})
}

// viewSelect reads a version view's definition (SELECT col [AS name], ...
// FROM table) as "phys\x00name" pairs.
func viewSelect(def string) ([]string, error) {
	n, err := pgquery.ParseOne(strings.TrimSuffix(strings.TrimSpace(def), ";"))
	if err != nil {
		return nil, err
	}
	sel := n.GetSelectStmt()
	if sel == nil {
		return nil, fmt.Errorf("not a SELECT")
	}
	var out []string
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, fmt.Errorf("unexpected select list")
		}
		phys, ok := pgquery.ColumnRefName(rt.Val)
		if !ok {
			return nil, fmt.Errorf("a select item is not a column")
		}
		name := rt.Name
		if name == "" {
			name = phys
		}
		out = append(out, phys+"\x00"+name)
	}
	return out, nil
}

// HistoryItem is one entry of the history with how its file stands now.
type HistoryItem struct {
	state.HistoryEntry
	// File is "ok", "changed" (the checksum differs) or "missing"; a run
	// that failed is "failed". (strata history without a migrations folder
	// says "unknown" instead of "missing".)
	File string `json:"file"`
	// DurationSeconds is how long the migration ran (nil when unknown).
	DurationSeconds *float64 `json:"duration_seconds"`
}

// History lists the history, oldest first, comparing each completed
// migration with its file among migs. It takes no lock and changes nothing.
func (m *Migrator) History(ctx context.Context, migs []*migration.Migration) ([]HistoryItem, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	ok, err := m.store.Installed(ctx, conn)
	if err != nil || !ok {
		return []HistoryItem{}, err
	}
	all, err := m.store.AllHistory(ctx, conn, m.opts.Schema)
	if err != nil {
		return nil, err
	}
	byName := map[string]*migration.Migration{}
	for _, mg := range migs {
		byName[mg.Name] = mg
	}
	out := make([]HistoryItem, 0, len(all))
	for _, h := range all {
		it := HistoryItem{HistoryEntry: h, File: "ok"}
		if h.DurationMS != nil {
			d := float64(*h.DurationMS) / 1000
			it.DurationSeconds = &d
		}
		mg := byName[h.Name]
		switch {
		case !h.Completed():
			it.File = "failed"
		case mg == nil:
			it.File = "missing"
		case mg.Checksum != h.Checksum:
			it.File = "changed"
		}
		out = append(out, it)
	}
	return out, nil
}
