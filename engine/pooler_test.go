package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgbouncer"
	"github.com/stratapg/strata/internal/pgtest"
)

// bouncerPoolSize is the test pgbouncer's server connections per pool:
// strata's role needs one for its lock, one for its work and one for the
// lock-wait monitor, plus one per extra backfill worker.
const bouncerPoolSize = 6

// TestThroughPgbouncer runs strata and two app versions through a real
// pgbouncer (bouncerPoolSize server connections per pool, no server_reset_query): init,
// start, status, complete and a second start aborted, while an old and a
// new app write through the pool in transaction mode, choosing their
// version with SET LOCAL search_path in each transaction (docs/poolers.md);
// every row lands translated, and afterwards no server connection of any
// pool carries a setting strata or the apps made.
//
// status runs in transaction mode. init, start, complete and abort run as
// a role whose pool is in session mode, where a concurrent index build
// works (through a transaction pooler strata refuses it:
// TestStrataThroughTransactionPooler).
func TestThroughPgbouncer(t *testing.T) {
	e := newEnv(t, pricedItems(t).setup())
	sfx := e.db.Name[len(e.db.Name)-8:]
	app, strata := "app_"+sfx, "strata_"+sfx
	e.db.Exec(t, `CREATE ROLE `+app+` LOGIN SUPERUSER; CREATE ROLE `+strata+` LOGIN SUPERUSER`)
	t.Cleanup(func() {
		e.db.Exec(t, `REASSIGN OWNED BY `+strata+` TO postgres; DROP OWNED BY `+strata+`, `+app+`;
			DROP ROLE `+app+`; DROP ROLE `+strata)
	})
	b := pgbouncer.ForTest(t, pgtest.ServerURL(t), pgbouncer.Options{PoolSize: bouncerPoolSize,
		Users: map[string]string{"postgres": "", app: "", strata: "pool_mode=session"}})
	strataURL := b.URL(strata, e.db.Name)
	statusURL := b.URL("postgres", e.db.Name)
	appURL := b.URL(app, e.db.Name) + "&default_query_exec_mode=exec"

	opts := engine.Options{BatchSize: 500, BatchTarget: -1, Workers: 2, Logf: t.Logf}
	m, err := engine.New(strataURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := engine.New(statusURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(e.ctx); err != nil {
		t.Fatalf("init through pgbouncer: %v", err)
	}
	migs := e.migs("", "001_price.toml", priceMigration(t))

	// The apps write all through start and complete.
	pool, err := pgxpool.New(e.ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var version string
	var mu sync.Mutex
	write := func(ctx context.Context, id int, isNew bool) (bool, error) {
		mu.Lock()
		v := version
		mu.Unlock()
		if isNew && v == "" {
			return false, nil // the new app deploys once start has made its version schema
		}
		return true, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			path, price := "public", any(fmt.Sprint(id))
			if isNew {
				path, price = pgx.Identifier{v}.Sanitize()+", public", float64(id)+0.5
			}
			if _, err := tx.Exec(ctx, "SET LOCAL search_path = "+path); err != nil {
				return err
			}
			var first string
			if err := tx.QueryRow(ctx, "SELECT (current_schemas(false))[1]").Scan(&first); err != nil {
				return err
			}
			if want := strings.Trim(strings.Split(path, ",")[0], `"`); first != want {
				return fmt.Errorf("current_schemas(false)[1] = %s, want %s", first, want)
			}
			_, err := tx.Exec(ctx, "INSERT INTO items (id, name, price) VALUES ($1, 'app', $2)", id, price)
			return err
		})
	}
	var stopped atomic.Bool
	stop := func() { stopped.Store(true) }
	var wg sync.WaitGroup
	written := make([][]int, 4) // old, old, new, new
	errs := make([]error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stopped.Load(); i++ {
				id := 100000*(w+1) + i
				wrote, err := write(e.ctx, id, w >= 2)
				if err != nil {
					errs[w] = err
					return
				}
				if wrote {
					written[w] = append(written[w], id)
				}
			}
		}()
	}

	if _, err := ms.Plan(e.ctx, migs); err != nil {
		t.Errorf("plan through pgbouncer in transaction mode: %v", err)
	}
	res, err := m.Start(e.ctx, migs)
	if err != nil {
		stop()
		wg.Wait()
		t.Fatalf("start through pgbouncer: %v", err)
	}
	mu.Lock()
	version = res.VersionSchema
	mu.Unlock()
	st, err := ms.Status(e.ctx, migs)
	if err != nil || st.Phase != "started" || st.VersionSchema != res.VersionSchema {
		t.Errorf("status through pgbouncer in transaction mode = %+v, %v; want phase started", st, err)
	}
	for i := 0; i < 50; i++ { // let the new app write through the version schema
		if _, err := write(e.ctx, 900000+i, true); err != nil {
			t.Fatalf("new app: %v", err)
		}
	}
	stop()
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("app writer %d: %v", w, err)
		}
	}
	// Every row lands translated: the old app's text prices are numbers in
	// the new version, the new app's numbers are text in the old version.
	direct := e.db.Conn(t)
	vs := pgx.Identifier{res.VersionSchema}.Sanitize()
	got := queryStrings(t, e.ctx, direct, `SELECT
		(SELECT count(*) FROM `+vs+`.items WHERE id BETWEEN 100000 AND 299999 AND price IS DISTINCT FROM id::numeric),
		(SELECT count(*) FROM public.items WHERE id >= 300000 AND price IS DISTINCT FROM (id + 0.5)::numeric(12,2)::text),
		(SELECT count(*) FROM public.items WHERE id >= 100000 AND id < 300000),
		(SELECT count(*) FROM public.items WHERE id >= 300000)`)
	old, nw := len(written[0])+len(written[1]), len(written[2])+len(written[3])+50
	if want := fmt.Sprintf("0|0|%d|%d", old, nw); len(got) != 1 || got[0] != want {
		t.Errorf("mistranslated old rows | mistranslated new rows | old rows | new rows = %v, want %s", got, want)
	}
	if nw <= 50 || old == 0 {
		t.Errorf("the apps wrote %d old and %d new rows during the phase; want both versions writing", old, nw)
	}

	if _, err := m.Complete(e.ctx); err != nil {
		t.Fatalf("complete through pgbouncer: %v", err)
	}
	migs2 := e.migs("", "001_price.toml", priceMigration(t), "002_name.toml", pricedItems(t).file("name_len.toml"))
	if _, err := m.Start(e.ctx, migs2); err != nil {
		t.Fatalf("start 002 through pgbouncer: %v", err)
	}
	if _, err := m.Abort(e.ctx); err != nil {
		t.Fatalf("abort through pgbouncer: %v", err)
	}
	e.assertClean("")

	// No session setting leaked onto a server connection of either pool:
	// hold bouncerPoolSize transactions at once on each (the pool size), so
	// that every server connection answers.
	for _, u := range []string{strataURL, statusURL, appURL} {
		if !strings.Contains(u, "exec") {
			u += "&default_query_exec_mode=exec"
		}
		assertPoolClean(t, e, direct, u, bouncerPoolSize,
			"lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout", "search_path")
	}
}

