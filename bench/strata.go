package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/migration"
)

// Migrations used by the benchmarks, all on table t (see env.template).
const (
	// add_column with `up` into a new bigint NOT NULL column.
	migAddColumn = `
[[actions]]
type = "add_column"
table = "t"
up = "length(payload) * 2"
  [actions.column]
  name = "plen"
  type = "bigint"
  nullable = false
`
	// alter_column type change text -> bigint with up and down.
	migAlterType = `
[[actions]]
type = "alter_column"
table = "t"
column = "amount"
up = "amount::bigint"
down = "amount::text"
  [actions.changes]
  type = "bigint"
`
	// The lock, write and read benchmarks: a type change and a NOT NULL
	// column in one phase. The new version sees amount bigint and score.
	migTypeAndColumn = migAlterType + `
[[actions]]
type = "add_column"
table = "t"
up = "length(payload) * 2"
  [actions.column]
  name = "score"
  type = "bigint"
  nullable = false
`
)

// event is one log line of the engine or one backfill progress report.
type event struct {
	at  time.Time
	msg string
}

type batchEvent struct {
	at      time.Time
	rows    int64
	batches int
	size    int // rows per batch of the reporting worker
	elapsed time.Duration
	done    bool
}

// strataRun drives one migration through the engine's library API and
// records what the engine reports, with timestamps.
type strataRun struct {
	m    *engine.Migrator
	migs []*migration.Migration

	mu      sync.Mutex
	logs    []event
	batches []batchEvent

	// cpuConn, when set, is an idle connection to the same database used
	// to find the engine's backends (application_name strata) during the
	// backfill; their CPU time is sampled at every progress report (local
	// servers only).
	cpuConn    *pgx.Conn
	cpuMu      sync.Mutex
	cpuRefresh time.Time
	cpuFirst   map[int]time.Duration // per backend, when first seen
	cpuLast    map[int]time.Duration // per backend, latest
	cpuBroken  bool
}

func newStrataRun(ctx context.Context, url string, cfg *config, name, toml string) (*strataRun, error) {
	r := &strataRun{}
	m, err := engine.New(url, engine.Options{
		LockTimeout:      2 * time.Second,
		BatchSize:        cfg.batchSize,
		BatchTarget:      cfg.batchTarget,
		Workers:          cfg.workers,
		MaxRowsPerSecond: cfg.maxRate,
		SpaceOptions:     engine.SpaceOptions{VacuumFraction: cfg.vacuumFraction, AppRest: cfg.appRest},
		Logf: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			r.mu.Lock()
			r.logs = append(r.logs, event{time.Now(), msg})
			r.mu.Unlock()
			if strings.Contains(msg, "lock not available") {
				log.Printf("engine: %s", msg)
			}
		},
		Progress: func(p backfill.Progress) {
			now := time.Now()
			r.sampleCPU(ctx)
			r.mu.Lock()
			r.batches = append(r.batches, batchEvent{now, p.RowsDone, p.Batches, p.BatchSize, p.Elapsed, p.Done})
			r.mu.Unlock()
		},
	})
	if err != nil {
		return nil, err
	}
	r.m = m
	fsys := fstest.MapFS{"migrations/" + name + ".toml": &fstest.MapFile{Data: []byte(toml)}}
	r.migs, err = m.Load(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *strataRun) sampleCPU(ctx context.Context) {
	if r.cpuConn == nil {
		return
	}
	r.cpuMu.Lock()
	defer r.cpuMu.Unlock()
	if r.cpuBroken {
		return
	}
	if r.cpuFirst == nil {
		r.cpuFirst, r.cpuLast = map[int]time.Duration{}, map[int]time.Duration{}
	}
	if time.Since(r.cpuRefresh) > time.Second {
		r.cpuRefresh = time.Now()
		rows, err := r.cpuConn.Query(ctx, `SELECT pid FROM pg_stat_activity
			WHERE application_name = 'strata' AND datname = current_database()`)
		if err != nil {
			r.cpuBroken = true
			return
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			r.cpuBroken = true
			return
		}
		for _, p := range pids {
			if _, ok := r.cpuFirst[p]; !ok {
				c, ok := procCPU(p)
				if !ok {
					r.cpuBroken = true
					return
				}
				r.cpuFirst[p], r.cpuLast[p] = c, c
			}
		}
	}
	for p := range r.cpuFirst {
		if c, ok := procCPU(p); ok {
			r.cpuLast[p] = c
		}
	}
}

// backfillCPU estimates the server CPU time the backfill used: the growth of
// the engine's backends' CPU time from when each was first seen at a
// progress report to the last report, scaled up by the share of rows done
// before the first report.
func (r *strataRun) backfillCPU() (time.Duration, bool) {
	r.mu.Lock()
	var first, last int64
	if n := len(r.batches); n >= 2 {
		first, last = r.batches[0].rows, r.batches[n-1].rows
	}
	r.mu.Unlock()
	r.cpuMu.Lock()
	defer r.cpuMu.Unlock()
	if r.cpuBroken || len(r.cpuFirst) == 0 || last <= first {
		return 0, false
	}
	var sum time.Duration
	for p, c := range r.cpuFirst {
		sum += r.cpuLast[p] - c
	}
	return time.Duration(float64(sum) * float64(last) / float64(last-first)), true
}

