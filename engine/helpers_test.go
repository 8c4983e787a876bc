package engine_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/migration"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is one test's database and Migrator.
type env struct {
	t   *testing.T
	db  *pgtest.DB
	ctx context.Context
	m   *engine.Migrator
}

// newEnv creates a database, runs setup SQL in it, runs strata init, and
// returns a Migrator on it. opts may adjust the Migrator's options.
func newEnv(t *testing.T, setup string, opts ...func(*engine.Options)) *env {
	t.Helper()
	db := pgtest.New(t)
	if setup != "" {
		db.Exec(t, setup)
	}
	o := engine.Options{LockTimeout: 2 * time.Second, BatchSize: 100, BatchTarget: -1, Logf: t.Logf}
	for _, f := range opts {
		f(&o)
	}
	m, err := engine.New(db.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, ctx: ctx, m: m}
}

// migs parses migration files given as name, content, name, content, ...
// and validates them for the schema.
func (e *env) migs(schema string, nameContent ...string) []*migration.Migration {
	e.t.Helper()
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(nameContent); i += 2 {
		fsys["migrations/"+nameContent[i]] = &fstest.MapFile{Data: []byte(nameContent[i+1])}
	}
	if schema == "" {
		schema = "public"
	}
	out, err := migration.Load(fsys, "migrations")
	if err != nil {
		e.t.Fatalf("load migrations: %v", err)
	}
	for _, m := range out {
		if err := m.Validate(schema); err != nil {
			e.t.Fatalf("validate: %v", err)
		}
	}
	return out
}

func (e *env) start(migs []*migration.Migration) *engine.StartResult {
	e.t.Helper()
	res, err := e.m.Start(e.ctx, migs)
	if err != nil {
		e.t.Fatalf("start: %v", err)
	}
	return res
}

func (e *env) complete() {
	e.t.Helper()
	if _, err := e.m.Complete(e.ctx); err != nil {
		e.t.Fatalf("complete: %v", err)
	}
}

func (e *env) abort() {
	e.t.Helper()
	if _, err := e.m.Abort(e.ctx); err != nil {
		e.t.Fatalf("abort: %v", err)
	}
}

