package backfill_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/state"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	t    *testing.T
	ctx  context.Context
	db   *pgtest.DB
	conn *pgx.Conn
	r    *backfill.Runner
}

// newFixture makes table items(id, x) with n rows and a runner on it.
func newFixture(t *testing.T, ddl string) *fixture {
	t.Helper()
	db := pgtest.New(t)
	db.Exec(t, ddl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	conn := db.Conn(t)
	store := &state.Store{Schema: "strata"}
	if err := store.Init(ctx, conn); err != nil {
		t.Fatal(err)
	}
	r := &backfill.Runner{Exec: &pgexec.Runner{}, Store: store, Schema: "public", BatchSize: 100, TargetDuration: -1,
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, db.URL) }}
	return &fixture{t: t, ctx: ctx, db: db, conn: conn, r: r}
}

func (f *fixture) count(sql string) int64 {
	f.t.Helper()
	var n int64
	if err := f.conn.QueryRow(f.ctx, sql).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) rowsDone(step string) int64 {
	f.t.Helper()
	return f.count(`SELECT coalesce(sum(rows_done), 0) FROM strata.backfill WHERE step LIKE '` + step + `#%'`)
}

var items = backfill.Spec{Schema: "public", Table: "items", Key: []string{"id"}, KeyTypes: []string{"bigint"},
	Set: `"x" = "id" * 2`, Direct: true}

const itemsDDL = `CREATE TABLE items (id bigint PRIMARY KEY, x bigint);
	INSERT INTO items SELECT g, NULL FROM generate_series(1, 5000) g; ANALYZE items;`

func TestFillsEveryRowOnce(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(map[int]string{1: "one worker", 3: "three workers"}[workers], func(t *testing.T) {
			f := newFixture(t, itemsDDL)
			f.r.Workers = workers
			if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
				t.Fatal(err)
			}
			if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
				t.Errorf("%d rows not filled", n)
			}
			// Disjoint ranges: every row counted exactly once.
			if got := f.rowsDone("bf"); got != 5000 {
				t.Errorf("rows done = %d, want 5000", got)
			}
			if got := f.count(`SELECT count(*) FROM strata.backfill WHERE step LIKE 'bf#%'`); got != int64(workers) {
				t.Errorf("%d checkpoints, want one per worker (%d)", got, workers)
			}
		})
	}
}

// TestResumesAfterInterruption: a backfill stopped after some batches (as by
// a crash: the context ends mid-run) resumes from its checkpoint and counts
// no row twice.
func TestResumesAfterInterruption(t *testing.T) {
	f := newFixture(t, itemsDDL)
	ctx, cancel := context.WithCancel(f.ctx)
	f.r.AfterBatch = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	if err := f.r.Run(ctx, f.conn, "bf", items); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	f.conn = f.db.Conn(t) // a cancelled query closes its connection
	done := f.count(`SELECT count(*) FROM items WHERE x IS NOT NULL`)
	if done != 300 {
		t.Errorf("after 3 batches of 100: %d rows filled, want 300", done)
	}
	f.r.AfterBatch = nil
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled after resuming", n)
	}
	if got := f.rowsDone("bf"); got != 5000 {
		t.Errorf("rows done = %d, want 5000", got)
	}
}

// TestSnapshotBounded: rows inserted after the backfill began are left to the
// sync triggers; the backfill ends at the key that was last when it began.
func TestSnapshotBounded(t *testing.T) {
	f := newFixture(t, itemsDDL)
	other := f.db.Conn(t)
	next := 5001
	f.r.AfterBatch = func(int) {
		if _, err := other.Exec(f.ctx, `INSERT INTO items SELECT g, NULL FROM generate_series($1::int, $1::int + 99) g`, next); err != nil {
			t.Error(err)
		}
		next += 100
	}
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE id <= 5000 AND x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d original rows not filled", n)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE id > 5000 AND x IS NOT NULL`); n != 0 {
		t.Errorf("%d rows inserted after the start were filled: the backfill chased new rows", n)
	}
}

func TestEmptyTable(t *testing.T) {
	f := newFixture(t, `CREATE TABLE items (id bigint PRIMARY KEY, x bigint)`)
	batches := 0
	f.r.AfterBatch = func(int) { batches++ }
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if batches != 0 {
		t.Errorf("%d batches on an empty table, want 0", batches)
	}
}

