package main

import (
	"context"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/scenario"
)

// Targets of the scenario benchmark (docs/scenarios.md).
const (
	targetScnCreate = 0.80 // create: at least 80% of the hand-written copy's speed
	targetScnDiff   = 0.10 // diff, 1% changed: at most 10% of a full outer join's time
	targetScnDrop   = 2.0  // drop of the big scenario: within 2x of an empty one
)

// scenarioResult holds the scenario benchmark's figures, each side the
// fastest of its repetitions.
type scenarioResult struct {
	Rows                     int64
	HandAll, StrataAll       time.Duration
	HandSubset, StrataSubset time.Duration
	SubsetRows               int64
	Diff, FullJoin           time.Duration
	Changed                  int
	Drop, DropEmpty          time.Duration
	// HandDrop and HandDropEmpty: DROP SCHEMA ... CASCADE of the
	// hand-written copy of all rows and of an empty one, each on a
	// connection of its own: the server's own cost of freeing the files.
	HandDrop, HandDropEmpty time.Duration
	// Every sample of each figure, for the medians.
	Samples map[string][]time.Duration
}

func (r *scenarioResult) add(name string, d time.Duration) {
	if r.Samples == nil {
		r.Samples = map[string][]time.Duration{}
	}
	r.Samples[name] = append(r.Samples[name], d)
}

