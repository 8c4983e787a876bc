package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// identityRows is the size of the identity test's table:
// STRATA_IDENTITY_ROWS, default 100000 (run it with 1000000 for the
// figures of docs/migrations.md).
func identityRows(t *testing.T) int64 {
	t.Helper()
	s := os.Getenv("STRATA_IDENTITY_ROWS")
	if s == "" {
		return 100000
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		t.Fatalf("STRATA_IDENTITY_ROWS=%q: want a positive number of rows", s)
	}
	return n
}

// TestIdentityUnderLoad is issue 19's identity test: an identity column is
// added to a table of STRATA_IDENTITY_ROWS rows while an application writes
// (inserts and updates) through the old version from before start to after
// complete, and through the new version from start on. A monitor samples
// pg_locks every few milliseconds: no transaction may hold ACCESS EXCLUSIVE
// on the table longer than the lock timeout. After complete every row has a
// distinct number, the identity's sequence is past the largest, and the
// application met no error.
func TestIdentityUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a large table")
	}
	t.Parallel()
	rows := identityRows(t)
	fx := loadFixture(t, "identity/load")
	lockTimeout := engine.DefaultLockTimeout
	e := newEnv(t, fx.setup(), func(o *engine.Options) {
		o.LockTimeout = lockTimeout
		o.BatchSize = 1000
		o.BatchTarget = 0 // the default: batches adapt to 150ms
	})
	cat := e.catalogConn()
	t0 := time.Now()
	exec(t, e.ctx, cat, fx.file("fill.sql"), rows)
	exec(t, e.ctx, cat, "VACUUM ANALYZE accounts")
	t.Logf("filled %d rows in %s", rows, time.Since(t0).Round(time.Millisecond))
	node := e.relfilenode("public", "accounts")
	migs := e.migs("", fx.migrations()...)

	mon := startAXMonitor(t, e.ctx, e.db.URL, "public.accounts", 2*time.Millisecond)
	ctx, stop := context.WithCancel(e.ctx)
	defer stop()
	var wg sync.WaitGroup
	var nextRow atomic.Int64
	nextRow.Store(rows)
	old := &appWriter{name: "old", conn: pathConn(t, e, "", "public"),
		insert: fx.file("old/insert.sql"), update: fx.file("old/update.sql"), rows: &nextRow}
	old.run(ctx, &wg)
	time.Sleep(200 * time.Millisecond)

	t1 := time.Now()
	res, err := e.m.Start(e.ctx, migs)
	if err != nil {
		stop()
		wg.Wait()
		t.Fatalf("start: %v", err)
	}
	startTime := time.Since(t1)
	nw := &appWriter{name: "new", conn: pathConn(t, e, res.VersionSchema, "public"),
		insert: fx.file("new/insert.sql"), update: fx.file("new/update.sql"), rows: &nextRow, numbered: true}
	nw.run(ctx, &wg)
	time.Sleep(500 * time.Millisecond)
	t2 := time.Now()
	_, err = e.m.Complete(e.ctx)
	completeTime := time.Since(t2)
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	holds := mon.finish(t)
	if err != nil {
		t.Fatalf("complete: %v", err)
	}

	// The baseline, in the same run: PostgreSQL's own ADD COLUMN ...
	// GENERATED ALWAYS AS IDENTITY on a table of the same rows, which
	// holds ACCESS EXCLUSIVE for the whole statement (a rewrite).
	exec(t, e.ctx, cat, fx.file("naive/create.sql"))
	exec(t, e.ctx, cat, fx.file("naive/fill.sql"), rows)
	exec(t, e.ctx, cat, "VACUUM ANALYZE accounts_naive")
	naiveNode := e.relfilenode("public", "accounts_naive")
	t3 := time.Now()
	exec(t, e.ctx, cat, fx.file("naive/alter.sql"))
	naive := time.Since(t3)
	if e.relfilenode("public", "accounts_naive") == naiveNode {
		t.Errorf("the naive ADD COLUMN ... IDENTITY did not rewrite accounts_naive: the baseline is not what it claims")
	}

	// The figures.
	var longest axHold
	for _, h := range holds {
		t.Logf("ACCESS EXCLUSIVE on accounts: %s held between %s and %s (seen in %d samples) by %s: %s", h.key,
			h.last.Sub(h.first).Round(100*time.Microsecond), h.upper.Round(100*time.Microsecond), h.samples, h.app, h.query)
		if h.upper > longest.upper {
			longest = h
		}
	}
	for _, w := range []*appWriter{old, nw} {
		t.Logf("%s version: %d inserts, %d updates, slowest %s, %d errors", w.name, w.inserts, w.updates, w.slowest.Round(100*time.Microsecond), len(w.errs))
	}
	report := fmt.Sprintf("identity under load: %d rows; start %s, complete %s; longest ACCESS EXCLUSIVE on the table %s (%d transactions took it, lock timeout %s, pg_locks sampled every %s, %d samples); baseline ALTER TABLE ... ADD COLUMN ... GENERATED ALWAYS AS IDENTITY on the same rows: ACCESS EXCLUSIVE for %s (%.0fx); app: old %d inserts + %d updates, new %d inserts + %d updates, slowest statement %s",
		rows, startTime.Round(time.Millisecond), completeTime.Round(time.Millisecond), longest.upper.Round(100*time.Microsecond),
		len(holds), lockTimeout, mon.every, mon.samples, naive.Round(time.Millisecond), float64(naive)/float64(max(longest.upper, time.Microsecond)), old.inserts, old.updates, nw.inserts, nw.updates,
		max(old.slowest, nw.slowest).Round(time.Millisecond))
	t.Log(report)
	if os.Getenv("STRATA_IDENTITY_ROWS") != "" {
		fmt.Println(report)
	}

	// No ACCESS EXCLUSIVE held longer than the lock timeout, and the
	// monitor did see strata take it (start's ADD COLUMN at least).
	if len(holds) == 0 {
		t.Errorf("the monitor never saw ACCESS EXCLUSIVE on accounts (%d samples): it measures nothing", mon.samples)
	}
	if longest.upper >= lockTimeout {
		t.Errorf("%s held ACCESS EXCLUSIVE on accounts for %s, longer than the lock timeout %s: %s", longest.key, longest.upper, lockTimeout, longest.query)
	}
	// The application met no error, and wrote through the whole test.
	for _, w := range []*appWriter{old, nw} {
		if len(w.errs) > 0 {
			t.Errorf("%s version: %d errors, first: %v", w.name, len(w.errs), w.errs[0])
		}
		if w.inserts == 0 || w.updates == 0 {
			t.Errorf("%s version wrote %d inserts and %d updates: the load did not run", w.name, w.inserts, w.updates)
		}
	}
	if got := e.relfilenode("public", "accounts"); got != node {
		t.Errorf("accounts was rewritten: relfilenode %s -> %s", node, got)
	}
	want(t, "identity column", []string{"account_no bigint not null identity always"}, e.columns("public", "accounts")[3:])
	n := p1(t, e, cat, "SELECT count(*) FROM accounts")
	want(t, "rows: numbered, distinct", []string{n + "|" + n}, queryStrings(t, e.ctx, cat,
		"SELECT count(account_no), count(DISTINCT account_no) FROM accounts"))
	if c, _ := strconv.ParseInt(n, 10, 64); c < rows {
		t.Errorf("%d rows after the test, want at least %d", c, rows)
	}
	want(t, "identity sequence past the largest number", []string{"true"}, queryStrings(t, e.ctx, cat,
		`SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END > (SELECT max(account_no) FROM accounts)
		 FROM public.accounts_account_no_seq`))
	e.assertClean("")
}