// TestKeylessTable: without a primary key or unique key, batches are ranges
// of pages.
func TestKeylessTable(t *testing.T) {
	f := newFixture(t, `CREATE TABLE items (id bigint, x bigint);
		INSERT INTO items SELECT g % 700, NULL FROM generate_series(1, 3000) g; ANALYZE items;`)
	spec := items
	spec.Key, spec.KeyTypes = nil, nil
	f.r.BatchSize = 2 // pages
	batches := 0
	f.r.AfterBatch = func(int) { batches++ }
	f.r.Workers = 2
	if err := f.r.Run(f.ctx, f.conn, "bf", spec); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled", n)
	}
	if batches < 3 {
		t.Errorf("%d batches, want several page ranges", batches)
	}
	if sql := backfill.BatchSQL(spec); !strings.Contains(sql[0], "ctid >=") {
		t.Errorf("keyless batch SQL does not use ctid ranges: %s", sql[0])
	}
}

// TestBatchesUseIndexRanges: every batch query is an index range scan, so a
// batch costs the same at any position in the table.
func TestBatchesUseIndexRanges(t *testing.T) {
	f := newFixture(t, `CREATE TABLE items (id bigint PRIMARY KEY, x bigint);
		INSERT INTO items SELECT g, NULL FROM generate_series(1, 200000) g; ANALYZE items;`)
	for _, q := range backfill.BatchSQL(items) {
		var plan strings.Builder
		tx, err := f.conn.Begin(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		args := []any{"150000", "151000"}
		if strings.Contains(q, "OFFSET") {
			args = append(args, 999)
		}
		rows, err := tx.Query(f.ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		_ = tx.Rollback(f.ctx)
		if strings.Contains(plan.String(), "Seq Scan") || !strings.Contains(plan.String(), "Index") {
			t.Errorf("batch query is not an index range scan:\n%s\n%s", q, plan.String())
		}
	}
}

func TestAdaptiveBatchSize(t *testing.T) {
	f := newFixture(t, itemsDDL)
	var sizes []int
	f.r.Progress = func(p backfill.Progress) {
		if !p.Done || p.BatchSize > 0 {
			sizes = append(sizes, p.BatchSize)
		}
	}
	f.r.TargetDuration = time.Hour // every batch is far quicker: the size doubles
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if len(sizes) < 3 || sizes[0] != 100 || sizes[1] != 200 || sizes[2] != 400 {
		t.Errorf("batch sizes %v: want 100, 200, 400, ... doubling toward the target", sizes)
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, `CREATE TABLE items (id bigint PRIMARY KEY, x bigint);
		INSERT INTO items SELECT g, NULL FROM generate_series(1, 1000) g; ANALYZE items;`)
	f.r.MaxRowsPerSecond = 2500
	start := time.Now()
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	// 1000 rows at 2500 rows/s: at least 0.36 s (the last batch need not wait).
	if d := time.Since(start); d < 360*time.Millisecond {
		t.Errorf("1000 rows throttled to 2500 rows/s took %s", d)
	}
}

// TestTriggerMode: without Direct, the SET list is a no-op that fires a
// trigger, which computes the value (here a stand-in for the sync trigger).
func TestTriggerMode(t *testing.T) {
	f := newFixture(t, itemsDDL+`
		CREATE FUNCTION fill() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF current_setting('strata.backfill', true) = 'on' THEN NEW.x := NEW.id * 2; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER fill BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION fill();`)
	spec := items
	spec.Set, spec.Direct = `"x" = "x"`, false
	if err := f.r.Run(f.ctx, f.conn, "bf", spec); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled through the trigger", n)
	}
}

// TestReplicationLagCheck: with no standby, the lag check finds no lag and
// the backfill goes on (the check's query must work on a primary).
func TestReplicationLagCheck(t *testing.T) {
	f := newFixture(t, itemsDDL)
	f.r.MaxReplicationLag = time.Millisecond
	paused := false
	f.r.Progress = func(p backfill.Progress) {
		if p.Paused != "" {
			paused = true
		}
	}
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if paused {
		t.Error("paused for replication lag on a server without standbys")
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled", n)
	}
}

// TestWorkerErrorStopsTheOthers: when a worker fails (here: it cannot
// connect), the run returns its error and the other workers stop.
func TestWorkerErrorStopsTheOthers(t *testing.T) {
	f := newFixture(t, itemsDDL)
	boom := errors.New("boom")
	f.r.Workers = 3
	f.r.Connect = func(context.Context) (*pgx.Conn, error) { return nil, boom }
	if err := f.r.Run(f.ctx, f.conn, "bf", items); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the failed worker's error", err)
	}
	f.conn = f.db.Conn(t) // a cancelled query closes its connection
	if n := f.count(`SELECT count(*) FROM items WHERE x IS NOT NULL`); n >= 5000 {
		t.Errorf("%d rows filled: the first worker went on after the others failed", n)
	}
}

