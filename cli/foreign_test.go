package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
)

// run runs strata in-process in dir with args; it returns the exit status,
// stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// fdwRole creates a login role (not a superuser) with a random password,
// dropped at the end of the test (after the databases, which are dropped
// first as their clean-ups were registered later).
func fdwRole(t *testing.T) (name, password string) {
	t.Helper()
	name = fmt.Sprintf("reporting_%d", rand.Uint32())
	password = fmt.Sprintf("pw-%d-secret", rand.Uint64())
	admin, err := pgx.Connect(context.Background(), pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", name, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), pgtest.ServerURL(t))
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP ROLE "+name); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	return name, password
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func query(t *testing.T, db *pgtest.DB, sql string) string {
	t.Helper()
	conn := db.Conn(t)
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var lines []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprint(v))
		}
		lines = append(lines, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	conn.Close(context.Background())
	return strings.Join(lines, "\n")
}

func snapshot(t *testing.T, db *pgtest.DB, schemas ...string) string {
	t.Helper()
	conn := db.Conn(t)
	defer conn.Close(context.Background())
	s, err := pgtest.Snapshot(context.Background(), conn, schemas...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const foreignCols = `SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'f' ORDER BY c.relname, a.attnum`

// TestForeignSyncEndToEnd migrates the application database (a rename, an
// added column, a new table, a dropped table, a new enum used by a column)
// and checks that the reporting schema follows after migrate and after
// complete (after = [...]), that status --check sees the drift, that
// sync --plan lists it and changes nothing, and that a second sync changes
// nothing.
func TestForeignSyncEndToEnd(t *testing.T) {
	role, password := fdwRole(t)
	app := pgtest.New(t)
	rep := pgtest.New(t)
	dir := t.TempDir()
	t.Setenv("DATABASE_URL", "")
	t.Setenv("APP_URL", app.URL)
	t.Setenv("REPORTING_URL", rep.URL)
	t.Setenv("REPORTING_PASSWORD", password)
	writeFile(t, filepath.Join(dir, "strata.toml"), fmt.Sprintf(`
url = "$APP_URL"
dir = "db"

[[foreign]]
name = "app"
into = "${REPORTING_URL}"
schema = "app"
user = %q
password_env = "REPORTING_PASSWORD"
read_only = true
after = ["migrate", "complete"]
`, role))
	writeFile(t, filepath.Join(dir, "db/001_init.toml"), `
[[actions]]
type = "create_table"
name = "customers"
primary_key = ["id"]
columns = [
  { name = "id", type = "bigint" },
  { name = "nick", type = "text" },
]
[[actions]]
type = "create_table"
name = "orders"
primary_key = ["id"]
columns = [
  { name = "id", type = "bigint" },
  { name = "customer_id", type = "bigint" },
  { name = "total", type = "numeric(10,2)" },
]
[[actions]]
type = "create_table"
name = "legacy"
primary_key = ["id"]
columns = [{ name = "id", type = "bigint" }]
`)
	code, out, errOut := run(t, dir, "migrate")
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "foreign app: synced 3 tables") {
		t.Errorf("migrate did not sync: %s", out)
	}
	if got, want := query(t, rep, foreignCols), "customers.id:bigint\ncustomers.nick:text\nlegacy.id:bigint\norders.id:bigint\norders.customer_id:bigint\norders.total:numeric(10,2)"; got != want {
		t.Fatalf("foreign tables after migrate:\n%s\nwant:\n%s", got, want)
	}
	app.Exec(t, "INSERT INTO customers VALUES (1, 'ann'); INSERT INTO orders VALUES (1, 1, 20), (2, 1, 5)")
	if got := query(t, rep, "SELECT nick FROM app.customers"); got != "ann" {
		t.Fatalf("query through the foreign table: %q", got)
	}
	// A local view and grants in the reporting database.
	rep.Exec(t, "CREATE SCHEMA reports; CREATE VIEW reports.big_orders AS SELECT id, total FROM app.orders WHERE total > 10")
	rep.Exec(t, fmt.Sprintf("GRANT SELECT ON reports.big_orders TO %s; GRANT SELECT ON app.orders TO %s", role, role))

	// The second migration, applied without the hook: the reporting schema
	// drifts.
	writeFile(t, filepath.Join(dir, "nohooks.toml"), `url = "$APP_URL"
dir = "db"
[[foreign]]
name = "app"
into = "${REPORTING_URL}"
user = "`+role+`"
password_env = "REPORTING_PASSWORD"
`)
	writeFile(t, filepath.Join(dir, "db/002_change.toml"), `
[[actions]]
type = "alter_column"
table = "customers"
column = "nick"
changes = { name = "name" }
[[actions]]
type = "add_column"
table = "customers"
column = { name = "email", type = "text" }
[[actions]]
type = "create_enum"
name = "mood"
values = ["happy", "sad"]
[[actions]]
type = "create_table"
name = "feedback"
primary_key = ["id"]
columns = [
  { name = "id", type = "bigint" },
  { name = "mood", type = "mood" },
]
[[actions]]
type = "remove_table"
table = "legacy"
`)
	if code, out, errOut := run(t, dir, "--config", "nohooks.toml", "migrate"); code != 0 || strings.Contains(out, "foreign") {
		t.Fatalf("migrate without hooks: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, dir, "foreign", "status", "--check")
	if code != 1 {
		t.Errorf("status --check before the sync: exit %d, want 1\n%s", code, out)
	}
	drift := []string{
		"column added customers.name text (silent)",
		"column added customers.email text (silent)",
		"column dropped customers.nick text (breaking)",
		"table added feedback (silent)",
		"table dropped legacy (breaking)",
	}
	for _, d := range drift {
		if !strings.Contains(out, "    "+d+"\n") {
			t.Errorf("status does not show %q:\n%s", d, out)
		}
	}
	before := snapshot(t, rep, "app", "reports", "public")
	code, out, errOut = run(t, dir, "foreign", "sync", "--plan")
	wantPlan := "foreign app: would change (nothing changed):\n  create type public.mood\n  " + strings.Join(drift, "\n  ") + "\n"
	if code != 0 || out != wantPlan {
		t.Errorf("sync --plan: exit %d\n%s%s\nwant:\n%s", code, out, errOut, wantPlan)
	}
	if after := snapshot(t, rep, "app", "reports", "public"); after != before {
		t.Errorf("sync --plan changed the reporting database")
	}
	code, out, errOut = run(t, dir, "foreign", "sync")
	if code != 0 || !strings.HasPrefix(out, "foreign app: synced 3 tables\n") {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	if got, want := query(t, rep, foreignCols), "customers.id:bigint\ncustomers.name:text\ncustomers.email:text\nfeedback.id:bigint\nfeedback.mood:mood\norders.id:bigint\norders.customer_id:bigint\norders.total:numeric(10,2)"; got != want {
		t.Fatalf("foreign tables after sync:\n%s\nwant:\n%s", got, want)
	}
	app.Exec(t, "INSERT INTO feedback VALUES (1, 'sad')")
	if got := query(t, rep, "SELECT c.name, f.mood FROM app.customers c, app.feedback f"); got != "ann|sad" {
		t.Errorf("query on the new foreign tables: %q", got)
	}
	if got := query(t, rep, "SELECT id, total::text FROM reports.big_orders"); got != "1|20.00" {
		t.Errorf("view after the sync: %q", got)
	}
	if got := query(t, rep, fmt.Sprintf("SELECT has_table_privilege('%s', 'reports.big_orders', 'SELECT'), has_table_privilege('%s', 'app.orders', 'SELECT'), has_table_privilege('%s', 'app.customers', 'SELECT')", role, role, role)); got != "true|true|false" {
		t.Errorf("grants after the sync (view, orders, customers): %s", got)
	}
	if code, out, _ := run(t, dir, "foreign", "status", "--check"); code != 0 || !strings.Contains(out, "drift:          none") || !strings.Contains(out, "remote role:    read-only") || !strings.Contains(out, "after migration 002_change") {
		t.Errorf("status --check after the sync: exit %d\n%s", code, out)
	}
	before = snapshot(t, rep, "app", "reports", "public", "strata")
	if code, out, errOut := run(t, dir, "foreign", "sync"); code != 0 || out != "foreign app: up to date (3 tables)\n" {
		t.Errorf("second sync: exit %d\n%s%s", code, out, errOut)
	}
	if after := snapshot(t, rep, "app", "reports", "public", "strata"); after != before {
		t.Errorf("the second sync changed the reporting database")
	}

	// A third migration through start and complete: complete's hook syncs.
	writeFile(t, filepath.Join(dir, "db/003_more.toml"), `
[[actions]]
type = "add_column"
table = "orders"
column = { name = "note", type = "text" }
`)
	if code, out, errOut := run(t, dir, "start"); code != 0 || strings.Contains(out, "foreign") {
		t.Fatalf("start: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, dir, "complete")
	if code != 0 || !strings.Contains(out, "foreign app: synced 3 tables\n  column added orders.note text (silent)\n") {
		t.Fatalf("complete: exit %d\n%s%s", code, out, errOut)
	}
	if got := query(t, rep, "SELECT id, total::text FROM reports.big_orders"); got != "1|20.00" {
		t.Errorf("view after the third sync: %q", got)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, password) {
			t.Errorf("the password appears in the output: %s", s)
		}
	}
}