// assertPoolClean holds n transactions at once through the pool at url (n
// is the pool size, so every server connection answers; they stay open
// until the test ends) and checks that each server connection shows the
// server's defaults for settings, as direct (a connection not through the
// pool) sees them.
func assertPoolClean(t *testing.T, e *env, direct *pgx.Conn, url string, n int, settings ...string) {
	t.Helper()
	var list []string
	for _, st := range settings {
		list = append(list, "current_setting('"+st+"')")
	}
	q := "concat_ws('|', " + strings.Join(list, ", ") + ")"
	var defaults string
	if err := direct.QueryRow(e.ctx, "SELECT "+q).Scan(&defaults); err != nil {
		t.Fatal(err)
	}
	pids := map[int]bool{}
	for i := 0; i < n; i++ {
		c, err := pgx.Connect(e.ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		tx, err := c.Begin(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(context.Background()) })
		var pid int
		var got string
		if err := tx.QueryRow(e.ctx, "SELECT pg_backend_pid(), "+q).Scan(&pid, &got); err != nil {
			t.Fatal(err)
		}
		if got != defaults {
			t.Errorf("server connection %d through the pool of %s: settings %q, want the server defaults %q", pid, url, got, defaults)
		}
		pids[pid] = true
	}
	if len(pids) != n {
		t.Errorf("the pool of %s answered from %d server connections, want %d", url, len(pids), n)
	}
}