// TestRateCountsOnlyThisRun: after a resume, progress reports and the
// checkpoints count this run's rows apart (RowsThisRun, RunRowsStart), so
// the rate is this run's: 300 rows were filled by the interrupted run.
func TestRateCountsOnlyThisRun(t *testing.T) {
	f := newFixture(t, itemsDDL)
	ctx, cancel := context.WithCancel(f.ctx)
	f.r.AfterBatch = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	if err := f.r.Run(ctx, f.conn, "bf", items); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	f.conn = f.db.Conn(t)
	f.r.AfterBatch = nil
	var first, last backfill.Progress
	f.r.Progress = func(p backfill.Progress) {
		if first.Table == "" {
			first = p
		}
		last = p
	}
	// The checkpoint a resume saves mid-run, as status reads it.
	var mid []backfill.Checkpoint
	f.r.AfterBatch = func(n int) {
		if n == 2 {
			cps, err := (&state.Store{Schema: "strata"}).Checkpoints(f.ctx, f.db.Conn(t), "public")
			if err != nil {
				t.Error(err)
			}
			mid = cps
		}
	}
	if err := f.r.Run(f.ctx, f.conn, "bf", items); err != nil {
		t.Fatal(err)
	}
	if first.RowsDone != 400 || first.RowsThisRun != 100 {
		t.Errorf("first report of the resumed run: rows done %d, this run %d; want 400 and 100", first.RowsDone, first.RowsThisRun)
	}
	if !last.Done || last.RowsDone != 5000 || last.RowsThisRun != 4700 {
		t.Errorf("last report: done %v, rows done %d, this run %d; want true, 5000, 4700", last.Done, last.RowsDone, last.RowsThisRun)
	}
	if want := backfill.Rate(4700, last.Elapsed); last.Rate() != want || want <= 0 {
		t.Errorf("rate %v, want %v (this run's rows over this run's time)", last.Rate(), want)
	}
	if len(mid) != 1 || mid[0].RunRowsStart != 300 || mid[0].RowsDone != 500 || mid[0].RunElapsed <= 0 {
		t.Fatalf("checkpoint mid-resume: %+v; want run_rows_start 300, rows 500, a run time", mid)
	}
	if r := backfill.RunRate(mid); r != backfill.Rate(200, mid[0].RunElapsed) {
		t.Errorf("RunRate = %v, want 200 rows over %s", r, mid[0].RunElapsed)
	}
}

// TestProgressNamesBlockers: while a batch waits for a row lock the
// application holds, progress reports name the blocking session's pid
// (pg_blocking_pids); once it ends its transaction the backfill finishes.
func TestProgressNamesBlockers(t *testing.T) {
	f := newFixture(t, itemsDDL)
	connect := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, f.db.URL) }
	f.r.Exec = &pgexec.Runner{LockTimeout: 100 * time.Millisecond, Monitor: &pgexec.Monitor{Connect: connect}}
	t.Cleanup(f.r.Exec.Monitor.Close)
	app := f.db.Conn(t)
	tx, err := app.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var appPID int
	if err := tx.QueryRow(f.ctx, `SELECT pg_backend_pid()`).Scan(&appPID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx, `UPDATE items SET x = 0 WHERE id = 150`); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan []int, 1)
	f.r.Progress = func(p backfill.Progress) {
		if len(p.BlockingPIDs) > 0 {
			select {
			case blocked <- p.BlockingPIDs:
			default:
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- f.r.Run(f.ctx, f.conn, "bf", items) }()
	select {
	case pids := <-blocked:
		if len(pids) != 1 || pids[0] != appPID {
			t.Errorf("blocking pids %v, want [%d]", pids, appPID)
		}
	case err := <-done:
		t.Fatalf("backfill ended (%v) without reporting the blocker", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no progress report named the blocker within 30s")
	}
	if err := tx.Rollback(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled", n)
	}
}
