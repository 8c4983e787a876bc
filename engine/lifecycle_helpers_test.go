package engine_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/migration"
)

// Shared helpers of the lifecycle tests (lifecycle_*_test.go): a started
// phase with one connection per app version, and the checks every phase
// ends with.

// bothPaths runs body once ending in complete and once ending in abort, each
// in its own subtest (and so its own database).
func bothPaths(t *testing.T, body func(t *testing.T, path string)) {
	t.Helper()
	for _, path := range []string{"complete", "abort"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			body(t, path)
		})
	}
}

// phase is a started expand phase with a connection for each app version.
type phase struct {
	t      *testing.T
	e      *env
	schema string // managed schema
	prev   string // old version schema; "" for the base tables
	res    *engine.StartResult
	before string // catalog snapshot of the managed schema before start
	old    *pgx.Conn
	new    *pgx.Conn
}

// begin snapshots the managed schema, starts migs and opens one connection
// per version. prev is the old version's schema ("" for the base tables).
func begin(t *testing.T, e *env, schema, prev string, migs []*migration.Migration) *phase {
	t.Helper()
	if schema == "" {
		schema = "public"
	}
	p := &phase{t: t, e: e, schema: schema, prev: prev}
	p.before = e.snapshot(schema)
	p.res = e.start(migs)
	p.old = pathConn(t, e, prev, schema)
	p.new = pathConn(t, e, p.res.VersionSchema, schema)
	return p
}

// pathConn opens a connection whose search_path is "first, managed" (just
// "managed" when first is ""), set through the startup option
// options=-c search_path=..., as an app behind a pooler would. Unlike
// versionConn it quotes the names, so mixed-case names and names with
// spaces work.
func pathConn(t *testing.T, e *env, first, managed string) *pgx.Conn {
	t.Helper()
	var names []string
	if first != "" {
		names = append(names, first)
	}
	names = append(names, managed)
	var parts []string
	for _, n := range names {
		// Inside the options string a space must be escaped with a backslash.
		parts = append(parts, strings.ReplaceAll(pgx.Identifier{n}.Sanitize(), " ", `\ `))
	}
	conn, err := pgx.Connect(e.ctx, withOption(t, e.db.URL, "-c search_path="+strings.Join(parts, ",")))
	if err != nil {
		t.Fatalf("connect with search_path %v: %v", names, err)
	}
	t.Cleanup(func() { conn.Close(e.ctx) })
	var got string
	if err := conn.QueryRow(e.ctx, "SELECT array_to_string(current_schemas(false), ',')").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != strings.Join(names, ",") {
		t.Fatalf("search_path of the %v connection is %q", names, got)
	}
	return conn
}

// namedConn is a version's connection with a name for messages.
type namedConn struct {
	name string
	c    *pgx.Conn
}

// both is the old and the new version's connections.
func (p *phase) both() []namedConn { return []namedConn{{"old", p.old}, {"new", p.new}} }

// q runs a query on conn and returns its rows as strings.
func (p *phase) q(conn *pgx.Conn, sql string, args ...any) []string {
	p.t.Helper()
	return queryStrings(p.t, p.e.ctx, conn, sql, args...)
}

// one runs a query that returns exactly one row.
func (p *phase) one(conn *pgx.Conn, sql string, args ...any) string {
	p.t.Helper()
	rows := queryStrings(p.t, p.e.ctx, conn, sql, args...)
	if len(rows) != 1 {
		p.t.Fatalf("%s: want one row, got %v", sql, rows)
	}
	return rows[0]
}

// exec runs SQL on conn, failing the test on error.
func (p *phase) exec(conn *pgx.Conn, sql string, args ...any) {
	p.t.Helper()
	exec(p.t, p.e.ctx, conn, sql, args...)
}

// notNull is the SQLSTATE of a NULL written into a column that start made
// NOT NULL: its NOT VALID check's check_violation before PostgreSQL 18, a
// not_null_violation on 18, where the constraint is a NOT NULL one.
func (p *phase) notNull() string {
	p.t.Helper()
	if pgtest.ServerMajor(p.t) >= 18 {
		return "23502"
	}
	return "23514"
}

// fails runs SQL that must fail with the given SQLSTATE.
func (p *phase) fails(conn *pgx.Conn, code, sql string, args ...any) {
	p.t.Helper()
	expectCode(p.t, conn, p.e, code, sql, args...)
}

func expectCode(t *testing.T, conn *pgx.Conn, e *env, code, sql string, args ...any) {
	t.Helper()
	_, err := conn.Exec(e.ctx, sql, args...)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		t.Errorf("%s: succeeded, want error %s", sql, code)
	case !errors.As(err, &pgErr):
		t.Errorf("%s: %v, want error %s", sql, err, code)
	case pgErr.Code != code:
		t.Errorf("%s: error %s (%s), want %s", sql, pgErr.Code, pgErr.Message, code)
	}
}