// p1 runs a query of one value on conn.
func p1(t *testing.T, e *env, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	got := queryStrings(t, e.ctx, conn, sql, args...)
	if len(got) != 1 {
		t.Fatalf("%s: %v, want one row", sql, got)
	}
	return got[0]
}

// appWriter is one version of the application: a loop of inserts and
// updates of random rows on its own connection until its context ends.
type appWriter struct {
	name           string
	conn           *pgx.Conn
	insert, update string
	rows           *atomic.Int64 // highest id handed out (about)
	numbered       bool          // the statements return account_no, which must not be NULL

	inserts, updates int
	slowest          time.Duration
	errs             []error
}

func (w *appWriter) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewPCG(uint64(len(w.name)), 19))
		for i := 0; ctx.Err() == nil; i++ {
			sql, arg := w.update, any(rnd.Int64N(w.rows.Load())+1)
			if i%3 == 0 {
				sql, arg = w.insert, any(rnd.Int64N(1000))
			}
			t0 := time.Now()
			var v *int64
			err := w.conn.QueryRow(context.WithoutCancel(ctx), sql, arg).Scan(&v)
			if d := time.Since(t0); d > w.slowest {
				w.slowest = d
			}
			switch {
			case errors.Is(err, pgx.ErrNoRows) && sql == w.update:
				// A row the other version has not inserted yet.
			case err != nil:
				w.errs = append(w.errs, fmt.Errorf("%s: %w", sql, err))
			case w.numbered && v == nil:
				w.errs = append(w.errs, fmt.Errorf("%s: account_no is NULL", sql))
			}
			if err == nil && sql == w.insert {
				w.inserts++
				if !w.numbered && v != nil && *v > w.rows.Load() {
					w.rows.Store(*v)
				}
			} else if err == nil {
				w.updates++
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
}

// axMonitor samples pg_locks for granted ACCESS EXCLUSIVE locks on one
// table, whoever holds them, and times each holding transaction.
type axMonitor struct {
	every   time.Duration
	samples int
	gap     time.Duration // the longest time between two samples
	holds   map[string]*axHold
	err     error
	stop    chan struct{}
	done    chan struct{}
}

// axHold is one transaction seen holding the lock: first and last seen
// (client clock), and upper, the most it can have held it: from the sample
// before the first that saw it to the sample after the last.
type axHold struct {
	key, app, query string
	first, last     time.Time
	before, after   time.Time
	samples         int
	upper           time.Duration
}

func startAXMonitor(t *testing.T, ctx context.Context, url, table string, every time.Duration) *axMonitor {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var oid uint32
	if err := conn.QueryRow(ctx, "SELECT $1::regclass::oid", table).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	m := &axMonitor{every: every, holds: map[string]*axHold{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer conn.Close(context.Background())
		var prev time.Time
		open := map[string]*axHold{}
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			rows, err := conn.Query(ctx, `SELECT l.pid || '/' || l.virtualtransaction, a.application_name, left(a.query, 120)
				FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE l.locktype = 'relation' AND l.relation = $1 AND l.mode = 'AccessExclusiveLock' AND l.granted`, oid)
			if err != nil {
				m.err = err
				return
			}
			type row struct{ Key, App, Query string }
			got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
			if err != nil {
				m.err = err
				return
			}
			now := time.Now()
			if !prev.IsZero() && now.Sub(prev) > m.gap {
				m.gap = now.Sub(prev)
			}
			seen := map[string]bool{}
			for _, r := range got {
				seen[r.Key] = true
				h := open[r.Key]
				if h == nil {
					h = m.holds[r.Key]
				}
				if h == nil {
					h = &axHold{key: r.Key, app: r.App, query: r.Query, first: now, before: prev}
					if h.before.IsZero() {
						h.before = now
					}
					m.holds[r.Key] = h
				}
				open[r.Key] = h
				h.last = now
				h.samples++
			}
			for k, h := range open {
				if !seen[k] {
					h.after = now
					delete(open, k)
				}
			}
			m.samples++
			prev = now
			time.Sleep(m.every)
		}
	}()
	return m
}

// finish stops the monitor and returns the holds, longest first.
func (m *axMonitor) finish(t *testing.T) []axHold {
	t.Helper()
	close(m.stop)
	<-m.done
	if m.err != nil {
		t.Fatalf("lock monitor: %v", m.err)
	}
	var out []axHold
	for _, h := range m.holds {
		if h.after.IsZero() {
			h.after = h.last.Add(m.gap)
		}
		h.upper = h.after.Sub(h.before)
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].upper > out[j].upper })
	return out
}
