package main

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// abRound is one time-sliced A/B window (see measureAB).
type abRound struct {
	A, B stats
}

func (r abRound) ratio() float64 { return r.A.TPS / r.B.TPS }

func meanRatio(rs []abRound) float64 {
	var a, b float64
	for _, r := range rs {
		a += r.A.TPS
		b += r.B.TPS
	}
	return a / b
}

type writeResult struct {
	Rows    int64
	Clients int
	// Time-sliced A/B (see measureAB): A writes to t with the phase in
	// progress (half the clients through the new version), B to t_twin, an
	// identical table the migration does not touch.
	Side []abRound
	// The same with the server's durability settings at PostgreSQL's
	// defaults (fsync, synchronous_commit and full_page_writes on); only
	// when the benchmark runs its own server.
	SideDurable []abRound
	// One after the other on t: no phase, phase in progress, no phase
	// again after abort.
	Plain1   stats
	Phase    stats // half the clients on each version
	PhaseOld stats // every client on the old version
	Plain2   stats
	Errors   []string
}

func (w *writeResult) ratio() float64        { return meanRatio(w.Side) }
func (w *writeResult) ratioDurable() float64 { return meanRatio(w.SideDurable) }
func (w *writeResult) seqBase() float64      { return (w.Plain1.TPS + w.Plain2.TPS) / 2 }
func (w *writeResult) seqRatio() float64     { return w.Phase.TPS / w.seqBase() }
func (w *writeResult) seqOld() float64       { return w.PhaseOld.TPS / w.seqBase() }

type readMode struct {
	Name   string
	Judged bool      // the mode the target is judged on
	Rounds []abRound // A: through the view, B: the base table
}

func (m readMode) ratio() float64 { return meanRatio(m.Rounds) }

type readResult struct {
	Rows    int64
	Clients int
	Modes   []readMode
	Errors  []string
}

// runOverhead measures write throughput with and without a phase in
// progress, and, during the phase, point reads through the new version's
// views against the base table.
func runOverhead(ctx context.Context, e *env, cfg *config) (*writeResult, *readResult, error) {
	db, err := e.clone(ctx, cfg.loadRows, "overhead")
	if err != nil {
		return nil, nil, err
	}
	defer e.dropDB(context.Background(), db)
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.Background())
	for _, s := range []string{
		"CREATE TABLE t_twin (LIKE t INCLUDING ALL)",
		"INSERT INTO t_twin SELECT * FROM t",
		"VACUUM ANALYZE t_twin",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	nextID := &atomic.Int64{}
	nextID.Store(cfg.loadRows + 1_000_000_000)
	var errs []string

	// Every window starts after VACUUM ANALYZE and CHECKPOINT, so that
	// each starts from the same kind of state.
	seq := func(label string, spec loadSpec, schema string) (stats, error) {
		if err := e.settle(ctx, conn); err != nil {
			return stats{}, err
		}
		st, el, err := measure(ctx, e, spec, nextID, schema, cfg.warmup, cfg.duration)
		errs = append(errs, el...)
		log.Printf("%s: %.0f tps (p99 %s, errors %d)", label, st.TPS, st.P99, st.Errors)
		return st, err
	}
	side := func(label string, spec abSpec) (abRound, error) {
		if err := e.settle(ctx, conn); err != nil {
			return abRound{}, err
		}
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE t_twin"); err != nil {
			return abRound{}, err
		}
		r, el, err := measureAB(ctx, e, spec, nextID, cfg.warmup, cfg.duration)
		errs = append(errs, el...)
		log.Printf("%s: %.0f vs %.0f tps (%.1f%%)", label, r.A.TPS, r.B.TPS, 100*r.ratio())
		return r, err
	}
	half := cfg.clients / 2
	writes := loadSpec{db: db, clients: cfg.clients, rows: cfg.loadRows, mix: mixWrite}

	w := &writeResult{Rows: cfg.loadRows, Clients: cfg.clients}
	if cfg.want("write") {
		if w.Plain1, err = seq("write: no phase", writes, ""); err != nil {
			return nil, nil, err
		}
	}
	run, err := newStrataRun(ctx, e.dbURL(db), cfg, "bench_overhead", migTypeAndColumn)
	if err != nil {
		return nil, nil, err
	}
	_, vs, err := run.start(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("strata start: %w", err)
	}
	if cfg.want("write") {
		// Time-sliced: side A writes to t with the phase in progress,
		// clients [half, clients) through the new version; side B writes
		// to t_twin, untouched by the migration.
		sbs := abSpec{db: db, clients: cfg.clients, rows: cfg.loadRows, mix: mixWrite,
			A: abSide{table: "t", newVersion: func(i int) bool { return i >= half },
				searchPath: func(i int) string {
					if i >= half {
						return pgx.Identifier{vs}.Sanitize() + ", public"
					}
					return ""
				}},
			B: abSide{table: "t_twin"},
		}
		for i := 0; i < cfg.rounds; i++ {
			r, err := side("write A/B: phase table vs plain twin", sbs)
			if err != nil {
				return nil, nil, err
			}
			w.Side = append(w.Side, r)
		}
		if e.cluster != nil {
			if err := e.durable(ctx, true); err != nil {
				return nil, nil, err
			}
			for i := 0; i < cfg.rounds; i++ {
				r, err := side("write A/B, durable settings: phase table vs plain twin", sbs)
				if err != nil {
					e.durable(context.Background(), false)
					return nil, nil, err
				}
				w.SideDurable = append(w.SideDurable, r)
			}
			if err := e.durable(ctx, false); err != nil {
				return nil, nil, err
			}
		}
		mixed := writes
		mixed.roles = halfAndHalf(cfg.clients)
		if w.Phase, err = seq("write: phase in progress, both versions", mixed, vs); err != nil {
			return nil, nil, err
		}
		if w.PhaseOld, err = seq("write: phase in progress, old version only", writes, vs); err != nil {
			return nil, nil, err
		}
	}
	var r *readResult
	if cfg.want("read") {
		r = &readResult{Rows: cfg.loadRows, Clients: cfg.clients}
		for _, simple := range []bool{false, true} {
			m := readMode{Name: "prepared statements (pgx default)", Judged: !simple}
			if simple {
				m.Name = "simple protocol (parse and plan every query)"
			}
			spec := abSpec{db: db, clients: cfg.clients, rows: cfg.loadRows, mix: mixRead, simple: simple,
				A: abSide{table: "t", searchPath: func(int) string { return pgx.Identifier{vs}.Sanitize() + ", public" }},
				B: abSide{table: "t"},
			}
			for i := 0; i < cfg.readRounds; i++ {
				st, err := side("read A/B, "+m.Name+": view vs base table", spec)
				if err != nil {
					return nil, nil, err
				}
				m.Rounds = append(m.Rounds, st)
			}
			r.Modes = append(r.Modes, m)
		}
		r.Errors = errs
		errs = nil
	}
	if _, err := run.abort(ctx); err != nil {
		return nil, nil, fmt.Errorf("strata abort: %w", err)
	}
	if cfg.want("write") {
		if w.Plain2, err = seq("write: no phase (after abort)", writes, ""); err != nil {
			return nil, nil, err
		}
		w.Errors = errs
	} else {
		w = nil
	}
	return w, r, nil
}
