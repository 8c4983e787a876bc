package engine_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgbouncer"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestStrataThroughTransactionPooler runs strata's own role through a real
// pgbouncer in transaction mode (3 server connections, no
// server_reset_query): init, start with a backfill on two workers, status,
// complete, and a second start aborted all work, because the exclusion lock
// is a transaction advisory lock in a transaction that stays open on the
// lock connection (pgbouncer pins one server connection to it). While the
// backfill runs, exactly one server backend holds the lock, it holds back
// no xmin and has no transaction id (VACUUM and concurrent index builds do
// not wait for it), and a second strata through the same pool is refused
// as busy. Work that cannot run in a transaction (a concurrent index build,
// a no-transaction .sql file) is refused before anything changes, naming
// the statement. Afterwards every server connection of the pool has the
// server's default settings.
func TestStrataThroughTransactionPooler(t *testing.T) {
	fx, items := loadFixture(t, "pooler/transaction_pooler"), pricedItems(t)
	priceOnly := items.file("price_only.toml")
	e := newEnv(t, items.setup())
	role := "strata_tx_" + e.db.Name[len(e.db.Name)-8:]
	e.db.Exec(t, `CREATE ROLE `+role+` LOGIN SUPERUSER`)
	t.Cleanup(func() {
		e.db.Exec(t, `REASSIGN OWNED BY `+role+` TO postgres; DROP OWNED BY `+role+`; DROP ROLE `+role)
	})
	b := pgbouncer.ForTest(t, pgtest.ServerURL(t), pgbouncer.Options{PoolSize: 3, Users: map[string]string{role: ""}})
	u := b.URL(role, e.db.Name)
	pool := e.db.Pool(t)

	var mu sync.Mutex
	var seen []string // what the lock's holder looked like after each batch
	var busyErr error
	var once sync.Once
	second, err := engine.New(u, engine.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	key := pgexec.AdvisoryKey("strata")
	opts := engine.Options{BatchSize: 300, BatchTarget: -1, Workers: 2, Logf: t.Logf,
		AfterBatch: func(int) {
			var got string
			err := pool.QueryRow(e.ctx, `SELECT count(*) || '|' || coalesce(string_agg((a.backend_xmin IS NULL)::text || '|' || (a.backend_xid IS NULL)::text, ','), '')
				FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND a.datname = current_database()
				  AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid`, key).Scan(&got)
			if err != nil {
				got = err.Error()
			}
			mu.Lock()
			seen = append(seen, got)
			mu.Unlock()
			once.Do(func() { _, busyErr = second.Start(e.ctx, e.migs("", "001_price.toml", priceOnly)) })
		}}
	m, err := engine.New(u, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(e.ctx); err != nil {
		t.Fatalf("init through a transaction pooler: %v", err)
	}
	migs := e.migs("", "001_price.toml", priceOnly)
	res, err := m.Start(e.ctx, migs)
	if err != nil {
		t.Fatalf("start through a transaction pooler: %v", err)
	}
	if len(seen) == 0 {
		t.Fatal("no backfill batch ran")
	}
	for i, s := range seen {
		if s != "1|true|true" {
			t.Errorf("after batch %d: lock holders | no xmin | no xid = %q, want 1|true|true", i+1, s)
		}
	}
	if !errors.Is(busyErr, engine.ErrBusy) {
		t.Errorf("a second start through the pool while the first runs = %v, want ErrBusy", busyErr)
	}
	st, err := m.Status(e.ctx, migs)
	if err != nil || st.Phase != "started" || st.VersionSchema != res.VersionSchema {
		t.Errorf("status through a transaction pooler = %+v, %v; want phase started", st, err)
	}
	got := queryStrings(t, e.ctx, e.db.Conn(t), `SELECT count(*) FROM `+pgx.Identifier{res.VersionSchema}.Sanitize()+`.items WHERE price IS DISTINCT FROM id::numeric`)
	if len(got) != 1 || got[0] != "0" {
		t.Errorf("rows not backfilled: %v", got)
	}
	if _, err := m.Complete(e.ctx); err != nil {
		t.Fatalf("complete through a transaction pooler: %v", err)
	}
	migs2 := e.migs("", "001_price.toml", priceOnly, "002_len.toml", items.file("name_len.toml"))
	if _, err := m.Start(e.ctx, migs2); err != nil {
		t.Fatalf("start 002 through a transaction pooler: %v", err)
	}
	if _, err := m.Abort(e.ctx); err != nil {
		t.Fatalf("abort through a transaction pooler: %v", err)
	}
	e.assertClean("")

	// Non-transactional work is refused before anything changes.
	for _, c := range []struct{ name, file, content, stmt string }{
		{"index", "002_idx.toml", items.file("name_idx.toml"), "CREATE INDEX CONCURRENTLY"},
		{"sql", "002_idx.sql", fx.file("migrations/002_idx.sql"), "002_idx.sql"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot("public", "strata")
			rows := `SELECT (SELECT count(*) FROM strata.phase) || '|' || (SELECT count(*) FROM strata.history)`
			beforeRows := queryStrings(t, e.ctx, e.db.Conn(t), rows)
			_, err := m.Start(e.ctx, e.migs("", "001_price.toml", priceOnly, c.file, c.content))
			if !errors.Is(err, engine.ErrTransactionPooler) {
				t.Fatalf("start of a non-transactional statement through a transaction pooler = %v, want ErrTransactionPooler", err)
			}
			t.Logf("refused: %v", err)
			for _, want := range []string{c.stmt, "transaction pooler", "nothing was changed", "hint: ", "pool_mode=session", "docs/poolers.md"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if diff := cmp.Diff(before, e.snapshot("public", "strata")); diff != "" {
				t.Errorf("the refused start changed the catalog (-before +after):\n%s", diff)
			}
			if after := queryStrings(t, e.ctx, e.db.Conn(t), rows); !cmp.Equal(beforeRows, after) {
				t.Errorf("phase|history rows %v before, %v after the refused start", beforeRows, after)
			}
		})
	}
	// A direct connection builds the index: the concurrent build does not
	// wait for the lock connection's open transaction. Aborting it through
	// the pooler (DROP INDEX CONCURRENTLY) is refused before the phase's
	// state changes.
	if _, err := e.m.Start(e.ctx, e.migs("", "001_price.toml", priceOnly, "002_idx.toml", items.file("name_idx.toml"))); err != nil {
		t.Fatalf("start directly: %v", err)
	}
	phase := `SELECT state || ' ' || abort_cursor FROM strata.phase`
	before := queryStrings(t, e.ctx, e.db.Conn(t), phase)
	if _, err := m.Abort(e.ctx); !errors.Is(err, engine.ErrTransactionPooler) || !strings.Contains(err.Error(), "DROP INDEX CONCURRENTLY") {
		t.Errorf("abort of an index build through a transaction pooler = %v, want ErrTransactionPooler naming DROP INDEX CONCURRENTLY", err)
	}
	if after := queryStrings(t, e.ctx, e.db.Conn(t), phase); !cmp.Equal(before, after) {
		t.Errorf("phase %v before, %v after the refused abort", before, after)
	}
	e.complete()

	// No setting of strata's is left on any server connection of the pool:
	// 3 transactions at once (the pool size) see the server's defaults.
	assertPoolClean(t, e, e.db.Conn(t), u+"&default_query_exec_mode=exec", 3,
		"lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout", "search_path", "tcp_keepalives_idle")
}
