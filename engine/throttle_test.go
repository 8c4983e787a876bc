package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/state"
)

// TestThrottleKeptOnResume: the backfill settings start was given are
// stored with the phase; a resumed start runs with them, except a setting
// given again (it wins, and is stored); status shows them, and its rate
// counts only the resumed run's rows.
func TestThrottleKeptOnResume(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "throttle/resume")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t, fx.setup(), func(o *engine.Options) {
		o.BatchSize, o.BatchTarget, o.MaxRowsPerSecond, o.MaxAppLatency = 100, -1, 1e6, 0
		o.AfterBatch = func(n int) {
			if n == 3 {
				cancel()
			}
		}
	})
	migs := e.migs("", fx.migrations()...)
	if _, err := e.m.Start(ctx, migs); err == nil {
		t.Fatal("start was not interrupted")
	}
	stored := engine.Throttle{BatchSize: 100, BatchTargetSeconds: -1e-9, BackfillWorkers: 1, MaxRowsPerSecond: 1e6}
	st, err := e.m.Status(e.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Throttle == nil {
		t.Fatal("status shows no throttle settings for the interrupted phase")
	}
	if d := cmp.Diff(stored, *st.Throttle); d != "" {
		t.Errorf("stored throttle (-want +got):\n%s", d)
	}

	// Resume with other defaults and --batch-size 70 given: the batches
	// are of 70 rows (fixed: the stored batch target is kept).
	var mu sync.Mutex
	sizes := map[int]bool{}
	var last backfill.Progress
	m2, err := engine.New(e.db.URL, engine.Options{BatchSize: 70, Workers: 1, Logf: t.Logf,
		ThrottleGiven: func(name string) bool { return name == "batch-size" },
		Progress: func(p backfill.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.BatchSize > 0 {
				sizes[p.BatchSize] = true
			}
			last = p
		}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m2.Start(e.ctx, migs)
	if err != nil || !res.Resumed {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if d := cmp.Diff(map[int]bool{70: true}, sizes); d != "" {
		t.Errorf("batch sizes of the resumed run (-want +got):\n%s", d)
	}
	if last.RowsDone != 3000 || last.RowsThisRun != 2700 {
		t.Errorf("last progress: %d rows, %d this run; want 3000 and 2700", last.RowsDone, last.RowsThisRun)
	}
	st, err = m2.Status(e.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	stored.BatchSize = 70
	if st.Throttle == nil || cmp.Diff(stored, *st.Throttle) != "" {
		t.Errorf("throttle after the resume: %+v, want %+v", st.Throttle, stored)
	}
	if len(st.Backfills) != 1 || st.Backfills[0].RowsPerSecond <= 0 {
		t.Fatalf("status backfills: %+v", st.Backfills)
	}
	// Status's rate: the resumed run's 2700 rows over its time, not 3000.
	b := st.Backfills[0]
	cps, err := stateCheckpoints(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := backfill.RunRate(cps); b.RowsPerSecond != want {
		t.Errorf("status rate %v, want backfill.RunRate %v", b.RowsPerSecond, want)
	}
	if cps[0].RunRowsStart != 300 {
		t.Errorf("run_rows_start = %d, want 300 (the interrupted run's rows)", cps[0].RunRowsStart)
	}
	e.m = m2
	e.complete()
}

// stateCheckpoints reads the backfill checkpoints of schema public.
func stateCheckpoints(e *env) ([]backfill.Checkpoint, error) {
	conn := e.db.Conn(e.t)
	return (&state.Store{Schema: "strata"}).Checkpoints(e.ctx, conn, "public")
}
