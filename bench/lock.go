package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"
)

// segment is a named part of the lock test's timeline.
type segment struct {
	Name     string
	From, To time.Duration // generator time
	Stats    stats
}

// kindRow compares one operation kind before the migration and during the
// backfill.
type kindRow struct {
	Kind             string
	Before, Backfill stats
}

type lockResult struct {
	Label    string  // which variant (see lockVariants)
	MaxRate  float64 // the backfill's throttle in rows/s (0: none)
	Load     float64 // offered load as a fraction of capacity
	Rows     int64
	Clients  int
	Capacity float64 // closed-loop ops/s of the mix before anything else
	Rate     float64 // offered ops/s

	Before, During stats
	Segments       []segment
	ByKind         []kindRow // p99 per operation kind: before vs the backfill step
	Start          phaseRun
	Complete       phaseRun
	Errors         []string // whole run
	ErrorCount     int
	LockRetries    int // the engine's retries after lock_timeout

	NaiveAlter                           time.Duration
	NaiveBefore, NaiveDuring, NaiveAfter stats
	NaiveErrors                          []string
	NaiveErrorCount                      int
	NaiveSQL                             string
	lockTimeout                          time.Duration
}

const naiveAlterSQL = "ALTER TABLE t ALTER COLUMN amount TYPE bigint USING amount::bigint"

// lockVariants are the configurations the lock test runs in: the main run
// (the engine's options as given, at the configured load); then, unless
// -lock-throttle is 0, the same load with the backfill throttled, and the
// given options at half the load. On a machine with few cores, a backfill
// at full speed takes a core the load needs: the other two runs show the
// two ways out, a throttle, or a server with a core to spare.
func lockVariants(cfg *config) []*config {
	main := *cfg
	main.lockLabel = fmt.Sprintf("%s, %.0f%% load", lockOptions(cfg), 100*cfg.load)
	out := []*config{&main}
	if cfg.lockRate > 0 {
		th := *cfg
		th.maxRate = cfg.lockRate
		th.lockLabel = fmt.Sprintf("backfill throttled to %s rows/s, %.0f%% load", num(cfg.lockRate), 100*cfg.load)
		half := *cfg
		half.load = cfg.load / 2
		half.lockLabel = fmt.Sprintf("%s, %.0f%% load", lockOptions(cfg), 100*half.load)
		out = append(out, &th, &half)
	}
	return out
}

// lockOptions names the backfill options of a lock run briefly.
func lockOptions(cfg *config) string {
	if t := engineText(cfg); t != "the engine's default backfill options" {
		return t
	}
	return "default options"
}

