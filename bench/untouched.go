package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// targetUntouched is issue 13's target: point reads of a table the phase
// does not touch, through the version schema's search_path, at least 98% of
// the base table's, during a phase and after complete.
const targetUntouched = 0.98

// untouchedResult is the read benchmark of an untouched table: A reads
// t_twin with search_path = version schema, public (the version schema has
// no view of it, so the name resolves to the table); B reads it with
// search_path = public. Simple protocol: every query is parsed, resolved
// and planned, so a name resolving through a view would cost each query.
type untouchedResult struct {
	Rows    int64
	Clients int
	During  []abRound
	After   []abRound
	Errors  []string
}

func runUntouched(ctx context.Context, e *env, cfg *config) (*untouchedResult, error) {
	db, err := e.clone(ctx, cfg.loadRows, "untouched")
	if err != nil {
		return nil, err
	}
	defer e.dropDB(context.Background(), db)
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	for _, s := range []string{
		"CREATE TABLE t_twin (LIKE t INCLUDING ALL)",
		"INSERT INTO t_twin SELECT * FROM t",
		"VACUUM ANALYZE t_twin",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	run, err := newStrataRun(ctx, e.dbURL(db), cfg, "bench_untouched", migTypeAndColumn)
	if err != nil {
		return nil, err
	}
	_, vs, err := run.start(ctx)
	if err != nil {
		return nil, fmt.Errorf("strata start: %w", err)
	}
	res := &untouchedResult{Rows: cfg.loadRows, Clients: cfg.clients}
	nextID := &atomic.Int64{}
	spec := abSpec{db: db, clients: cfg.clients, rows: cfg.loadRows, mix: mixRead, simple: true,
		A: abSide{table: "t_twin", searchPath: func(int) string { return pgx.Identifier{vs}.Sanitize() + ", public" }},
		B: abSide{table: "t_twin"},
	}
	rounds := func(label string) ([]abRound, error) {
		var out []abRound
		for i := 0; i < cfg.readRounds; i++ {
			if err := e.settle(ctx, conn); err != nil {
				return nil, err
			}
			r, el, err := measureAB(ctx, e, spec, nextID, cfg.warmup, cfg.duration)
			res.Errors = append(res.Errors, el...)
			if err != nil {
				return nil, err
			}
			log.Printf("untouched table, %s: %.0f vs %.0f reads/s (%.1f%%)", label, r.A.TPS, r.B.TPS, 100*r.ratio())
			out = append(out, r)
		}
		return out, nil
	}
	if res.During, err = rounds("during the phase"); err != nil {
		return nil, err
	}
	if _, err := run.complete(ctx); err != nil {
		return nil, fmt.Errorf("strata complete: %w", err)
	}
	if res.After, err = rounds("after complete"); err != nil {
		return nil, err
	}
	return res, nil
}

func (r *report) renderUntouched() {
	u := r.untouched
	if u == nil || len(u.During) == 0 {
		return
	}
	r.p("## 5. Reads of an untouched table through the version schema\n\n")
	r.p("A %s-row table `t_twin` that the phase does not touch (the migration changes `t`). %d clients, closed loop, simple protocol (parse and plan every query), `SELECT id, payload, amount FROM t_twin WHERE id = $1` on a random key, time-sliced A/B: side A with `search_path` = version schema, public (the version schema holds no view of `t_twin`: the name resolves to the table), side B with `search_path` public. ", num(float64(u.Rows)), u.Clients)
	r.p("Windows of %s, %d round(s) each, during the phase and after `complete`.\n\n", dur(r.cfg.duration), len(u.During))
	r.p("| When | Through the version schema, reads/s | Base table, reads/s | Ratio | Target ≥ %.0f%% |\n|---|---:|---:|---:|---|\n", 100*targetUntouched)
	for _, w := range []struct {
		name   string
		rounds []abRound
	}{{"during the phase", u.During}, {"after complete", u.After}} {
		var a, b float64
		var parts []string
		for _, x := range w.rounds {
			a += x.A.TPS
			b += x.B.TPS
			parts = append(parts, fmt.Sprintf("%.1f%%", 100*x.ratio()))
		}
		n := float64(len(w.rounds))
		ratio := meanRatio(w.rounds)
		ok := ratio >= targetUntouched
		r.p("| %s (rounds: %s) | %s | %s | %.1f%% | %s |\n", w.name, strings.Join(parts, ", "), num(a/n), num(b/n), 100*ratio, verdict(ok))
		r.target("Reads of an untouched table through the version schema ≥ 98% of base table, simple protocol, "+w.name, fmt.Sprintf("%.1f%%", 100*ratio), ok)
	}
	if len(u.Errors) > 0 {
		r.p("\nErrors:\n\n")
		for _, e := range u.Errors {
			r.p("- %s\n", e)
		}
	}
	r.p("\n")
}