// lockRetries counts the engine's retries after lock_timeout.
func (r *strataRun) lockRetries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.logs {
		if strings.Contains(ev.msg, "lock not available") {
			n++
		}
	}
	return n
}

// stepTime is how long one recorded step of a phase took.
type stepTime struct {
	Phase string // start, complete, abort
	Desc  string
	From  time.Time
	Dur   time.Duration
}

// steps returns the steps the engine logged between from and to, each
// lasting until the next log line of the same phase (the last one until to).
func (r *strataRun) steps(phase string, from, to time.Time) []stepTime {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stepTime
	for _, ev := range r.logs {
		if ev.at.Before(from) || ev.at.After(to) {
			continue
		}
		if desc, ok := strings.CutPrefix(ev.msg, phase+": "); ok {
			if n := len(out); n > 0 {
				out[n-1].Dur = ev.at.Sub(out[n-1].From)
			}
			out = append(out, stepTime{Phase: phase, Desc: desc, From: ev.at})
		}
	}
	if n := len(out); n > 0 {
		out[n-1].Dur = to.Sub(out[n-1].From)
	}
	return out
}

// phaseRun times one call of Start, Complete or Abort.
type phaseRun struct {
	Phase    string
	From, To time.Time
	Steps    []stepTime
}

func (p phaseRun) Dur() time.Duration { return p.To.Sub(p.From) }

// backfillDur is the wall time of the backfill step(s).
func (p phaseRun) backfillDur() time.Duration {
	var d time.Duration
	for _, s := range p.Steps {
		if strings.HasPrefix(s.Desc, "backfill") {
			d += s.Dur
		}
	}
	return d
}

func (r *strataRun) start(ctx context.Context) (phaseRun, string, error) {
	p := phaseRun{Phase: "start", From: time.Now()}
	res, err := r.m.Start(ctx, r.migs)
	p.To = time.Now()
	p.Steps = r.steps("start", p.From, p.To)
	if err != nil {
		return p, "", err
	}
	return p, res.VersionSchema, nil
}

func (r *strataRun) complete(ctx context.Context) (phaseRun, error) {
	p := phaseRun{Phase: "complete", From: time.Now()}
	_, err := r.m.Complete(ctx)
	p.To = time.Now()
	p.Steps = r.steps("complete", p.From, p.To)
	return p, err
}

func (r *strataRun) abort(ctx context.Context) (phaseRun, error) {
	p := phaseRun{Phase: "abort", From: time.Now()}
	_, err := r.m.Abort(ctx)
	p.To = time.Now()
	p.Steps = r.steps("abort", p.From, p.To)
	return p, err
}

// batchProfile summarises per-batch costs of a backfill from the progress
// reports: the first and the last tenth of the batches.
type batchProfile struct {
	Batches              int
	RowsPerBatch         float64
	FirstMS, LastMS      float64 // mean batch duration, first / last 10% of batches
	FirstRate, LastRate  float64 // rows/s in the first / last 10%
	FirstRows, LastRows  float64 // mean rows per batch in the first / last 10%
	MinMS, MedianMS, Max float64
}

func (r *strataRun) batchProfile() *batchProfile {
	r.mu.Lock()
	evs := append([]batchEvent(nil), r.batches...)
	r.mu.Unlock()
	if len(evs) < 2 {
		return nil
	}
	type b struct {
		d    time.Duration
		rows int64
	}
	// The first report has no predecessor: measure from the progress
	// reports' own clock (Elapsed) where it is monotonic, else skip it.
	var bs []b
	for i := 1; i < len(evs); i++ {
		bs = append(bs, b{evs[i].at.Sub(evs[i-1].at), evs[i].rows - evs[i-1].rows})
	}
	if evs[0].elapsed > 0 && evs[0].rows > 0 {
		bs = append([]b{{evs[0].elapsed, evs[0].rows}}, bs...)
	}
	p := &batchProfile{Batches: len(evs)}
	tenth := max(len(bs)/10, 1)
	sum := func(xs []b) (time.Duration, int64) {
		var d time.Duration
		var n int64
		for _, x := range xs {
			d += x.d
			n += x.rows
		}
		return d, n
	}
	d, n := sum(bs[:tenth])
	p.FirstMS = ms(d) / float64(tenth)
	p.FirstRate = float64(n) / d.Seconds()
	p.FirstRows = float64(n) / float64(tenth)
	d, n = sum(bs[len(bs)-tenth:])
	p.LastMS = ms(d) / float64(tenth)
	p.LastRate = float64(n) / d.Seconds()
	p.LastRows = float64(n) / float64(tenth)
	_, n = sum(bs)
	p.RowsPerBatch = float64(n) / float64(len(bs))
	durs := make([]time.Duration, len(bs))
	for i, x := range bs {
		durs[i] = x.d
	}
	sortDurations(durs)
	p.MinMS, p.MedianMS, p.Max = ms(durs[0]), ms(durs[len(durs)/2]), ms(durs[len(durs)-1])
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
