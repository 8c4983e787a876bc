package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/migration"
)

// Reshape-style version schemas (issue 19): a client of Reshape's helper
// libraries computes its schema from the migrations folder and runs
// exactly `SET search_path TO migration_<name>`, nothing else. With
// VersionSchemaStyle reshape it reads and writes every table through that
// schema alone.

const helperDir = "testdata/reshapehelper/fixtures"

// TestReshapeHelperFixturesVendored: the vendored fixtures are the peer
// corpus's, byte for byte (when the corpus is there: CI has no ../shared).
func TestReshapeHelperFixturesVendored(t *testing.T) {
	corpus := filepath.Join("..", "..", "shared", "peer-corpus", "reshape", "helper-fixtures")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("no peer corpus at %s", corpus)
	}
	list := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	have, ref := list(helperDir), list(corpus)
	if len(have) != len(ref) {
		t.Errorf("vendored %d files, the corpus has %d", len(have), len(ref))
	}
	for name, b := range ref {
		if !bytes.Equal(have[name], b) {
			t.Errorf("%s: the vendored copy differs from the peer corpus", name)
		}
	}
}

// helperMigs builds the migrations of fixture folders: each fixture file
// with the archive's actions for it appended, loaded and validated for
// the Reshape style.
func helperMigs(t *testing.T, fx *fixture, folders ...string) []*migration.Migration {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, folder := range folders {
		ents, err := os.ReadDir(filepath.Join(helperDir, folder))
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range ents {
			data, err := os.ReadFile(filepath.Join(helperDir, folder, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			data = append(append(data, '\n'), fx.file("actions/"+folder+"/"+ent.Name())...)
			fsys["migrations/"+ent.Name()] = &fstest.MapFile{Data: data}
		}
	}
	migs, err := migration.Load(fsys, "migrations")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	for _, m := range migs {
		if err := m.ValidateWith(migration.ValidateOptions{Schema: "public", StateSchema: "strata", Style: migration.StyleReshape}); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}
	return migs
}

func reshapeStyle(o *engine.Options) { o.VersionSchemaStyle = migration.StyleReshape }

// helperStatement is what a Reshape helper runs for migs: the statement
// of the schema strata computes from the folder.
func helperStatement(t *testing.T, m *engine.Migrator, migs []*migration.Migration) string {
	t.Helper()
	l, err := m.LatestFromFolder(migs)
	if err != nil {
		t.Fatal(err)
	}
	return "SET search_path TO " + l.VersionSchema
}

// TestReshapeHelperSchemaNames: the schema strata computes from each
// fixture folder is the one the helper libraries' tests expect (two
// folders together: the latest file of both).
func TestReshapeHelperSchemaNames(t *testing.T) {
	fx := loadFixture(t, "reshapehelper/reshape_style")
	m, err := engine.New("", engine.Options{VersionSchemaStyle: migration.StyleReshape})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		folders []string
	}{
		{"migrations-1", []string{"migrations-1"}},
		{"migrations-1-and-2", []string{"migrations-1", "migrations-2"}},
		{"custom-migration-name", []string{"custom-migration-name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := helperStatement(t, m, helperMigs(t, fx, tc.folders...))
			if want := fx.text("want/helper/" + tc.name); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// rwTable is one table as a version sees it: a text column to write.
type rwTable struct{ table, col string }

var (
	oldTables = []rwTable{{"orders", "total::text"}, {"tags", "label"}, {"users", "name"}}
	newTables = []rwTable{{"items", "title"}, {"orders", "note"}, {"tags", "label"}, {"users", "full_name"}}
)

// helperClient connects as the app's login role (no superuser) and runs
// the helper's statement, nothing else.
func helperClient(t *testing.T, e *env, connect func(app, searchPath string) *pgx.Conn, statement string) *pgx.Conn {
	t.Helper()
	conn := connect("reshape-helper", "")
	exec(t, e.ctx, conn, statement)
	vs := strings.TrimPrefix(statement, "SET search_path TO ")
	want(t, "the helper's search_path alone", []string{"{" + vs + "}"}, queryStrings(t, e.ctx, conn, "SELECT current_schemas(false)::text"))
	return conn
}

// readWriteEvery inserts, updates, reads and deletes a row of every table
// through conn, and leaves one row written by tag.
func readWriteEvery(t *testing.T, e *env, conn *pgx.Conn, tables []rwTable, tag string) {
	t.Helper()
	for _, tb := range tables {
		col := strings.TrimSuffix(tb.col, "::text")
		val := func(v string) string {
			if col == "total" {
				return fmt.Sprint(len(v))
			}
			return "'" + v + "'"
		}
		var id int64
		if err := conn.QueryRow(e.ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING id", tb.table, col, val(tag+"-tmp"))).Scan(&id); err != nil {
			t.Fatalf("%s: insert into %s: %v", tag, tb.table, err)
		}
		exec(t, e.ctx, conn, fmt.Sprintf("UPDATE %s SET %s = %s WHERE id = $1", tb.table, col, val(tag+"-updated")), id)
		want(t, tag+": read back "+tb.table, []string{strings.Trim(val(tag+"-updated"), "'")},
			queryStrings(t, e.ctx, conn, fmt.Sprintf("SELECT %s FROM %s WHERE id = $1", tb.col, tb.table), id))
		exec(t, e.ctx, conn, fmt.Sprintf("DELETE FROM %s WHERE id = $1", tb.table), id)
		exec(t, e.ctx, conn, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", tb.table, col, val(tag)))
		want(t, tag+": "+tb.table+" holds the kept row", []string{"1"},
			queryStrings(t, e.ctx, conn, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = %s", tb.table, col, val(tag))))
	}
}

// viewsOf lists the views of schema vs.
func viewsOf(t *testing.T, e *env, vs string) []string {
	t.Helper()
	return queryStrings(t, e.ctx, e.catalogConn(), `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'v' ORDER BY 1`, vs)
}

// TestReshapeHelperLifecycle: the fixture folder migrations-1 (1, 3 and
// 10_test_migration) in Reshape style. 1 and 3 are completed one phase
// each; then 10 renames users.name, adds orders.note and creates items.
// While the phase is open, a helper client of each version (its folder
// without and with 10) reads and writes every table through its schema
// alone, and each sees the other's rows; after complete the new version's
// schema keeps a view of every table (and a .sql migration's new table
// gets one); after abort the new schema is gone and the old one works.
func TestReshapeHelperLifecycle(t *testing.T) {
	fx := loadFixture(t, "reshapehelper/reshape_style")
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, "", reshapeStyle)
		connect := appRole(t, e)
		role := pgx.Identifier{e.db.Name + "_app"}.Sanitize()
		exec(t, e.ctx, e.catalogConn(), "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+role+
			"; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO "+role)
		migs := helperMigs(t, fx, "migrations-1")
		names := []string{}
		for _, m := range migs {
			names = append(names, m.Name)
		}
		want(t, "order", []string{"1_test_migration", "3_test_migration", "10_test_migration"}, names)

		for i := 1; i <= 2; i++ {
			res := e.start(migs[:i])
			if want := "migration_" + migs[i-1].Name; res.VersionSchema != want {
				t.Fatalf("version schema %q, want %q", res.VersionSchema, want)
			}
			e.complete()
		}
		oldStmt := helperStatement(t, e.m, migs[:2])
		newStmt := helperStatement(t, e.m, migs)
		want(t, "the old helper's statement", []string{"SET search_path TO migration_3_test_migration"}, []string{oldStmt})
		want(t, "the new helper's statement", []string{fx.text("want/helper/migrations-1")}, []string{newStmt})
		want(t, "the completed schema keeps a view of every table", []string{"orders", "tags", "users"}, viewsOf(t, e, "migration_3_test_migration"))

		oldConn := helperClient(t, e, connect, oldStmt)
		readWriteEvery(t, e, oldConn, oldTables, "before")

		res := e.start(migs)
		if res.VersionSchema != "migration_10_test_migration" {
			t.Fatalf("version schema %q", res.VersionSchema)
		}
		want(t, "the new schema has a view of every table", []string{"items", "orders", "tags", "users"}, viewsOf(t, e, res.VersionSchema))
		newConn := helperClient(t, e, connect, newStmt)
		readWriteEvery(t, e, newConn, newTables, "new")
		readWriteEvery(t, e, oldConn, oldTables, "old")
		// Each version sees the other's rows under its own names.
		want(t, "old version reads the new version's user", []string{"1"}, queryStrings(t, e.ctx, oldConn, "SELECT count(*) FROM users WHERE name = 'new'"))
		want(t, "new version reads the old version's user", []string{"1"}, queryStrings(t, e.ctx, newConn, "SELECT count(*) FROM users WHERE full_name = 'old'"))
		want(t, "new version reads the old version's order with its default note", []string{"none"},
			queryStrings(t, e.ctx, newConn, "SELECT note FROM orders WHERE total = 3"))

		if path == "abort" {
			e.abort()
			e.assertClean("")
			if got := e.schemas(); strings.Contains(strings.Join(got, " "), "migration_10") {
				t.Errorf("abort left the new schema: %v", got)
			}
			again := helperClient(t, e, connect, oldStmt)
			readWriteEvery(t, e, again, oldTables, "after-abort")
			want(t, "the old schema is as before", []string{"orders", "tags", "users"}, viewsOf(t, e, "migration_3_test_migration"))
			return
		}
		e.complete()
		e.assertClean("")
		if got := e.schemas(); strings.Contains(strings.Join(got, " "), "migration_3_") {
			t.Errorf("complete left the old schema: %v", got)
		}
		want(t, "after complete the schema keeps a view of every table", []string{"items", "orders", "tags", "users"}, viewsOf(t, e, "migration_10_test_migration"))
		again := helperClient(t, e, connect, newStmt)
		readWriteEvery(t, e, again, newTables, "after")
		want(t, "rows of both versions", []string{"after", "before", "new", "old"},
			queryStrings(t, e.ctx, again, "SELECT full_name FROM users ORDER BY 1"))

		// A .sql migration that adds a table: the helper's schema (the
		// latest .toml's) gets a view of it.
		sqlMig, err := migration.ParseSQL("11_notes.sql", []byte(fx.file("notes.sql")))
		if err != nil {
			t.Fatal(err)
		}
		all := append(append([]*migration.Migration(nil), migs...), sqlMig)
		if got := helperStatement(t, e.m, all); got != newStmt {
			t.Fatalf("a .sql migration changed the helper's statement: %q", got)
		}
		if _, err := e.m.Migrate(e.ctx, all); err != nil {
			t.Fatalf("migrate the .sql file: %v", err)
		}
		want(t, "the .sql migration's table has its view", []string{"items", "notes", "orders", "tags", "users"}, viewsOf(t, e, "migration_10_test_migration"))
		readWriteEvery(t, e, again, []rwTable{{"notes", "body"}}, "sql")
		want(t, "the view has the table's default", []string{"empty"},
			queryStrings(t, e.ctx, again, "INSERT INTO notes DEFAULT VALUES RETURNING body"))
		// A .sql migration that drops a column a view uses, with CASCADE:
		// the table's view is made again, with the table's columns now.
		retag, err := migration.ParseSQL("12_retag.sql", []byte(fx.file("retag.sql")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Migrate(e.ctx, append(all, retag)); err != nil {
			t.Fatalf("migrate the .sql file: %v", err)
		}
		want(t, "the views after the drop", []string{"items", "notes", "orders", "tags", "users"}, viewsOf(t, e, "migration_10_test_migration"))
		readWriteEvery(t, e, again, []rwTable{{"tags", "name"}}, "retag")
		l, err := e.m.LatestFromDatabase(context.Background())
		if err != nil || l == nil || l.VersionSchema != "migration_10_test_migration" || l.Source != "history" || l.Style != migration.StyleReshape {
			t.Errorf("latest from the database: %+v, %v", l, err)
		}
	})
}