// want compares rows.
func want(t *testing.T, what string, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// complete completes the phase and checks that nothing temporary is left,
// that the old version schema is gone and the new one is there.
func (p *phase) complete() {
	p.t.Helper()
	p.e.complete()
	p.e.assertClean("")
	schemas := p.e.schemas()
	if p.prev != "" && slices.Contains(schemas, p.prev) {
		p.t.Errorf("old version schema %q still exists after complete: %v", p.prev, schemas)
	}
	if !slices.Contains(schemas, p.res.VersionSchema) {
		p.t.Errorf("new version schema %q is missing after complete: %v", p.res.VersionSchema, schemas)
	}
}

// abort aborts the phase and checks that the catalog of the managed schema
// is as it was before start, that nothing temporary is left, that the new
// version schema is gone and that the old one is still there.
func (p *phase) abort() {
	p.t.Helper()
	p.e.abort()
	if diff := cmp.Diff(p.before, p.e.snapshot(p.schema)); diff != "" {
		p.t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
	}
	p.e.assertClean("")
	schemas := p.e.schemas()
	if slices.Contains(schemas, p.res.VersionSchema) {
		p.t.Errorf("new version schema %q still exists after abort: %v", p.res.VersionSchema, schemas)
	}
	if p.prev != "" && !slices.Contains(schemas, p.prev) {
		p.t.Errorf("old version schema %q is gone after abort: %v", p.prev, schemas)
	}
}

// catalogConns holds one plain connection per env for catalog queries.
var catalogConns sync.Map // *env -> *pgx.Conn

// catalogConn is a plain connection (default search_path) for catalog
// queries, opened once per env.
func (e *env) catalogConn() *pgx.Conn {
	e.t.Helper()
	if c, ok := catalogConns.Load(e); ok {
		return c.(*pgx.Conn)
	}
	c := e.db.Conn(e.t)
	catalogConns.Store(e, c)
	e.t.Cleanup(func() { catalogConns.Delete(e) })
	return c
}

// columnsQuery describes the columns of a relation, one row per column in
// attnum order: name, type, "not null", default (white space collapsed),
// identity, generated and comment.
const columnsQuery = `
SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
    || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
    || CASE WHEN a.attgenerated <> '' THEN ' generated ' || pg_get_expr(d.adbin, d.adrelid)
            ELSE coalesce(' default ' || btrim(regexp_replace(pg_get_expr(d.adbin, d.adrelid), '\s+', ' ', 'g')), '') END
    || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
    || coalesce(' comment ' || quote_literal(col_description(a.attrelid, a.attnum)), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

// columns describes the columns of schema.rel (a table or a view), see
// columnsQuery. Defaults are printed as seen with search_path public.
func (e *env) columns(schema, rel string) []string {
	e.t.Helper()
	return queryStrings(e.t, e.ctx, e.catalogConn(), columnsQuery, schema, rel)
}

// columnNames lists the column names of schema.rel in attnum order.
func (e *env) columnNames(schema, rel string) []string {
	e.t.Helper()
	return queryStrings(e.t, e.ctx, e.catalogConn(), `SELECT a.attname FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, schema, rel)
}

// relations lists the relations (name and kind) of a schema.
func (e *env) relations(schema string) []string {
	e.t.Helper()
	return queryStrings(e.t, e.ctx, e.catalogConn(), `SELECT c.relname || ' ' || c.relkind::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'p') ORDER BY c.relname COLLATE "C"`, schema)
}

// relfilenode is the file node of schema.rel: it changes when the table is
// rewritten.
func (e *env) relfilenode(schema, rel string) string {
	e.t.Helper()
	rows := queryStrings(e.t, e.ctx, e.catalogConn(), `SELECT c.relfilenode::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, schema, rel)
	if len(rows) != 1 {
		e.t.Fatalf("relfilenode of %s.%s: %v", schema, rel, rows)
	}
	return rows[0]
}

// startFails runs start, which must fail with an error that errors.Is
// engine.ErrInvalid and mentions every one of the given fragments, and
// checks that the database was not touched.
func startFails(t *testing.T, e *env, schema string, migs []*migration.Migration, fragments ...string) {
	t.Helper()
	before := e.snapshot()
	_, err := e.m.Start(e.ctx, migs)
	if err == nil {
		t.Fatalf("start succeeded, want an error mentioning %q", fragments)
	}
	if !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("start error %v is not engine.ErrInvalid", err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("start error %q does not mention %q", err, f)
		}
	}
	if diff := cmp.Diff(before, e.snapshot()); diff != "" {
		t.Errorf("refused start changed the catalog (-before +after):\n%s", diff)
	}
	e.assertClean("")
	st, err := e.m.Status(e.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "idle" {
		t.Errorf("status after a refused start is %q, want idle", st.State)
	}
}

// asView is what columns (as e.columns prints a table's) look like on a
// view over the table: the same, except that views have no NOT NULL.
func asView(cols ...[]string) []string {
	var out []string
	for _, cs := range cols {
		for _, c := range cs {
			out = append(out, strings.Replace(c, " not null", "", 1))
		}
	}
	return out
}

// seenColumns describes the columns of the relation rel resolves to for a
// client whose search_path is "vs, managed": the version schema's view when
// it has one, the table otherwise (a version schema holds views only for
// tables whose shape differs in that version).
func (e *env) seenColumns(vs, managed, rel string) []string {
	e.t.Helper()
	if slices.Contains(e.relations(vs), rel+" v") {
		return e.columns(vs, rel)
	}
	return e.columns(managed, rel)
}
