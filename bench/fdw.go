package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/foreign"
)

// runFDW measures a join with an aggregate over two foreign tables synced by
// strata foreign sync (default server options) against the same query on
// the application database, in the same run, and prints the ratio of the
// medians (target: at most 2x).
func runFDW(ctx context.Context, cfg *config) int {
	e, err := newEnv(ctx, cfg)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	defer e.close()
	if err := fdwBench(ctx, e, cfg); err != nil {
		log.Printf("fdw: %v", err)
		return 1
	}
	return 0
}

func fdwBench(ctx context.Context, e *env, cfg *config) error {
	appDB, repDB := dbPrefix+"fdw_app", dbPrefix+"fdw_rep"
	for _, d := range []string{appDB, repDB} {
		if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+d); err != nil {
			return err
		}
		defer e.dropDB(context.WithoutCancel(ctx), d)
	}
	rows := int64(cfg.fdwRows)
	app, err := e.connect(ctx, appDB, "", false)
	if err != nil {
		return err
	}
	defer app.Close(context.WithoutCancel(ctx))
	setup := fmt.Sprintf(`
CREATE TABLE customers (id bigint PRIMARY KEY, region text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric(10,2) NOT NULL);
INSERT INTO customers SELECT i, 'r' || (i %% 20) FROM generate_series(1, %[1]d / 10) i;
INSERT INTO orders SELECT i, 1 + i %% (%[1]d / 10), i %% 500 FROM generate_series(1, %[1]d) i;
CREATE INDEX ON orders (customer_id);
ANALYZE customers, orders;
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'strata_bench_reporting') THEN CREATE ROLE strata_bench_reporting LOGIN; END IF; END $$;`, rows)
	if _, err := app.Exec(ctx, setup); err != nil {
		return err
	}
	decl := &foreign.Decl{Name: "app", Into: e.dbURL(repDB), Schema: "app", User: "strata_bench_reporting", ReadOnly: true}
	if _, err := foreign.Sync(ctx, decl, foreign.Options{SourceURL: e.dbURL(appDB), SourceSchema: "public", Version: "bench"}, false); err != nil {
		return err
	}
	rep, err := e.connect(ctx, repDB, "", false)
	if err != nil {
		return err
	}
	defer rep.Close(context.WithoutCancel(ctx))
	const q = `SELECT c.region, count(*), sum(o.total) FROM %[1]scustomers c JOIN %[1]sorders o ON o.customer_id = c.id WHERE o.total > 250 GROUP BY c.region`
	var plan string
	if err := rep.QueryRow(ctx, "EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) "+fmt.Sprintf(q, "app.")).Scan(&plan); err != nil {
		return err
	}
	if !strings.Contains(plan, "INNER JOIN") || strings.Count(plan, `"Foreign Scan"`) != 1 {
		return fmt.Errorf("the join does not run on the remote server: %s", plan)
	}
	reps := cfg.fdwReps
	local, err := timeQuery(ctx, app, fmt.Sprintf(q, "public."), reps)
	if err != nil {
		return err
	}
	remote, err := timeQuery(ctx, rep, fmt.Sprintf(q, "app."), reps)
	if err != nil {
		return err
	}
	fmt.Printf("fdw join+aggregate over %d orders, %d runs each (medians): application database %s, through postgres_fdw %s: ratio %.2fx (target <= 2x)\n",
		rows, reps, local.Round(time.Microsecond), remote.Round(time.Microsecond), float64(remote)/float64(local))
	return nil
}

// timeQuery runs sql reps times (after one warm-up) and returns the median.
func timeQuery(ctx context.Context, conn *pgx.Conn, sql string, reps int) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i <= reps; i++ {
		t := time.Now()
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if i > 0 {
			ds = append(ds, time.Since(t))
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
