package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/migration"
)

// lkAddEmail needs ACCESS EXCLUSIVE on users at start (ADD COLUMN), briefly
// (tables/lk_users's add_email.toml).
func lkAddEmail(t testing.TB) string {
	t.Helper()
	return loadFixture(t, "tables/lk_users").file("add_email.toml")
}

// lkLog captures the Migrator's log lines with their times.
type lkLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
	times []time.Time
}

func (l *lkLog) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, msg)
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
	l.t.Log(msg)
}

// count returns how many lines contain sub, and how many of those were
// logged before the given time.
func (l *lkLog) count(sub string, before time.Time) (all, early int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range l.lines {
		if strings.Contains(s, sub) {
			all++
			if l.times[i].Before(before) {
				early++
			}
		}
	}
	return all, early
}

// lkBlocker opens a transaction that has read users and so holds ACCESS
// SHARE on it until released: ADD COLUMN cannot get its ACCESS EXCLUSIVE.
func lkBlocker(t *testing.T, e *env) (release func()) {
	t.Helper()
	conn := e.db.Conn(t)
	tx, err := conn.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(e.ctx, "SELECT count(*) FROM users"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := tx.Commit(context.Background()); err != nil {
				t.Errorf("release blocker: %v", err)
			}
		})
	}
}

// lkProbe runs a statement in a loop on its own connection, with a
// statement_timeout, and records the slowest run and every error.
type lkProbe struct {
	mu   sync.Mutex
	max  time.Duration
	n    int
	errs []string
	stop chan struct{}
	done chan struct{}
}

func startProbe(t *testing.T, ctx context.Context, url string, timeout time.Duration, sql func(*rand.Rand) (string, []any)) *lkProbe {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET statement_timeout = '"+pgexec.Millis(timeout)+"'"); err != nil {
		t.Fatal(err)
	}
	p := &lkProbe{stop: make(chan struct{}), done: make(chan struct{})}
	rnd := rand.New(rand.NewPCG(1, 2))
	go func() {
		defer close(p.done)
		defer conn.Close(context.Background())
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			q, args := sql(rnd)
			t0 := time.Now()
			_, err := conn.Exec(ctx, q, args...)
			d := time.Since(t0)
			p.mu.Lock()
			p.n++
			if d > p.max {
				p.max = d
			}
			if err != nil && len(p.errs) < 10 {
				p.errs = append(p.errs, fmt.Sprintf("after %s: %v", d.Round(time.Millisecond), err))
			}
			p.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return p
}

func (p *lkProbe) finish() (max time.Duration, n int, errs []string) {
	close(p.stop)
	<-p.done
	return p.max, p.n, p.errs
}

// lkMonitor samples pg_locks and reports the longest time one transaction
// of a session named "strata" was seen holding ACCESS EXCLUSIVE on a table.
type lkMonitor struct {
	max     time.Duration
	what    string
	samples int
	err     error
	stop    chan struct{}
	done    chan struct{}
}