func runLockImpact(ctx context.Context, e *env, cfg *config, naive bool) (*lockResult, error) {
	res := &lockResult{Label: cfg.lockLabel, MaxRate: cfg.maxRate, Load: cfg.load,
		Rows: cfg.loadRows, Clients: cfg.clients, lockTimeout: 2 * time.Second, NaiveSQL: naiveAlterSQL}
	log.Printf("lock: %s", res.Label)
	db, err := e.clone(ctx, cfg.loadRows, "lock")
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
	nextID := &atomic.Int64{}
	nextID.Store(cfg.loadRows + 1_000_000_000)

	// Capacity of this mix on this machine, closed loop.
	calib := min(cfg.duration, 5*time.Second)
	st, _, err := measure(ctx, e, loadSpec{db: db, clients: cfg.clients, rows: cfg.loadRows, mix: mixLock}, nextID, "", cfg.warmup/2, calib)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	res.Capacity = st.TPS
	res.Rate = cfg.load * st.TPS
	log.Printf("lock: closed-loop capacity %.0f ops/s; offering %.0f ops/s", res.Capacity, res.Rate)

	run, err := newStrataRun(ctx, e.dbURL(db), cfg, "bench_lock", migTypeAndColumn)
	if err != nil {
		return nil, err
	}
	if err := e.settle(ctx, conn); err != nil {
		return nil, err
	}
	spec := loadSpec{db: db, clients: cfg.clients, roles: halfAndHalf(cfg.clients), rows: cfg.loadRows, mix: mixLock, rate: res.Rate}
	g, err := startLoad(ctx, e, spec, nextID, "")
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			g.stop()
		}
	}()
	sleepCtx(ctx, cfg.warmup)
	b0 := g.since(time.Now())
	sleepCtx(ctx, cfg.duration)
	b1 := g.since(time.Now())

	log.Printf("lock: strata start under load")
	var vs string
	res.Start, vs, err = run.start(ctx)
	if err != nil {
		return nil, fmt.Errorf("strata start: %w", err)
	}
	g.setSchema(vs)
	both := max(cfg.duration/2, cfg.minWindow())
	sleepCtx(ctx, both)
	drain0 := time.Now()
	g.stopRole(roleOld)
	drain1 := time.Now()
	log.Printf("lock: old version drained; strata complete under load")
	res.Complete, err = run.complete(ctx)
	if err != nil {
		return nil, fmt.Errorf("strata complete: %w", err)
	}
	tail := max(cfg.duration/5, cfg.minWindow())
	sleepCtx(ctx, tail)
	end := g.since(time.Now())
	g.stop()
	stopped = true
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	res.LockRetries = run.lockRetries()
	all := g.samples()
	res.Before = window(all, b0, b1, nil)
	res.During = window(all, g.since(res.Start.From), g.since(res.Complete.To), nil)
	res.Errors = g.errorList()
	g.errMu.Lock()
	res.ErrorCount = g.errCount
	g.errMu.Unlock()
	seg := func(name string, from, to time.Time) {
		a, b := g.since(from), g.since(to)
		res.Segments = append(res.Segments, segment{Name: name, From: a, To: b, Stats: window(all, a, b, nil)})
	}
	res.Segments = append(res.Segments, segment{Name: "before (steady state)", From: b0, To: b1, Stats: res.Before})
	for _, s := range res.Start.Steps {
		seg("start: "+s.Desc, s.From, s.From.Add(s.Dur))
	}
	seg("both versions in use", res.Start.To, drain0)
	seg("old version draining", drain0, drain1)
	for _, s := range res.Complete.Steps {
		seg("complete: "+s.Desc, s.From, s.From.Add(s.Dur))
	}
	res.Segments = append(res.Segments, segment{Name: "after complete (new version only)", From: g.since(res.Complete.To), To: end,
		Stats: window(all, g.since(res.Complete.To), end, nil)})
	for _, s := range res.Start.Steps {
		if !strings.HasPrefix(s.Desc, "backfill") {
			continue
		}
		a, b := g.since(s.From), g.since(s.From.Add(s.Dur))
		for k, name := range opNames {
			for _, ver := range []bool{false, true} {
				keep := func(x sample) bool { return int(x.kind) == k && x.new == ver }
				row := kindRow{Kind: name + map[bool]string{false: " (old version)", true: " (new version)"}[ver],
					Before: window(all, b0, b1, keep), Backfill: window(all, a, b, keep)}
				if row.Before.Ops+row.Backfill.Ops > 0 {
					res.ByKind = append(res.ByKind, row)
				}
			}
		}
	}
	log.Printf("lock: before p99 %s max %s; during p99 %s max %s; errors %d",
		res.Before.P99, res.Before.Max, res.During.P99, res.During.Max, res.ErrorCount)

	if !naive {
		return res, nil
	}
	if err := runNaive(ctx, e, cfg, res, nextID); err != nil {
		return res, fmt.Errorf("naive ALTER: %w", err)
	}
	return res, nil
}

// runNaive offers the same load to a fresh copy of the table while a plain
// ALTER TABLE ... TYPE rewrites it.
func runNaive(ctx context.Context, e *env, cfg *config, res *lockResult, nextID *atomic.Int64) error {
	db, err := e.clone(ctx, cfg.loadRows, "naive")
	if err != nil {
		return err
	}
	defer e.dropDB(context.Background(), db)
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := e.settle(ctx, conn); err != nil {
		return err
	}
	spec := loadSpec{db: db, clients: cfg.clients, rows: cfg.loadRows, mix: mixLock, rate: res.Rate}
	g, err := startLoad(ctx, e, spec, nextID, "")
	if err != nil {
		return err
	}
	sleepCtx(ctx, cfg.warmup)
	b0 := g.since(time.Now())
	sleepCtx(ctx, cfg.duration)
	b1 := g.since(time.Now())
	log.Printf("lock: naive %s under load", naiveAlterSQL)
	t := time.Now()
	_, aerr := conn.Exec(ctx, naiveAlterSQL)
	res.NaiveAlter = time.Since(t)
	a1 := g.since(time.Now())
	sleepCtx(ctx, max(cfg.duration/3, cfg.minWindow()))
	end := g.since(time.Now())
	g.stop()
	if aerr != nil {
		return aerr
	}
	all := g.samples()
	res.NaiveBefore = window(all, b0, b1, nil)
	res.NaiveDuring = window(all, b1, a1, nil)
	res.NaiveAfter = window(all, a1, end, nil)
	res.NaiveErrors = g.errorList()
	g.errMu.Lock()
	res.NaiveErrorCount = g.errCount
	g.errMu.Unlock()
	log.Printf("lock: naive ALTER took %s; max latency %s; errors %d", res.NaiveAlter.Round(time.Millisecond), res.NaiveDuring.Max, res.NaiveErrorCount)
	return ctx.Err()
}