// versionConn opens a connection that is the given app version: its
// search_path names the version schema first, set through the startup
// option options=-c search_path=..., as an app behind a pooler would.
// schema "" means a client of the base tables (the old version).
func (e *env) versionConn(schema, managed string) *pgx.Conn {
	e.t.Helper()
	u := e.db.URL
	if schema != "" {
		u = withOption(e.t, u, "-c search_path="+schema+","+managed)
	}
	conn, err := pgx.Connect(e.ctx, u)
	if err != nil {
		e.t.Fatalf("connect as %q: %v", schema, err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func withOption(t *testing.T, connURL, opt string) string {
	t.Helper()
	u, err := url.Parse(connURL)
	if err != nil {
		t.Fatalf("parse %s: %v", connURL, err)
	}
	q := u.Query()
	q.Set("options", opt)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// exec runs SQL on conn and fails the test on error.
func exec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// queryStrings returns the rows of a query as strings (each row's columns
// joined by "|", NULL as "NULL").
func queryStrings(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("query %q: %v", sql, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = strings.TrimSpace(fmtValue(v))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return out
}

// snapshot is the catalog of the given schemas.
func (e *env) snapshot(schemas ...string) string {
	e.t.Helper()
	conn := e.db.Conn(e.t)
	s, err := pgtest.Snapshot(e.ctx, conn, schemas...)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// assertClean fails the test if anything temporary of strata's is left: a
// column or constraint named _strata*, a sync trigger, a function in the
// state schema, or a phase row.
func (e *env) assertClean(stateSchema string) {
	e.t.Helper()
	if stateSchema == "" {
		stateSchema = "strata"
	}
	conn := e.db.Conn(e.t)
	checks := map[string]string{
		// Index columns are left out: PostgreSQL keeps the name a column had
		// when the index was built (an index carried to a shadow column
		// keeps the shadow's name for its column after the rename).
		"temporary columns": `SELECT n.nspname || '.' || c.relname || '.' || a.attname FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE a.attname LIKE '\_strata%' AND NOT a.attisdropped AND a.attnum > 0 AND c.relkind NOT IN ('i', 'I')`,
		"temporary indexes": `SELECT c.relname FROM pg_class c WHERE c.relname LIKE '\_strata%' AND c.relkind IN ('i', 'I')`,
		"temporary sequences and statistics": `SELECT relname FROM pg_class WHERE relname LIKE '\_strata%' AND relkind = 'S'
			UNION ALL SELECT stxname FROM pg_statistic_ext WHERE stxname LIKE '\_strata%'`,
		"temporary constraints": `SELECT conname FROM pg_constraint WHERE conname LIKE '\_strata%'`,
		"sync triggers":         `SELECT tgname FROM pg_trigger WHERE tgname LIKE '\_strata%'`,
		"functions in the state schema": `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = '` + stateSchema + `'`,
		"phase rows":  `SELECT schema_name FROM "` + stateSchema + `".phase`,
		"checkpoints": `SELECT step FROM "` + stateSchema + `".backfill`,
	}
	for what, q := range checks {
		if got := queryStrings(e.t, e.ctx, conn, q); len(got) > 0 {
			e.t.Errorf("left behind: %s: %v", what, got)
		}
	}
}

// schemas lists the non-system schemas.
func (e *env) schemas() []string {
	e.t.Helper()
	conn := e.db.Conn(e.t)
	return queryStrings(e.t, e.ctx, conn, `SELECT nspname FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`)
}

// The tests' inputs live in txtar archives under testdata:
//
//   - testdata/tables/<name>.txtar: a shared starting point: setup.sql
//     creates and fills tables, columns (when there) is the shape of the
//     main table as e.columns prints it, one column a line, and any other
//     file is a migration shared by several tests, referenced by its name;
//   - testdata/<area>/<test>.txtar (or <area>/<test>/<case>.txtar): one
//     test's or one case's inputs: setup.sql (run after the shared tables
//     the test names), migration files under migrations/ (their names are
//     the migrations' names), expected rows under want/, one a line; and,
//     for tests of several cases sharing a database, the same layout under
//     a folder per case.

// fixture is a txtar archive of testdata, or the part of one under a folder.
type fixture struct {
	t     testing.TB
	path  string // the archive's path, plus the folder for a part
	files []txtar.File
}

// archives caches parsed archives by path: the parallel subtests of a test
// share them.
var archives sync.Map // path -> *txtar.Archive

// loadFixture reads testdata/<name>.txtar.
func loadFixture(t testing.TB, name string) *fixture {
	t.Helper()
	path := filepath.Join("testdata", filepath.FromSlash(name)+".txtar")
	ar, ok := archives.Load(path)
	if !ok {
		a, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatalf("test inputs: %v", err)
		}
		ar, _ = archives.LoadOrStore(path, a)
	}
	return &fixture{t: t, path: path, files: ar.(*txtar.Archive).Files}
}

// in is f with the test t: a subtest's view of its parent's fixture.
func (f *fixture) in(t testing.TB) *fixture {
	return &fixture{t: t, path: f.path, files: f.files}
}

// tables returns the setup SQL of the shared archives
// testdata/tables/<name>.txtar, in the order given.
func tables(t testing.TB, names ...string) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		b.WriteString(loadFixture(t, "tables/"+n).file("setup.sql"))
	}
	return b.String()
}

// has reports whether the archive has the named file.
func (f *fixture) has(name string) bool {
	for _, fl := range f.files {
		if fl.Name == name {
			return true
		}
	}
	return false
}

// file returns the content of the named file, failing the test when there
// is no such file.
func (f *fixture) file(name string) string {
	f.t.Helper()
	for _, fl := range f.files {
		if fl.Name == name {
			return string(fl.Data)
		}
	}
	f.t.Fatalf("test inputs: %s has no file %s", f.path, name)
	return ""
}

// text is the named file without its final newline: a one-line value.
func (f *fixture) text(name string) string {
	f.t.Helper()
	return strings.TrimSuffix(f.file(name), "\n")
}

// lines returns the lines of the named file: a list of expected rows.
func (f *fixture) lines(name string) []string {
	f.t.Helper()
	s := f.file(name)
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// setup returns the archive's setup.sql, or "" when it has none.
func (f *fixture) setup() string {
	if !f.has("setup.sql") {
		return ""
	}
	return f.file("setup.sql")
}

// migrations returns the migration files under migrations/ as name,
// content, name, content, ... for env.migs: all of them in the archive's
// order, or the named ones in the order named.
func (f *fixture) migrations(names ...string) []string {
	f.t.Helper()
	var out []string
	if len(names) == 0 {
		for _, fl := range f.files {
			if n, ok := strings.CutPrefix(fl.Name, "migrations/"); ok {
				out = append(out, n, string(fl.Data))
			}
		}
		if len(out) == 0 {
			f.t.Fatalf("test inputs: %s has no migrations/", f.path)
		}
		return out
	}
	for _, n := range names {
		out = append(out, n, f.file("migrations/"+n))
	}
	return out
}

// cases lists the archive's top folders in order: the cases of a test whose
// cases share one archive.
func (f *fixture) cases() []string {
	var out []string
	for _, fl := range f.files {
		if dir, _, ok := strings.Cut(fl.Name, "/"); ok && dir != "migrations" && dir != "want" &&
			(len(out) == 0 || out[len(out)-1] != dir) {
			out = append(out, dir)
		}
	}
	if len(out) == 0 {
		f.t.Fatalf("test inputs: %s has no cases", f.path)
	}
	return out
}

// sub is the part of the archive under the folder dir, names relative to it.
func (f *fixture) sub(dir string) *fixture {
	f.t.Helper()
	s := &fixture{t: f.t, path: f.path + ":" + dir}
	for _, fl := range f.files {
		if n, ok := strings.CutPrefix(fl.Name, dir+"/"); ok {
			s.files = append(s.files, txtar.File{Name: n, Data: fl.Data})
		}
	}
	if len(s.files) == 0 {
		f.t.Fatalf("test inputs: %s has no folder %s", f.path, dir)
	}
	return s
}