func startMonitor(t *testing.T, ctx context.Context, url, table string) *lkMonitor {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var oid uint32
	if err := conn.QueryRow(ctx, "SELECT $1::regclass::oid", table).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	m := &lkMonitor{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer conn.Close(context.Background())
		first := map[string]time.Time{}
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			rows, err := conn.Query(ctx, `SELECT l.pid || '/' || l.virtualtransaction
				FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE l.locktype = 'relation' AND l.relation = $1 AND l.mode = 'AccessExclusiveLock'
				  AND l.granted AND a.application_name LIKE 'strata%'`, oid)
			if err == nil {
				var keys []string
				keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
				now := time.Now()
				seen := map[string]time.Time{}
				for _, k := range keys {
					f, ok := first[k]
					if !ok {
						f = now
					}
					seen[k] = f
					if d := now.Sub(f); d > m.max {
						m.max, m.what = d, k
					}
				}
				first = seen
			}
			if err != nil {
				m.err = err
				return
			}
			m.samples++
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return m
}

func (m *lkMonitor) finish(t *testing.T) time.Duration {
	t.Helper()
	close(m.stop)
	<-m.done
	if m.err != nil {
		t.Fatalf("lock monitor: %v", m.err)
	}
	return m.max
}

// waitFor waits until a logged line contains sub, for at most timeout; it
// says whether one did.
func (l *lkLog) waitFor(sub string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if all, _ := l.count(sub, time.Now().Add(time.Hour)); all > 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// first returns the index of the first line containing sub (-1 if none).
func (l *lkLog) first(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range l.lines {
		if strings.Contains(s, sub) {
			return i
		}
	}
	return -1
}

// countAfter returns how many lines after line i contain sub and were
// logged before the given time.
func (l *lkLog) countAfter(i int, sub string, before time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for j := i + 1; j < len(l.lines); j++ {
		if strings.Contains(l.lines[j], sub) && l.times[j].Before(before) {
			n++
		}
	}
	return n
}

// blockerHold is how long a test's blocker keeps its lock once strata has
// said it waits for the blocker's transaction to end: the window in which
// strata must stay out of the lock queue.
const blockerHold = time.Second

// releaseWhenWaitedOut releases a blocker once strata has said that it
// waits for the blocker's transaction to end, and blockerHold later; the
// channel gets the time of the release. Conditioned on strata's progress,
// not on the clock: on a loaded machine strata may need more attempts (each
// a short lock timeout) before it has named the blocker. Should strata
// never say so, the blocker is released after a minute and the test fails.
func releaseWhenWaitedOut(t *testing.T, logs *lkLog, release func()) <-chan time.Time {
	t.Helper()
	released := make(chan time.Time, 1)
	done := make(chan struct{})
	// A test that stops early waits here for the goroutine to end (it
	// must not log after the test has ended).
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		if !logs.waitFor("to end its transaction", time.Minute) {
			t.Errorf("strata did not say within a minute that it waits for the blocker's transaction to end")
		}
		time.Sleep(blockerHold)
		release()
		released <- time.Now()
	}()
	return released
}

// waitedOut checks how strata met a blocker that held its lock until rel
// (released by releaseWhenWaitedOut): an attempt (a line containing
// attempt) timed out, with a short lock timeout, so other sessions queued
// behind it only briefly; a retry named the blocker (pid, when given); and
// from then on strata stayed out of the lock queue (no more attempts) until
// the blocker's transaction ended. How many attempts it took to name the
// blocker depends on the machine's load (the blocker is sampled halfway
// through an attempt's lock timeout): logged, not asserted.
func waitedOut(t *testing.T, logs *lkLog, rel time.Time, attempt string, pid uint32) {
	t.Helper()
	all, early := logs.count(attempt, rel)
	if early == 0 {
		t.Errorf("no attempt timed out (%q) while the blocker held its lock", attempt)
	}
	who := "blocked by pid "
	if pid != 0 {
		who = fmt.Sprintf("blocked by pid %d,", pid)
	}
	named := logs.first(who)
	if n, _ := logs.count(who, rel); n == 0 {
		t.Errorf("no retry message names the blocker (%q) while it held its lock", who)
	} else if again := logs.countAfter(named, attempt, rel); again > 0 {
		t.Errorf("%d more attempt(s) after the blocker was named, while it still held its lock: strata did not stay out of the lock queue", again)
	}
	if n, _ := logs.count("to end its transaction", rel); n == 0 {
		t.Errorf("no message says strata waits for the blocker's transaction to end")
	}
	t.Logf("%d attempt(s) timed out while the blocker held its lock (%d in all)", early, all)
}

// TestStartRetriesWhileTableIsBusy: an open transaction that has read the
// table blocks ADD COLUMN; start times out once (a short lock_timeout: other
// sessions queue behind it only briefly), names the blocker, waits outside
// the lock queue while the blocker's transaction lasts, and succeeds once
// the blocker commits.
func TestStartRetriesWhileTableIsBusy(t *testing.T) {
	logs := &lkLog{t: t}
	e := newEnv(t, tables(t, "lk_users"), func(o *engine.Options) {
		o.LockTimeout = 200 * time.Millisecond
		o.Logf = logs.logf
	})
	migs := e.migs("", "001_email.toml", lkAddEmail(t))
	release := lkBlocker(t, e)
	released := releaseWhenWaitedOut(t, logs, release)
	// Readers must not wait behind strata's queued lock request for much
	// longer than its lock_timeout (200ms); without it they would wait for
	// as long as the blocker holds on.
	probe := startProbe(t, e.ctx, e.db.URL, 750*time.Millisecond, func(r *rand.Rand) (string, []any) {
		return "SELECT name FROM users WHERE id = $1", []any{r.IntN(100) + 1}
	})
	t0 := time.Now()
	res := e.start(migs)
	finished := time.Now()
	max, n, errs := probe.finish()
	rel := <-released
	all, early := logs.count("lock not available", rel)
	t.Logf("start took %s; %d retries (%d before the blocker committed); readers: %d queries, slowest %s",
		finished.Sub(t0).Round(time.Millisecond), all, early, n, max.Round(time.Millisecond))
	waitedOut(t, logs, rel, "lock not available", 0)
	if finished.Before(rel) {
		t.Errorf("start finished at %s, before the blocker released its lock at %s", finished, rel)
	}
	if len(errs) > 0 {
		t.Errorf("readers failed while start retried: %v", errs)
	}
	newc := e.versionConn(res.VersionSchema, "public")
	exec(t, e.ctx, newc, "INSERT INTO users (name, email) VALUES ('x', 'x@example.com')")
	e.complete()
	got := queryStrings(t, e.ctx, e.db.Conn(t), "SELECT name, email FROM users WHERE email IS NOT NULL")
	if diff := cmp.Diff([]string{"x|x@example.com"}, got); diff != "" {
		t.Errorf("after complete (-want +got):\n%s", diff)
	}
	e.assertClean("")
}

// TestStartGivesUpAtLockDeadline: with a blocker that never lets go, start
// fails with ErrDeadline once LockDeadline has passed, and leaves a state
// from which start resumes, or abort undoes everything, once the table is
// free again.
func TestStartGivesUpAtLockDeadline(t *testing.T) {
	for _, then := range []string{"resume", "abort"} {
		t.Run(then, func(t *testing.T) {
			e := newEnv(t, tables(t, "lk_users"), func(o *engine.Options) {
				o.LockTimeout = 200 * time.Millisecond
				o.LockDeadline = time.Second
			})
			migs := e.migs("", "001_email.toml", lkAddEmail(t))
			before := e.snapshot("public")
			release := lkBlocker(t, e)
			// A safety net: should start not give up, it fails the test
			// in seconds instead of hanging.
			safety := time.AfterFunc(10*time.Second, release)
			defer safety.Stop()
			t0 := time.Now()
			_, err := e.m.Start(e.ctx, migs)
			took := time.Since(t0)
			if !errors.Is(err, pgexec.ErrDeadline) {
				t.Fatalf("start with a blocked table: got error %v, want one wrapping pgexec.ErrDeadline", err)
			}
			t.Logf("start gave up after %s: %v", took.Round(time.Millisecond), err)
			if took < 900*time.Millisecond || took > 10*time.Second {
				t.Errorf("start gave up after %s; want about the 1s LockDeadline", took)
			}
			st, err := e.m.Status(e.ctx, migs)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != "in_progress" || st.Phase != "starting" {
				t.Errorf("status after the failed start: state %q phase %q, want in_progress/starting", st.State, st.Phase)
			}
			release()
			switch then {
			case "resume":
				res := e.start(migs)
				if !res.Resumed {
					t.Errorf("start after the failure did not resume the interrupted start")
				}
				newc := e.versionConn(res.VersionSchema, "public")
				exec(t, e.ctx, newc, "UPDATE users SET email = name || '@example.com' WHERE id = 1")
				e.complete()
				got := queryStrings(t, e.ctx, e.db.Conn(t), "SELECT email FROM users WHERE id = 1")
				if diff := cmp.Diff([]string{"u1@example.com"}, got); diff != "" {
					t.Errorf("after complete (-want +got):\n%s", diff)
				}
			case "abort":
				e.abort()
				if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
					t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
				}
				// And the migration can be started afresh.
				e.start(migs)
				e.complete()
			}
			e.assertClean("")
		})
	}
}