// median of the samples of name.
func (r *scenarioResult) median(name string) time.Duration {
	s := append([]time.Duration(nil), r.Samples[name]...)
	if len(s) == 0 {
		return 0
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *scenarioResult) createRatio(hand, strata time.Duration) float64 {
	return hand.Seconds() / strata.Seconds()
}

// runScenario measures strata scenario create, diff and drop against the
// hand-written equivalents on a table of n rows (10 tenants, an index on
// the tenant).
func runScenario(ctx context.Context, e *env, cfg *config, n int64) (*scenarioResult, error) {
	e.mu.Lock()
	e.seq++
	db := fmt.Sprintf("%sscenario_%d", dbPrefix, e.seq)
	e.mu.Unlock()
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return nil, err
	}
	defer e.dropDB(context.WithoutCancel(ctx), db)
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	log.Printf("scenario: building s with %d rows", n)
	for _, q := range []string{
		`CREATE TABLE s (id bigint PRIMARY KEY, tenant int NOT NULL, payload text NOT NULL, amount int NOT NULL)`,
		fmt.Sprintf(`INSERT INTO s SELECT i, i %% 10, md5(i::text) || repeat('x', (i %% 40)::int), i %% 1000 FROM generate_series(1, %d) i`, n),
		`CREATE INDEX s_tenant ON s (tenant)`,
		`VACUUM ANALYZE s`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	m, err := scenario.New(e.dbURL(db), scenario.Options{Prefix: "bench_"})
	if err != nil {
		return nil, err
	}
	r := &scenarioResult{Rows: n}
	// Each side opens its own connection, as strata (and a psql script)
	// does: the timed work is the same.
	hand := func(where string) (time.Duration, error) {
		q := `BEGIN; CREATE SCHEMA hw; CREATE UNLOGGED TABLE hw.s (LIKE public.s INCLUDING ALL EXCLUDING INDEXES);
			INSERT INTO hw.s SELECT * FROM public.s` + where + `; ALTER TABLE hw.s ADD PRIMARY KEY (id); CREATE INDEX ON hw.s (tenant); COMMIT`
		if err := e.checkpoint(ctx, conn); err != nil {
			return 0, err
		}
		t0 := time.Now()
		hc, err := e.connect(ctx, db, "", true)
		if err != nil {
			return 0, err
		}
		_, err = hc.Exec(ctx, q)
		hc.Close(context.Background())
		if err != nil {
			return 0, err
		}
		d := time.Since(t0)
		_, err = conn.Exec(ctx, "DROP SCHEMA hw CASCADE")
		return d, err
	}
	strata := func(where string) (time.Duration, int64, error) {
		if err := e.checkpoint(ctx, conn); err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		res, err := m.Create(ctx, scenario.CreateSpec{Name: "c", Tables: []string{"s"}, Where: where})
		if err != nil {
			return 0, 0, err
		}
		d := time.Since(t0)
		_, err = m.Drop(ctx, "c", false)
		return d, res.Scenario.Rows, err
	}
	best := func(cur, d time.Duration) time.Duration {
		if cur == 0 || d < cur {
			return d
		}
		return cur
	}
	reps := cfg.reps
	for i := 0; i < reps; i++ {
		for _, sub := range []bool{false, true} {
			hw, sw := "", ""
			if sub {
				hw, sw = " WHERE tenant = 3", "tenant = 3"
			}
			hd, err := hand(hw)
			if err != nil {
				return nil, fmt.Errorf("hand-written copy: %w", err)
			}
			sd, rows, err := strata(sw)
			if err != nil {
				return nil, fmt.Errorf("scenario create: %w", err)
			}
			if sub {
				r.HandSubset, r.StrataSubset, r.SubsetRows = best(r.HandSubset, hd), best(r.StrataSubset, sd), rows
				r.add("hand-subset", hd)
				r.add("strata-subset", sd)
			} else {
				r.HandAll, r.StrataAll = best(r.HandAll, hd), best(r.StrataAll, sd)
				r.add("hand-all", hd)
				r.add("strata-all", sd)
			}
		}
	}
	log.Printf("scenario: create all rows %.2f of the hand-written copy's speed, 10%% subset %.2f",
		r.createRatio(r.HandAll, r.StrataAll), r.createRatio(r.HandSubset, r.StrataSubset))
	// Diff with 1% of the rows changed in the scenario, against a full
	// outer join of the base and the copy.
	if _, err := m.Create(ctx, scenario.CreateSpec{Name: "d", Tables: []string{"s"}}); err != nil {
		return nil, err
	}
	tag, err := conn.Exec(ctx, `SET ROLE bench_d; UPDATE s SET amount = amount + 1 WHERE id % 100 = 0; RESET ROLE; ANALYZE bench_d.s`)
	if err != nil {
		return nil, err
	}
	_ = tag
	for i := 0; i < reps; i++ {
		t0 := time.Now()
		d, err := m.Diff(ctx, "d", scenario.DiffOptions{})
		if err != nil {
			return nil, err
		}
		r.Diff = best(r.Diff, time.Since(t0))
		r.add("diff", time.Since(t0))
		r.Changed = d.Total()
		// The baseline delivers what diff delivers: the changed rows, both
		// sides, on a connection of its own.
		t0 = time.Now()
		var diffs int64
		jc, err := e.connect(ctx, db, "", false)
		if err != nil {
			return nil, err
		}
		rows, err := jc.Query(ctx, `SELECT b.id, b.tenant, b.payload, b.amount, c.id, c.tenant, c.payload, c.amount
			FROM public.s b FULL JOIN bench_d.s c ON b.id = c.id
			WHERE b.id IS NULL OR c.id IS NULL OR (b.tenant, b.payload, b.amount) IS DISTINCT FROM (c.tenant, c.payload, c.amount)
			ORDER BY coalesce(b.id, c.id)`)
		if err == nil {
			for rows.Next() {
				diffs++
			}
			rows.Close()
			err = rows.Err()
		}
		jc.Close(context.Background())
		if err != nil {
			return nil, err
		}
		r.FullJoin = best(r.FullJoin, time.Since(t0))
		r.add("join", time.Since(t0))
		if diffs != int64(r.Changed) {
			return nil, fmt.Errorf("diff found %d changed rows, the full outer join %d", r.Changed, diffs)
		}
	}
	log.Printf("scenario: diff of %d changed rows %.3f of a full outer join's time", r.Changed, r.Diff.Seconds()/r.FullJoin.Seconds())
	// Drop of the big scenario against an empty one.
	for i := 0; i < reps; i++ {
		if i > 0 {
			if _, err := m.Create(ctx, scenario.CreateSpec{Name: "d", Tables: []string{"s"}}); err != nil {
				return nil, err
			}
		}
		if _, err := m.Create(ctx, scenario.CreateSpec{Name: "e", Tables: []string{"s"}, Where: "false"}); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if _, err := m.Drop(ctx, "e", false); err != nil {
			return nil, err
		}
		r.DropEmpty = best(r.DropEmpty, time.Since(t0))
		r.add("drop-empty", time.Since(t0))
		t0 = time.Now()
		if _, err := m.Drop(ctx, "d", false); err != nil {
			return nil, err
		}
		r.Drop = best(r.Drop, time.Since(t0))
		r.add("drop", time.Since(t0))
		// The same drops written by hand: the floor.
		for _, where := range []string{"", " WHERE false"} {
			if _, err := conn.Exec(ctx, `CREATE SCHEMA hw; CREATE UNLOGGED TABLE hw.s (LIKE public.s INCLUDING ALL EXCLUDING INDEXES);
				INSERT INTO hw.s SELECT * FROM public.s`+where+`; ALTER TABLE hw.s ADD PRIMARY KEY (id); CREATE INDEX ON hw.s (tenant)`); err != nil {
				return nil, err
			}
			t0 := time.Now()
			hc, err := e.connect(ctx, db, "", true)
			if err != nil {
				return nil, err
			}
			_, err = hc.Exec(ctx, "DROP SCHEMA hw CASCADE")
			hc.Close(context.Background())
			if err != nil {
				return nil, err
			}
			if where == "" {
				r.HandDrop = best(r.HandDrop, time.Since(t0))
				r.add("hand-drop", time.Since(t0))
			} else {
				r.HandDropEmpty = best(r.HandDropEmpty, time.Since(t0))
				r.add("hand-drop-empty", time.Since(t0))
			}
		}
	}
	log.Printf("scenario: drop of %d rows %s, of an empty scenario %s (%.2fx); by hand %s and %s (%.2fx)", n, r.Drop, r.DropEmpty, r.Drop.Seconds()/r.DropEmpty.Seconds(),
		r.HandDrop, r.HandDropEmpty, r.HandDrop.Seconds()/r.HandDropEmpty.Seconds())
	return r, nil
}

func (r *report) renderScenario() {
	s := r.scenario
	if s == nil {
		return
	}
	r.p("## 7. Scenarios (`strata scenario`)\n\n")
	r.p("Table `s(id bigint PRIMARY KEY, tenant int NOT NULL, payload text NOT NULL, amount int NOT NULL)`, %s rows, 10 tenants, an index on `tenant`; each figure is the fastest of %d runs, sides alternating.\n\n", num(float64(s.Rows)), r.cfg.reps)
	r.p("- **Hand-written copy**: one transaction of `CREATE UNLOGGED TABLE ... (LIKE s INCLUDING ALL EXCLUDING INDEXES)`, `INSERT ... SELECT`, then the primary key and the index.\n")
	r.p("- **strata**: `scenario.Manager.Create` (role, schema, copy, indexes, change log, grants, metadata), wall time.\n")
	r.p("- Each side opens its own connection inside the timed window (strata connects; so does a psql script). The diff baseline is a full outer join of the base and the copy that returns the differing rows (both sides) to the client, as diff does.\n\n")
	r.p("| Measurement | Baseline | strata | Ratio | Target |\n|---|---:|---:|---:|---|\n")
	all := s.createRatio(s.HandAll, s.StrataAll)
	sub := s.createRatio(s.HandSubset, s.StrataSubset)
	diff := s.Diff.Seconds() / s.FullJoin.Seconds()
	drop := s.Drop.Seconds() / s.DropEmpty.Seconds()
	r.p("| create, all rows | %s | %s | %.2f of its speed | ≥ %.2f %s |\n", dur(s.HandAll), dur(s.StrataAll), all, targetScnCreate, verdict(all >= targetScnCreate))
	r.p("| create, tenant subset (%s rows) | %s | %s | %.2f of its speed | ≥ %.2f %s |\n", num(float64(s.SubsetRows)), dur(s.HandSubset), dur(s.StrataSubset), sub, targetScnCreate, verdict(sub >= targetScnCreate))
	r.p("| diff, %s rows changed, vs full outer join | %s | %s | %.3f of its time | ≤ %.2f %s |\n", num(float64(s.Changed)), dur(s.FullJoin), dur(s.Diff), diff, targetScnDiff, verdict(diff <= targetScnDiff))
	r.p("| drop, vs an empty scenario | %s | %s | %.2fx | ≤ %.0fx and < 1 s %s |\n", dur(s.DropEmpty), dur(s.Drop), drop, targetScnDrop, verdict(drop <= targetScnDrop && s.Drop < time.Second))
	r.p("| hand-written `DROP SCHEMA ... CASCADE` of the same copy, vs an empty one (the floor) | %s | %s | %.2fx | |\n\n", dur(s.HandDropEmpty), dur(s.HandDrop), s.HandDrop.Seconds()/s.HandDropEmpty.Seconds())
	r.p("Medians of the %d runs: create all rows %s (hand) / %s (strata); subset %s / %s; diff %s, join %s; drop %s, empty %s; hand-written drop %s, empty %s.\n\n", r.cfg.reps,
		dur(s.median("hand-all")), dur(s.median("strata-all")), dur(s.median("hand-subset")), dur(s.median("strata-subset")),
		dur(s.median("diff")), dur(s.median("join")), dur(s.median("drop")), dur(s.median("drop-empty")), dur(s.median("hand-drop")), dur(s.median("hand-drop-empty")))
	r.target("Scenario create, all rows: ≥ 80% of a hand-written copy", fmt.Sprintf("%.2f", all), all >= targetScnCreate)
	r.target("Scenario create, 10% tenant subset: ≥ 80% of a hand-written copy", fmt.Sprintf("%.2f", sub), sub >= targetScnCreate)
	r.target("Scenario diff, 1% changed: ≤ 10% of a full outer join", fmt.Sprintf("%.3f", diff), diff <= targetScnDiff)
	r.target("Scenario drop: within 2× of an empty one, under 1 s", fmt.Sprintf("%.2fx (%s)", drop, dur(s.Drop)), drop <= targetScnDrop && s.Drop < time.Second)
}
