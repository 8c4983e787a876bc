package main

import (
	"context"
	"fmt"
	"log"
	"time"
)

// backfillOp is one kind of backfill: a strata migration and the single
// statement that does the same work (the bound).
type backfillOp struct {
	name  string
	title string
	mig   string
	bound []string // the last statement is the one timed
}

var backfillOps = []backfillOp{
	{
		name:  "add_column",
		title: "add_column `plen bigint NOT NULL`, `up = length(payload) * 2`",
		mig:   migAddColumn,
		bound: []string{"ALTER TABLE t ADD COLUMN plen bigint", "UPDATE t SET plen = length(payload) * 2"},
	},
	{
		name:  "alter_type",
		title: "alter_column `amount` text → bigint, `up = amount::bigint`, `down = amount::text`",
		mig:   migAlterType,
		bound: []string{"ALTER TABLE t ADD COLUMN amount_new bigint", "UPDATE t SET amount_new = amount::bigint"},
	},
}

type backfillResult struct {
	Op   backfillOp
	Rows int64

	// The fastest of the repetitions of each side; all of them in *Runs.
	BoundDur                  time.Duration
	BoundBefore, BoundAfter   int64
	StrataDur                 time.Duration // the backfill step(s)
	StrataBefore, StrataAfter int64
	StrataAfterComplete       int64
	Start, Complete           phaseRun
	Profile                   *batchProfile
	BoundRuns, StrataRuns     []time.Duration
	// Server CPU time of the backend(s) doing the work, when the server
	// runs on this machine (0 otherwise).
	BoundCPU, StrataCPU time.Duration
}

func (r *backfillResult) boundRate() float64  { return float64(r.Rows) / r.BoundDur.Seconds() }
func (r *backfillResult) strataRate() float64 { return float64(r.Rows) / r.StrataDur.Seconds() }
func (r *backfillResult) ratio() float64      { return r.strataRate() / r.boundRate() }

// runBackfill measures the bound and strata reps times each, alternating, on
// fresh copies of the table, and keeps the fastest run of each side (other
// processes on the machine only ever make a run slower).
func runBackfill(ctx context.Context, e *env, cfg *config, op backfillOp, n int64) (*backfillResult, error) {
	res := &backfillResult{Op: op, Rows: n}
	for i := 0; i < cfg.reps; i++ {
		b, err := boundOnce(ctx, e, op, n)
		if err != nil {
			return nil, err
		}
		res.BoundRuns = append(res.BoundRuns, b.BoundDur)
		if res.BoundDur == 0 || b.BoundDur < res.BoundDur {
			res.BoundDur, res.BoundBefore, res.BoundAfter, res.BoundCPU = b.BoundDur, b.BoundBefore, b.BoundAfter, b.BoundCPU
		}
		log.Printf("backfill %s %d rows: bound %s (%.0f rows/s)", op.name, n, b.BoundDur.Round(time.Millisecond), b.boundRate())
		st, err := strataOnce(ctx, e, cfg, op, n)
		if err != nil {
			return nil, err
		}
		res.StrataRuns = append(res.StrataRuns, st.StrataDur)
		if res.StrataDur == 0 || st.StrataDur < res.StrataDur {
			res.StrataDur, res.StrataBefore, res.StrataAfter, res.StrataAfterComplete = st.StrataDur, st.StrataBefore, st.StrataAfter, st.StrataAfterComplete
			res.Start, res.Complete, res.Profile, res.StrataCPU = st.Start, st.Complete, st.Profile, st.StrataCPU
		}
		log.Printf("backfill %s %d rows: strata backfill %s (%.0f rows/s, %.0f%% of the best bound so far); start %s, complete %s",
			op.name, n, st.StrataDur.Round(time.Millisecond), st.strataRate(), 100*st.strataRate()/res.boundRate(),
			st.Start.Dur().Round(time.Millisecond), st.Complete.Dur().Round(time.Millisecond))
	}
	return res, nil
}

// boundOnce runs the single UPDATE on a fresh clone.
func boundOnce(ctx context.Context, e *env, op backfillOp, n int64) (*backfillResult, error) {
	res := &backfillResult{Op: op, Rows: n}
	db, err := e.clone(ctx, n, "bound")
	if err != nil {
		return nil, err
	}
	defer e.dropDB(context.Background(), db)
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := e.settle(ctx, conn); err != nil {
		return nil, err
	}
	if res.BoundBefore, err = tableSize(ctx, conn); err != nil {
		return nil, err
	}
	pid := int(conn.PgConn().PID())
	for i, s := range op.bound {
		last := i == len(op.bound)-1
		cpu0, cpuOK := procCPU(pid)
		t := time.Now()
		if _, err := conn.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("bound: %s: %w", s, err)
		}
		if last {
			res.BoundDur = time.Since(t)
			if cpu1, ok := procCPU(pid); ok && cpuOK && e.cluster != nil {
				res.BoundCPU = cpu1 - cpu0
			}
		}
	}
	if res.BoundAfter, err = tableSize(ctx, conn); err != nil {
		return nil, err
	}
	return res, nil
}

// strataOnce runs strata start (and complete) on a fresh clone.
func strataOnce(ctx context.Context, e *env, cfg *config, op backfillOp, n int64) (*backfillResult, error) {
	res := &backfillResult{Op: op, Rows: n}
	db, err := e.clone(ctx, n, "strata")
	if err != nil {
		return nil, err
	}
	defer e.dropDB(context.Background(), db)
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	run, err := newStrataRun(ctx, e.dbURL(db), cfg, "bench_"+op.name, op.mig)
	if err != nil {
		return nil, err
	}
	if e.cluster != nil {
		run.cpuConn = conn
	}
	if err := e.settle(ctx, conn); err != nil {
		return nil, err
	}
	if res.StrataBefore, err = tableSize(ctx, conn); err != nil {
		return nil, err
	}
	res.Start, _, err = run.start(ctx)
	if err != nil {
		return nil, fmt.Errorf("strata start: %w", err)
	}
	res.StrataDur = res.Start.backfillDur()
	if res.StrataDur == 0 {
		// No step log: fall back to the progress reports, then to the
		// whole of start.
		run.mu.Lock()
		if k := len(run.batches); k > 0 {
			res.StrataDur = run.batches[k-1].elapsed
		}
		run.mu.Unlock()
		if res.StrataDur == 0 {
			res.StrataDur = res.Start.Dur()
		}
	}
	res.Profile = run.batchProfile()
	res.StrataCPU, _ = run.backfillCPU()
	if res.StrataAfter, err = tableSize(ctx, conn); err != nil {
		return nil, err
	}
	if res.Complete, err = run.complete(ctx); err != nil {
		return nil, fmt.Errorf("strata complete: %w", err)
	}
	if res.StrataAfterComplete, err = tableSize(ctx, conn); err != nil {
		return nil, err
	}
	return res, nil
}