// TestNoLongAccessExclusiveLocks drives a type change and a NOT NULL column
// on a table of 100,000 rows through start (with backfill and validation)
// and complete, and checks that strata never made other sessions wait:
//   - no transaction of strata's was seen holding ACCESS EXCLUSIVE on the
//     table for as long as the lock timeout (1s);
//   - a reader and a writer of the table, each with a statement_timeout of
//     twice the lock timeout (a session may wait up to a lock timeout
//     behind a queued lock request of strata's, plus the hold), never time
//     out nor take that long;
//   - the table was never rewritten (same relfilenode throughout);
//   - complete, whose steps all take ACCESS EXCLUSIVE, scanned the table
//     not once (pg_stat_user_tables.seq_scan unchanged).
//
// The first two checks are calibrated first: a 2.5s ACCESS EXCLUSIVE hold
// by a session named strata must trip both.
func TestNoLongAccessExclusiveLocks(t *testing.T) {
	const (
		threshold  = time.Second   // lock timeout, and the longest hold allowed
		probeLimit = 2 * threshold // the longest wait of a client
	)
	e := newEnv(t, tables(t, "big_items"), func(o *engine.Options) {
		o.BatchSize = 1000
		o.LockTimeout = threshold
	})
	migs := e.migs("", "001_numeric_val.toml", concurrencyMigration(t))
	conn := e.db.Conn(t)
	// Counting scans needs statistics flushed by a session as it exits,
	// which PostgreSQL 15+ does synchronously (earlier versions send them
	// to the collector with a delay).
	var track bool
	if err := conn.QueryRow(e.ctx, `SELECT current_setting('track_counts')::bool
		AND current_setting('server_version_num')::int >= 150000`).Scan(&track); err != nil {
		t.Fatal(err)
	}
	reader := func(r *rand.Rand) (string, []any) {
		return "SELECT id FROM items WHERE id = $1", []any{r.IntN(100000) + 1}
	}
	writer := func(r *rand.Rand) (string, []any) {
		return "UPDATE items SET id = id WHERE id = $1", []any{r.IntN(100000) + 1}
	}

	// Calibration: a long ACCESS EXCLUSIVE hold is seen by both checks.
	strataCfg, err := pgx.ParseConfig(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	strataCfg.RuntimeParams["application_name"] = "strata"
	holder, err := pgx.ConnectConfig(e.ctx, strataCfg)
	if err != nil {
		t.Fatal(err)
	}
	mon := startMonitor(t, e.ctx, e.db.URL, "public.items")
	rp := startProbe(t, e.ctx, e.db.URL, probeLimit, reader)
	time.Sleep(100 * time.Millisecond)
	if _, err := holder.Exec(e.ctx, "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2.5); COMMIT"); err != nil {
		t.Fatal(err)
	}
	holder.Close(e.ctx)
	time.Sleep(100 * time.Millisecond)
	rmax, _, rerrs := rp.finish()
	if held := mon.finish(t); held < threshold {
		t.Fatalf("calibration: the monitor saw a 2.5s ACCESS EXCLUSIVE hold as %s", held)
	}
	if rmax < probeLimit || len(rerrs) == 0 {
		t.Fatalf("calibration: the reader did not notice a 2.5s ACCESS EXCLUSIVE hold (slowest %s, errors %v)", rmax, rerrs)
	}

	relfilenode := func() string {
		return strings.Join(queryStrings(t, e.ctx, conn, "SELECT pg_relation_filenode('public.items')"), "")
	}
	seqScans := func() int64 {
		t.Helper()
		// Sessions flush their statistics when they exit: wait for
		// strata's to be gone.
		for i := 0; ; i++ {
			var n int
			if err := conn.QueryRow(e.ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'strata%' AND datname = current_database()").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if i > 100 {
				t.Fatalf("strata sessions still open after the call returned")
			}
			time.Sleep(50 * time.Millisecond)
		}
		var s int64
		if err := conn.QueryRow(e.ctx, "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'public.items'::regclass").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	node := relfilenode()

	mon = startMonitor(t, e.ctx, e.db.URL, "public.items")
	rp = startProbe(t, e.ctx, e.db.URL, probeLimit, reader)
	wp := startProbe(t, e.ctx, e.db.URL, probeLimit, writer)
	t0 := time.Now()
	e.start(migs)
	t.Logf("start took %s", time.Since(t0).Round(time.Millisecond))
	scansBefore := seqScans()
	t1 := time.Now()
	e.complete()
	t.Logf("complete took %s", time.Since(t1).Round(time.Millisecond))
	scansAfter := seqScans()
	time.Sleep(100 * time.Millisecond)
	rmax, rn, rerrs := rp.finish()
	wmax, wn, werrs := wp.finish()
	held := mon.finish(t)
	t.Logf("reader: %d queries, slowest %s; writer: %d updates, slowest %s; longest ACCESS EXCLUSIVE hold seen: %s (%d samples)",
		rn, rmax.Round(time.Millisecond), wn, wmax.Round(time.Millisecond), held.Round(time.Millisecond), mon.samples)
	if len(rerrs) > 0 || rmax >= probeLimit {
		t.Errorf("a reader waited %s (errors: %v)", rmax, rerrs)
	}
	if len(werrs) > 0 || wmax >= probeLimit {
		t.Errorf("a writer waited %s (errors: %v)", wmax, werrs)
	}
	if held >= threshold {
		t.Errorf("strata held ACCESS EXCLUSIVE on items for %s (%s)", held, mon.what)
	}
	if got := relfilenode(); got != node {
		t.Errorf("items was rewritten: relfilenode %s -> %s", node, got)
	}
	if !track {
		t.Logf("not counting scans (track_counts off or PostgreSQL < 15)")
	} else if scansAfter != scansBefore {
		t.Errorf("complete scanned items %d time(s) under ACCESS EXCLUSIVE", scansAfter-scansBefore)
	}
	e.assertClean("")
}

// TestStartRefusedWhilePhaseInProgress: start refuses, with an error
// matching ErrPhaseInProgress and without changing anything, while a phase
// is started, or while an interrupted start is recorded for other
// migrations; complete refuses while start has not finished.
func TestStartRefusedWhilePhaseInProgress(t *testing.T) {
	t.Run("started", func(t *testing.T) {
		e := newEnv(t, tables(t, "lk_users"))
		first := e.migs("", "001_email.toml", lkAddEmail(t))
		both := e.migs("", "001_email.toml", lkAddEmail(t), "002_phone.toml", loadFixture(t, "locks/phase_in_progress").file("migrations/002_phone.toml"))
		e.start(first)
		before := e.snapshot()
		for _, migs := range [][]*migration.Migration{first, both} {
			_, err := e.m.Start(e.ctx, migs)
			if !errors.Is(err, engine.ErrPhaseInProgress) {
				t.Errorf("start of %d migration(s) during a started phase: got %v, want ErrPhaseInProgress", len(migs), err)
			}
		}
		if diff := cmp.Diff(before, e.snapshot()); diff != "" {
			t.Errorf("a refused start changed the catalog (-before +after):\n%s", diff)
		}
		e.complete()
		e.start(both) // now 002 is the only pending one
		e.complete()
		e.assertClean("")
	})
	t.Run("interrupted start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e := newEnv(t, tables(t, "lk_users"), func(o *engine.Options) {
			o.AfterStep = func(phase string, st engine.Step) {
				if phase == "start" && strings.HasPrefix(st.ID, "add-column:") {
					cancel() // interrupts start before its next step
				}
			}
		})
		first := e.migs("", "001_email.toml", lkAddEmail(t))
		both := e.migs("", "001_email.toml", lkAddEmail(t), "002_phone.toml", loadFixture(t, "locks/phase_in_progress").file("migrations/002_phone.toml"))
		if _, err := e.m.Start(ctx, first); err == nil {
			t.Fatal("start did not stop when its context was cancelled")
		}
		st, err := e.m.Status(e.ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if st.Phase != "starting" {
			t.Fatalf("phase %q after the interrupted start, want starting", st.Phase)
		}
		before := e.snapshot()
		if _, err := e.m.Start(e.ctx, both); !errors.Is(err, engine.ErrPhaseInProgress) {
			t.Errorf("start of other migrations during an interrupted start: got %v, want ErrPhaseInProgress", err)
		}
		if _, err := e.m.Complete(e.ctx); !errors.Is(err, engine.ErrPhaseInProgress) {
			t.Errorf("complete during an interrupted start: got %v, want ErrPhaseInProgress", err)
		}
		if diff := cmp.Diff(before, e.snapshot()); diff != "" {
			t.Errorf("a refused command changed the catalog (-before +after):\n%s", diff)
		}
		// The same migrations resume.
		if res := e.start(first); !res.Resumed {
			t.Errorf("start of the same migrations did not resume")
		}
		e.complete()
		e.assertClean("")
	})
}

