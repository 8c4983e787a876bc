package foreign_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// requireFDW skips (fails under CI=true) when the server has no postgres_fdw.
func requireFDW(t *testing.T, db *pgtest.DB) {
	t.Helper()
	var n int
	if err := db.Conn(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgres_fdw'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("postgres_fdw is not available on the test server (CI=true): install the server's contrib (postgresql-<major>)")
		}
		t.Skip("POSTGRES_FDW NOT AVAILABLE ON THE TEST SERVER, SKIPPING")
	}
}

// role creates a login role that is not a superuser, dropped after the
// databases of the test.
func role(t *testing.T, adminURL, attrs string) (string, string) {
	t.Helper()
	name := fmt.Sprintf("reporting_%d", rand.Uint32())
	pw := fmt.Sprintf("pw-%d-secret", rand.Uint64())
	exec(t, adminURL, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' %s", name, pw, attrs))
	t.Cleanup(func() { exec(t, adminURL, "DROP ROLE IF EXISTS "+name) })
	return name, pw
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func one(t *testing.T, url, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func snap(t *testing.T, url string, schemas ...string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	s, err := pgtest.Snapshot(context.Background(), conn, schemas...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixture struct {
	appURL, repURL string
	role, password string
	decl           *foreign.Decl
	opts           foreign.Options
	logs           *strings.Builder
}

const appSchema = `
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers, total numeric(10,2) NOT NULL);
INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 100) i;
INSERT INTO orders SELECT i, 1 + i % 100, i % 50 FROM generate_series(1, 1000) i;`

// setup makes an application database with two tables, a reporting
// database and a read-only remote role, and a declaration for them.
func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{logs: &strings.Builder{}}
	f.role, f.password = role(t, pgtest.ServerURL(t), "")
	app, rep := pgtest.New(t), pgtest.New(t)
	requireFDW(t, rep)
	app.Exec(t, appSchema)
	f.appURL, f.repURL = app.URL, rep.URL
	f.decl = &foreign.Decl{Name: "app", Into: rep.URL, Schema: "app", User: f.role, PasswordEnv: "REPORTING_PASSWORD", ReadOnly: true, File: "strata.toml", Line: 3}
	f.opts = foreign.Options{
		SourceURL: app.URL, SourceSchema: "public", StateSchema: "strata", LockTimeout: 200 * time.Millisecond, LockDeadline: time.Minute,
		Getenv:  func(k string) string { return map[string]string{"REPORTING_PASSWORD": f.password}[k] },
		Version: "test",
		Logf:    func(format string, args ...any) { fmt.Fprintf(f.logs, format+"\n", args...) },
	}
	return f
}

func (f *fixture) sync(t *testing.T) *foreign.Result {
	t.Helper()
	res, err := foreign.Sync(context.Background(), f.decl, f.opts, false)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

// noPassword fails when the password is in any of texts.
func (f *fixture) noPassword(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range append(texts, f.logs.String()) {
		if strings.Contains(s, f.password) {
			t.Errorf("the password appears in: %s", s)
		}
	}
}

func pgx_connect(url string) (*pgx.Conn, error) { return pgx.Connect(context.Background(), url) }
