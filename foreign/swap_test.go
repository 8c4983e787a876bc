package foreign_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestSwapUnderLoad: a reporting client queries the foreign tables (some
// through a local view) in a loop during 20 syncs, each of which swaps in
// new tables; no query fails or sees an empty or half-built schema, and the
// view and the grants survive every swap.
func TestSwapUnderLoad(t *testing.T) {
	f := setup(t)
	f.sync(t)
	exec(t, f.repURL, fmt.Sprintf(`CREATE SCHEMA reports;
CREATE VIEW reports.revenue AS SELECT c.name, sum(o.total) AS total FROM app.customers c JOIN app.orders o ON o.customer_id = c.id GROUP BY c.name;
CREATE VIEW reports.top AS SELECT * FROM reports.revenue ORDER BY total DESC LIMIT 3;
GRANT USAGE ON SCHEMA reports, app TO %[1]s; GRANT SELECT ON reports.revenue, reports.top, app.orders TO %[1]s;`, f.role))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := pgxpool.New(ctx, f.repURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	queries := []struct{ sql, want string }{
		{"SELECT (SELECT count(*) FROM app.orders)::text || '/' || (SELECT count(*) FROM app.customers)::text", "1000/100"},
		{"SELECT count(*)::text FROM reports.revenue", "100"},
		{"SELECT count(*)::text FROM reports.top", "3"},
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				q := queries[(i+w)%len(queries)]
				var got string
				err := pool.QueryRow(ctx, q.sql).Scan(&got)
				if ctx.Err() != nil {
					return
				}
				if err != nil || got != q.want {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: got %q, err %v", q.sql, got, err))
					mu.Unlock()
					continue
				}
				ok.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	start := time.Now()
	for i := 1; i <= 20; i++ {
		// Each round changes the remote shape, so each sync swaps.
		exec(t, f.appURL, fmt.Sprintf("ALTER TABLE orders ADD COLUMN extra_%d int", i))
		res := f.sync(t)
		if !res.Changed || len(res.Changes) != 1 || res.Changes[0].Column != fmt.Sprintf("extra_%d", i) {
			t.Fatalf("sync %d: %+v", i, res)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	rate := float64(ok.Load()) / elapsed.Seconds()
	t.Logf("20 syncs in %s; %d queries succeeded (%.0f/s), %d failed", elapsed.Round(time.Millisecond), ok.Load(), rate, failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d queries failed during the syncs, e.g. %s", failed.Load(), failures[0])
	}
	if rate < 20 {
		t.Errorf("only %.0f queries/s ran during the syncs (want at least 20)", rate)
	}
	grants := one(t, f.repURL, fmt.Sprintf("SELECT has_table_privilege('%[1]s', 'reports.revenue', 'SELECT')::text || has_table_privilege('%[1]s', 'reports.top', 'SELECT')::text || has_table_privilege('%[1]s', 'app.orders', 'SELECT')::text || has_table_privilege('%[1]s', 'app.customers', 'SELECT')::text", f.role))
	if grants != "truetruetruefalse" {
		t.Errorf("grants after 20 swaps (revenue, top, orders, customers): %s", grants)
	}
	if got := one(t, f.repURL, "SELECT count(*)::text FROM pg_attribute WHERE attrelid = 'app.orders'::regclass AND attname LIKE 'extra%'"); got != "20" {
		t.Errorf("app.orders has %s extra columns, want 20", got)
	}
	if got := one(t, f.repURL, "SELECT count(*)::text FROM pg_namespace WHERE nspname LIKE '%staging%'"); got != "0" {
		t.Errorf("a staging schema was left behind")
	}
	f.noPassword(t)
}

// TestViewNoLongerFits: a view that uses a column the remote table dropped
// makes the sync fail naming the view, and nothing changes.
func TestViewNoLongerFits(t *testing.T) {
	f := setup(t)
	f.sync(t)
	exec(t, f.repURL, "CREATE SCHEMA reports; CREATE VIEW reports.names AS SELECT name FROM app.customers")
	exec(t, f.appURL, "ALTER TABLE customers DROP COLUMN name")
	before := snap(t, f.repURL, "app", "reports", "strata", "public")
	_, err := foreign.Sync(context.Background(), f.decl, f.opts, false)
	// PostgreSQL's own message, from the view's deparsed definition: from 16
	// on it leaves out the relation name of a column of a one-table query.
	missing := `column customers.name does not exist`
	if pgtest.ServerMajor(t) >= 16 {
		missing = `column "name" does not exist`
	}
	want := `foreign "app" (strata.toml:3): view "reports"."names" no longer fits the new foreign tables (nothing was changed): ` + missing
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "\nhint: change or drop the view") {
		t.Fatalf("sync: %v\nwant prefix: %s", err, want)
	}
	if after := snap(t, f.repURL, "app", "reports", "strata", "public"); after != before {
		t.Errorf("the failed sync changed the reporting database")
	}
	// Fixing the view lets the sync go through.
	exec(t, f.repURL, "DROP VIEW reports.names")
	f.sync(t)
}

// TestReadOnly: with read_only = true a remote role that can write an
// imported table, or has BYPASSRLS, makes the sync fail; the password is
// never shown.
func TestReadOnly(t *testing.T) {
	f := setup(t)
	exec(t, f.appURL, "GRANT INSERT, UPDATE ON orders TO "+f.role)
	before := snap(t, f.repURL)
	_, err := foreign.Sync(context.Background(), f.decl, f.opts, false)
	want := fmt.Sprintf(`foreign "app" (strata.toml:3): the remote role %q is not read-only: it can write orders (INSERT, UPDATE)`, f.role)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("sync: %v\nwant prefix: %s", err, want)
	}
	if after := snap(t, f.repURL); after != before {
		t.Errorf("the refused sync changed the reporting database")
	}
	rep, err := foreign.Status(context.Background(), f.decl, f.opts)
	if err != nil || rep.Role == nil || rep.Role.ReadOnly() {
		t.Errorf("status: %v %+v", err, rep)
	}
	f.noPassword(t, err2s(err))

	exec(t, f.appURL, "REVOKE INSERT, UPDATE ON orders FROM "+f.role)
	exec(t, f.appURL, fmt.Sprintf("ALTER ROLE %s BYPASSRLS", f.role))
	_, err = foreign.Sync(context.Background(), f.decl, f.opts, false)
	if err == nil || !strings.Contains(err.Error(), "is not read-only: it has BYPASSRLS") {
		t.Fatalf("sync with BYPASSRLS: %v", err)
	}
	exec(t, f.appURL, fmt.Sprintf("ALTER ROLE %s NOBYPASSRLS", f.role))
	// read_only = false: the writable role is allowed.
	exec(t, f.appURL, "GRANT DELETE ON orders TO "+f.role)
	f.decl.ReadOnly = false
	f.sync(t)
	f.noPassword(t)
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBadInput: a missing password variable, an unreachable server, an into
// database where postgres_fdw cannot be created: each a clear error naming
// the declaration, the target schema unchanged.
func TestBadInput(t *testing.T) {
	f := setup(t)
	f.sync(t)
	exec(t, f.appURL, "ALTER TABLE orders ADD COLUMN note text")
	before := snap(t, f.repURL, "app", "strata", "public")

	check := func(name string, d *foreign.Decl, o foreign.Options, want ...string) {
		t.Helper()
		_, err := foreign.Sync(context.Background(), d, o, false)
		if err == nil {
			t.Fatalf("%s: sync succeeded", name)
		}
		var fe *foreign.Error
		if !errors.As(err, &fe) && !strings.HasPrefix(err.Error(), `foreign "`) {
			t.Errorf("%s: error is not worded for people: %v", name, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", name, err, w)
			}
		}
		if after := snap(t, f.repURL, "app", "strata", "public"); after != before {
			t.Errorf("%s: the failed sync changed the reporting database", name)
		}
		f.noPassword(t, err.Error())
	}

	o := f.opts
	o.Getenv = func(string) string { return "" }
	check("missing password_env", f.decl, o, `foreign "app" (strata.toml:3): password_env: the environment variable REPORTING_PASSWORD is not set`, "hint: export REPORTING_PASSWORD")

	d := *f.decl
	d.Server.Host, d.Server.Port = "127.0.0.1", "1"
	check("unreachable server", &d, f.opts, `foreign "app" (strata.toml:3): import the remote schema through server "app": could not connect to server "app"`,
		`hint: check that the into database's server reaches the migrated database at server = {host = "127.0.0.1", port = "1"`)

	// An into database where strata's role cannot create postgres_fdw.
	intoRole, intoPW := role(t, f.opts.SourceURL, "")
	exec(t, f.repURL, "CREATE DATABASE "+intoRole+"_db OWNER "+intoRole)
	t.Cleanup(func() { exec(t, f.repURL, "DROP DATABASE "+intoRole+"_db WITH (FORCE)") })
	d = *f.decl
	d.Into = strings.Replace(strings.Replace(f.repURL, "postgres@", intoRole+":"+intoPW+"@", 1), "/t_", "/x_", 1)
	d.Into = withDB(t, d.Into, intoRole+"_db")
	_, err := foreign.Sync(context.Background(), &d, f.opts, false)
	if err == nil || !strings.Contains(err.Error(), `foreign "app" (strata.toml:3): create extension postgres_fdw in the into database: permission denied to create extension "postgres_fdw"`) ||
		!strings.Contains(err.Error(), "hint: a superuser runs CREATE EXTENSION postgres_fdw") {
		t.Errorf("into without postgres_fdw: %v", err)
	}
	if got := one(t, withDB(t, f.repURL, intoRole+"_db"), "SELECT count(*)::text FROM pg_namespace WHERE nspname IN ('app', 'strata')"); got != "0" {
		t.Errorf("the failed sync created schemas in the into database")
	}
}

func withDB(t *testing.T, url, db string) string {
	t.Helper()
	i := strings.LastIndex(url, "/")
	j := strings.Index(url[i:], "?")
	if j < 0 {
		return url[:i+1] + db
	}
	return url[:i+1] + db + url[i+j:]
}

// TestPushdown: with strata's default server options a join of two foreign
// tables and an aggregate run on the remote server: one Foreign Scan.
func TestPushdown(t *testing.T) {
	f := setup(t)
	f.sync(t)
	for _, c := range []struct{ sql, relations string }{
		{"SELECT c.name, sum(o.total) FROM app.customers c JOIN app.orders o ON o.customer_id = c.id GROUP BY c.name", "Relations: Aggregate on ((app.customers c) INNER JOIN (app.orders o))"},
		{"SELECT c.name, o.total FROM app.customers c JOIN app.orders o ON o.customer_id = c.id WHERE o.total > 40", "Relations: (app.customers c) INNER JOIN (app.orders o)"},
		{"SELECT count(*), sum(total) FROM app.orders", "Relations: Aggregate on (app.orders)"},
	} {
		conn, err := pgx_connect(f.repURL)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(context.Background(), "EXPLAIN (VERBOSE, COSTS OFF) "+c.sql)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(l))
		}
		conn.Close(context.Background())
		text := strings.Join(plan, "\n")
		if n := strings.Count(text, "Foreign Scan"); n != 1 || !strings.Contains(text, c.relations) {
			t.Errorf("%s: %d Foreign Scans, want 1 with %q:\n%s", c.sql, n, c.relations, text)
		}
	}
	opts := one(t, f.repURL, "SELECT array_to_string(srvoptions, ',') FROM pg_foreign_server WHERE srvname = 'app'")
	for _, w := range []string{"use_remote_estimate=true", "fetch_size=10000", "host=", "port=", "dbname=t_"} {
		if !strings.Contains(opts, w) {
			t.Errorf("server options %s lack %s", opts, w)
		}
	}
}

// TestRemoteTypes: a remote enum and a domain used by imported columns are
// created in the target first; a type that exists there with another
// definition makes the tables that need it skipped and reported, and the
// rest imported.
func TestRemoteTypes(t *testing.T) {
	f := setup(t)
	exec(t, f.appURL, `CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE feedback (id bigint PRIMARY KEY, mood mood, score positive);
INSERT INTO feedback VALUES (1, 'sad', 3)`)
	res := f.sync(t)
	if res.Tables != 3 || len(res.Setup) < 2 {
		t.Fatalf("sync: %+v", res)
	}
	if got := one(t, f.repURL, "SELECT mood::text || '/' || score::text FROM app.feedback"); got != "sad/3" {
		t.Errorf("feedback through the foreign table: %s", got)
	}
	// A new label is added in place.
	exec(t, f.appURL, "ALTER TYPE mood ADD VALUE 'meh' AFTER 'happy'")
	res = f.sync(t)
	if got := one(t, f.repURL, "SELECT array_to_string(enum_range(NULL::public.mood), ',')"); got != "happy,meh,sad" {
		t.Errorf("enum after the sync: %s (%+v)", got, res)
	}
	// Another definition in the target: feedback is skipped, not the rest.
	exec(t, f.appURL, "CREATE TYPE level AS ENUM ('low', 'high'); ALTER TABLE feedback ADD COLUMN level level")
	exec(t, f.repURL, "CREATE TYPE public.level AS ENUM ('other')")
	res = f.sync(t)
	var skipped []string
	for _, c := range res.Changes {
		if c.Kind == "table skipped" {
			skipped = append(skipped, c.String())
		}
	}
	want := `table skipped feedback: enum "public"."level" exists in the into database with labels (other) that the remote one (low, high) does not have in that order`
	if len(skipped) != 1 || skipped[0] != want || res.Tables != 2 {
		t.Errorf("skipped %q (tables %d), want %q", skipped, res.Tables, want)
	}
	if got := one(t, f.repURL, "SELECT count(*)::text FROM app.orders"); got != "1000" {
		t.Errorf("orders after the partial import: %s", got)
	}
}
