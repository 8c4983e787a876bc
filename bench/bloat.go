package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The space benchmark (-bloat): a type change on a table with autovacuum
// off, so that only strata's own VACUUMs reuse space: table + index size
// (pg_total_relation_size) before, after start and after complete, against
// the single-UPDATE bound's size and time on a copy of the same table.
// Ratios printed, in one run; every case runs -reps times.

type bloatOp struct{ name, col, typ, up, down string }

var bloatOps = []bloatOp{
	{"int_to_bigint", "n", "bigint", "n::bigint", "n::integer"},
	{"text_to_numeric", "amount", "numeric", "amount::numeric", "amount::text"},
}

func (o bloatOp) mig() string {
	return fmt.Sprintf("[[actions]]\ntype = \"alter_column\"\ntable = \"t\"\ncolumn = %q\nup = %q\ndown = %q\n  [actions.changes]\n  type = %q\n",
		o.col, o.up, o.down, o.typ)
}

func runBloat(ctx context.Context, cfg *config) int {
	e, err := newEnv(ctx, cfg)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	defer e.close()
	if err := bloatBench(ctx, e, cfg); err != nil {
		log.Printf("bloat benchmark: %v", err)
		return 1
	}
	return 0
}

func bloatTemplate(ctx context.Context, e *env, n int64) (string, error) {
	name := fmt.Sprintf("%sbloat_%d", dbPrefix, n)
	_ = e.dropDB(ctx, name)
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	conn, err := e.connect(ctx, name, "", false)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	for _, s := range []string{
		"CREATE TABLE t (id bigint NOT NULL, payload text NOT NULL, amount text NOT NULL, n integer NOT NULL) WITH (autovacuum_enabled = off)",
		fmt.Sprintf(`INSERT INTO t SELECT g, md5(g::text) || repeat('x', (g %% 40)::int), ((g * 7919) %% 1000003)::text, (g * 31 %% 1000000)::int
			FROM generate_series(1::bigint, %d) g`, n),
		"ALTER TABLE t ADD PRIMARY KEY (id)",
		"VACUUM ANALYZE t",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return "", fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return name, nil
}

func (e *env) cloneOf(ctx context.Context, tmpl, label string) (string, *pgx.Conn, error) {
	e.mu.Lock()
	e.seq++
	name := fmt.Sprintf("%s%s_%d", dbPrefix, label, e.seq)
	e.mu.Unlock()
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()+e.strategy); err != nil {
		return "", nil, err
	}
	conn, err := e.connect(ctx, name, "", false)
	if err != nil {
		return "", nil, err
	}
	if err := e.settle(ctx, conn); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	return name, conn, nil
}

type bloatRun struct {
	dur                   time.Duration
	before, after, afterC int64
	heap, index           int64 // after complete
}

func bloatBound(ctx context.Context, e *env, tmpl string, op bloatOp) (bloatRun, error) {
	var r bloatRun
	db, conn, err := e.cloneOf(ctx, tmpl, "bound")
	if err != nil {
		return r, err
	}
	defer e.dropDB(context.Background(), db)
	defer conn.Close(context.Background())
	if r.before, err = tableSize(ctx, conn); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE t ADD COLUMN new_col "+op.typ); err != nil {
		return r, err
	}
	t0 := time.Now()
	if _, err := conn.Exec(ctx, "UPDATE t SET new_col = "+op.up); err != nil {
		return r, err
	}
	r.dur = time.Since(t0)
	r.after, err = tableSize(ctx, conn)
	r.afterC = r.after
	if err == nil {
		err = conn.QueryRow(ctx, "SELECT pg_table_size('t'), pg_indexes_size('t')").Scan(&r.heap, &r.index)
	}
	return r, err
}

func bloatStrata(ctx context.Context, e *env, cfg *config, tmpl string, op bloatOp, fraction float64) (bloatRun, error) {
	var r bloatRun
	db, conn, err := e.cloneOf(ctx, tmpl, "strata")
	if err != nil {
		return r, err
	}
	defer e.dropDB(context.Background(), db)
	defer conn.Close(context.Background())
	c := *cfg
	c.vacuumFraction = fraction
	run, err := newStrataRun(ctx, e.dbURL(db), &c, "bench_"+op.name, op.mig())
	if err != nil {
		return r, err
	}
	if r.before, err = tableSize(ctx, conn); err != nil {
		return r, err
	}
	st, _, err := run.start(ctx)
	if err != nil {
		return r, fmt.Errorf("strata start: %w", err)
	}
	if r.dur = st.backfillDur(); r.dur == 0 {
		r.dur = st.Dur()
	}
	if r.after, err = tableSize(ctx, conn); err != nil {
		return r, err
	}
	if _, err := run.complete(ctx); err != nil {
		return r, fmt.Errorf("strata complete: %w", err)
	}
	r.afterC, err = tableSize(ctx, conn)
	if err == nil {
		err = conn.QueryRow(ctx, "SELECT pg_table_size('t'), pg_indexes_size('t')").Scan(&r.heap, &r.index)
	}
	return r, err
}

func bloatBench(ctx context.Context, e *env, cfg *config) error {
	sizes := []int64{1000000, 3000000}
	if cfg.smoke {
		sizes = []int64{20000}
	}
	if len(cfg.bloatSizes) > 0 {
		sizes = cfg.bloatSizes
	}
	reps := max(cfg.reps, 1)
	var out strings.Builder
	fmt.Fprintf(&out, "| Rows | Operation | Mode | Run | Before | After start | After complete | Growth | Heap / indexes after | Backfill | Rows/s | vs bound |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes {
		tmpl, err := bloatTemplate(ctx, e, n)
		if err != nil {
			return err
		}
		for _, op := range bloatOps {
			for rep := 1; rep <= reps; rep++ {
				b, err := bloatBound(ctx, e, tmpl, op)
				if err != nil {
					return fmt.Errorf("bound %s: %w", op.name, err)
				}
				row := func(mode string, r bloatRun) {
					rate := float64(n) / r.dur.Seconds()
					line := fmt.Sprintf("| %s | %s | %s | %d | %s | %s | %s | %.2f× | %s / %s | %s | %.0f | %.2f |",
						num(float64(n)), op.name, mode, rep, mib(r.before), mib(r.after), mib(r.afterC),
						float64(r.afterC)/float64(r.before), mib(r.heap), mib(r.index), r.dur.Round(time.Millisecond), rate, b.dur.Seconds()/r.dur.Seconds())
					log.Print(line)
					fmt.Fprintln(&out, line)
				}
				row("single UPDATE (bound)", b)
				s, err := bloatStrata(ctx, e, cfg, tmpl, op, 0)
				if err != nil {
					return fmt.Errorf("strata %s: %w", op.name, err)
				}
				row("strata, space reuse (default)", s)
				if n <= 1000000 || cfg.smoke {
					s, err := bloatStrata(ctx, e, cfg, tmpl, op, -1)
					if err != nil {
						return fmt.Errorf("strata %s: %w", op.name, err)
					}
					row("strata, space reuse off", s)
				}
			}
		}
		_ = e.dropDB(ctx, tmpl)
	}
	if cfg.bloat {
		fmt.Println(out.String())
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