// TestStartRetriesWhileTableIsLockedExclusively: a session holding ACCESS
// EXCLUSIVE on the table (another tool's DDL, say) blocks even the reads of
// start's planning; start retries them too and succeeds once it commits.
// Planning first meets the lock reading the catalog (pg_get_expr of a
// column default locks the table) or, for a table without defaults, when it
// checks the `up` expression against the table, which must not be reported
// as an invalid expression.
func TestStartRetriesWhileTableIsLockedExclusively(t *testing.T) {
	for name, table := range map[string]string{
		"catalog": "CREATE TABLE items (id bigserial PRIMARY KEY, val text NOT NULL)",
		"check":   "CREATE TABLE items (id bigint PRIMARY KEY, val text NOT NULL)",
	} {
		t.Run(name, func(t *testing.T) {
			logs := &lkLog{t: t}
			e := newEnv(t, table+`;
				INSERT INTO items (id, val) SELECT g, g::text FROM generate_series(1, 100) g;`, func(o *engine.Options) {
				o.LockTimeout = 200 * time.Millisecond
				o.Logf = logs.logf
			})
			migs := e.migs("", "001_numeric_val.toml", concurrencyMigration(t))
			conn := e.db.Conn(t)
			tx, err := conn.Begin(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(e.ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			released := releaseWhenWaitedOut(t, logs, func() {
				if err := tx.Commit(context.Background()); err != nil {
					t.Errorf("release blocker: %v", err)
				}
			})
			res, err := e.m.Start(e.ctx, migs)
			rel := <-released
			if err != nil {
				t.Fatalf("start while another session held ACCESS EXCLUSIVE: %v", err)
			}
			waitedOut(t, logs, rel, "lock not available", conn.PgConn().PID())
			newc := e.versionConn(res.VersionSchema, "public")
			got := queryStrings(t, e.ctx, newc, "SELECT val::text, whole FROM items WHERE id = 7")
			if diff := cmp.Diff([]string{"7|7"}, got); diff != "" {
				t.Errorf("new version (-want +got):\n%s", diff)
			}
			e.complete()
			e.assertClean("")
		})
	}
}
