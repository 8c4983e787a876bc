package backfill_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratapg/strata/backfill"
)

// wideDDL is a table of full pages (autovacuum off, so that only the
// backfill's own VACUUMs reuse space) whose rows a backfill rewrites.
const wideDDL = `CREATE TABLE items (id bigint PRIMARY KEY, pad text NOT NULL, x bigint) WITH (autovacuum_enabled = off);
	INSERT INTO items SELECT g, repeat('p', 60), NULL FROM generate_series(1, 40000) g;`

func newWide(t *testing.T) *fixture {
	f := newFixture(t, wideDDL)
	if _, err := f.conn.Exec(f.ctx, `VACUUM ANALYZE items`); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) heapSize() int64 { return f.count(`SELECT pg_table_size('items')`) }

// The table grows by about one interval, not by its size, and the progress
// reports say so.
func TestSpaceReuseBoundsGrowth(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fraction  float64
		maxGrowth float64
		minGrowth float64
	}{
		{"reuse on", 0.1, 1.3, 0},
		{"reuse off", -1, 3, 1.7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newWide(t)
			f.r.BatchSize = 1000
			f.r.VacuumFraction = tc.fraction
			var last backfill.Progress
			f.r.Progress = func(p backfill.Progress) { last = p }
			before := f.heapSize()
			ixBefore := f.count(`SELECT pg_indexes_size('items')`)
			if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
				t.Fatal(err)
			}
			after := f.heapSize()
			g := float64(after) / float64(before)
			if ix := float64(f.count(`SELECT pg_indexes_size('items')`)) / float64(ixBefore); tc.fraction > 0 && ix > 1.3 {
				t.Errorf("indexes grew %.2fx: the doubled index was not rebuilt", ix)
			} else {
				t.Logf("indexes %.2fx", ix)
			}
			t.Logf("heap %d -> %d bytes (%.2fx), %d vacuums, expected extra %d", before, after, g, last.Vacuums, last.ExpectedExtra)
			if g > tc.maxGrowth || g < tc.minGrowth {
				t.Errorf("growth %.2fx, want in [%.2f, %.2f]", g, tc.minGrowth, tc.maxGrowth)
			}
			if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
				t.Errorf("%d rows not filled", n)
			}
			if tc.fraction > 0 && (last.Vacuums < 5 || last.ExpectedExtra <= 0 || last.ExpectedExtra > before/5) {
				t.Errorf("vacuums %d, expected extra %d of %d: want about ten, a tenth", last.Vacuums, last.ExpectedExtra, before)
			}
			if tc.fraction < 0 && (last.Vacuums != 0 || last.ExpectedExtra != last.SizeBefore) {
				t.Errorf("reuse off: vacuums %d, expected extra %d, want 0 and the size %d", last.Vacuums, last.ExpectedExtra, last.SizeBefore)
			}
			if last.SpaceBlocked != "" {
				t.Errorf("space reported blocked with nothing holding it: %s", last.SpaceBlocked)
			}
		})
	}
}

// A session holding an old snapshot keeps the space from being reused: the
// progress output names its pid and says so.
func TestOldSnapshotNamedInProgress(t *testing.T) {
	f := newWide(t)
	f.r.BatchSize = 1000
	holder := f.db.Conn(t)
	var pid int
	if err := holder.QueryRow(f.ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(f.ctx, `BEGIN ISOLATION LEVEL REPEATABLE READ`); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := holder.QueryRow(f.ctx, `SELECT count(*) FROM items`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var blocked []string
	var last backfill.Progress
	f.r.Progress = func(p backfill.Progress) {
		mu.Lock()
		defer mu.Unlock()
		last = p
		if p.SpaceBlocked != "" {
			blocked = append(blocked, p.SpaceBlocked)
		}
	}
	before := f.heapSize()
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if len(blocked) == 0 {
		t.Fatalf("no progress report said the space is blocked (last: %+v)", last)
	}
	msg := blocked[len(blocked)-1]
	t.Log(msg)
	if !strings.Contains(msg, "pid "+strconv.Itoa(pid)) || !strings.Contains(msg, "space cannot be reused") ||
		!strings.Contains(msg, "pg_terminate_backend("+strconv.Itoa(pid)+")") {
		t.Errorf("message %q does not name pid %d and say that space cannot be reused", msg, pid)
	}
	if last.ExpectedExtra != last.SizeBefore {
		t.Errorf("blocked: expected extra %d, want the worst case %d", last.ExpectedExtra, last.SizeBefore)
	}
	if g := float64(f.heapSize()) / float64(before); g < 1.7 {
		t.Errorf("growth %.2fx with an old snapshot held: the test does not hold back VACUUM", g)
	}
	if _, err := holder.Exec(f.ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
}

// While the application is active the backfill still fills every row and
// rebuilds the doubled index (then without parallel workers, a session
// setting it resets afterwards).
func TestSpaceReuseWhileTheApplicationIsActive(t *testing.T) {
	f := newWide(t)
	f.r.BatchSize = 1000
	f.r.TargetDuration = 0
	f.r.VacuumFraction = 0.1
	var workersBefore string
	if err := f.conn.QueryRow(f.ctx, `SHOW max_parallel_maintenance_workers`).Scan(&workersBefore); err != nil {
		t.Fatal(err)
	}
	// The application: a session running short statements back to back
	// (one long statement would hold a snapshot and keep the space from
	// being reused).
	app := f.db.Conn(t)
	var appPid int64
	if err := app.QueryRow(f.ctx, `SELECT pg_backend_pid()`).Scan(&appPid); err != nil {
		t.Fatal(err)
	}
	appCtx, stop := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for appCtx.Err() == nil {
			_, _ = app.Exec(appCtx, `SELECT pg_sleep(0.02)`)
		}
	}()
	defer func() { stop(); wg.Wait() }()
	for i := 0; f.count(`SELECT count(*) FROM pg_stat_activity WHERE pid = `+strconv.FormatInt(appPid, 10)+` AND state = 'active'`) == 0; i++ {
		if i > 200 {
			t.Fatal("the application session never showed as active")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ixBefore := f.count(`SELECT pg_indexes_size('items')`)
	var last backfill.Progress
	f.r.Progress = func(p backfill.Progress) { last = p }
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled", n)
	}
	if ix := float64(f.count(`SELECT pg_indexes_size('items')`)) / float64(ixBefore); ix > 1.3 {
		// SpaceBlocked says why: a snapshot older than the last interval's
		// updates (the rebuild is then skipped), or the rebuild's failure.
		t.Errorf("indexes grew %.2fx: the doubled index was not rebuilt (space blocked or not rebuilt: %q)", ix, last.SpaceBlocked)
	}
	if last.Vacuums < 5 {
		t.Errorf("%d VACUUMs, want about ten", last.Vacuums)
	}
	var workersAfter string
	if err := f.conn.QueryRow(f.ctx, `SHOW max_parallel_maintenance_workers`).Scan(&workersAfter); err != nil {
		t.Fatal(err)
	}
	if workersAfter != workersBefore {
		t.Errorf("max_parallel_maintenance_workers %s after the backfill, %s before: the rebuild's setting was not reset", workersAfter, workersBefore)
	}
}
