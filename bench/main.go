// Command bench measures strata against PostgreSQL itself and writes a
// markdown report. Every figure is a ratio against a baseline measured in the
// same run, on the same data:
//
//  1. backfill throughput of add_column (with `up`) and of an alter_column
//     type change, against a single `UPDATE t SET new = expr` (the bound);
//  2. lock impact: client errors and latency of a mixed read/write load on the
//     old and the new version while a migration goes through start, backfill
//     and complete, against the same load before it (and, for contrast,
//     against a naive ALTER TABLE ... TYPE);
//  3. write throughput while a phase is in progress (sync triggers) against
//     no phase;
//  4. point-read throughput through a version schema's views against the base
//     table;
//  5. a folder of 1,000 small .sql files applied by `strata migrate` (lint
//     gate included) against goose applying the same files.
//  6. strata scenario: create (all rows, a 10% tenant subset) against a
//     hand-written copy, diff with 1% changed against a full outer join, drop
//     against dropping an empty scenario.
//  7. strata lint against squawk (npm squawk-cli, installed by the benchmark
//     into $STRATA_BENCH_CACHE or the user cache folder) on one generated
//     10,000-statement file, in each output format (no server needed).
//
// Usage:
//
//	go run ./bench                         # full run, report on stdout
//	go run ./bench -out docs/benchmarks.md # full run, report to a file
//	go run ./bench -smoke                  # tiny sizes, under a minute (CI)
//	go run ./bench -fdw                    # only the postgres_fdw join benchmark (ratio printed)
//	go run ./bench -bloat                  # only the space benchmark: size after complete vs before and the single UPDATE
//	go run ./bench -dump 1000              # only strata dump vs pg_dump, drift vs replay, catalog queries
//	go run ./bench -lockloss 50            # only the lock-loss check: 50 pairs per mode, overlaps printed
//	go run ./bench -only sql               # only 1,000 .sql files: strata migrate vs goose
//	go run ./bench -only lint              # only strata lint vs squawk on 10,000 statements, every format (no server)
//
// It uses the server at $STRATA_BENCH_DATABASE_URL (the role must be allowed
// to CREATE DATABASE; CHECKPOINT needs superuser or pg_checkpoint) or, when
// that is unset, starts a throwaway cluster with internal/pgcluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvURL names an existing server to benchmark against.
const EnvURL = "STRATA_BENCH_DATABASE_URL"

type config struct {
	smoke          bool
	sizes          []int64
	loadRows       int64
	duration       time.Duration
	warmup         time.Duration
	clients        int
	load           float64 // fraction of measured capacity offered in the lock test
	batchSize      int
	batchTarget    time.Duration
	workers        int
	maxRate        float64
	lockRate       float64 // lock test: throttle of its throttled run (0: no such run)
	lockLabel      string  // lock test: the variant being run
	rounds         int     // time-sliced A/B rounds of the write-overhead test
	readRounds     int     // the same for the read-overhead test, per query mode
	reps           int     // repetitions of each backfill measurement (the fastest counts)
	out            string
	only           map[string]bool
	lockloss       int // pairs per mode of the lock-loss check (0: not that mode)
	sqlFiles       int // .sql files of the strata-vs-goose benchmark
	lintStatements int // statements of the lint benchmark's file
	lintReps       int // runs of each linter per format (the median counts)
	cpuProfile     string
	fdw            bool
	fdwRows        int
	fdwReps        int
	dumpTables     int // tables of the dump/drift benchmark (0: not that mode)
	bloat          bool
	bloatSizes     []int64
	// strata backfill: space reuse (0: default; negative: off)
	vacuumFraction float64
	// strata backfill: rest while the application is active (0: default)
	appRest float64
	args    []string
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &config{args: args}
	var sizes, only string
	fs.BoolVar(&c.smoke, "smoke", false, "tiny sizes and short durations (CI check that the suite works; < 60 s)")
	fs.StringVar(&sizes, "sizes", "1000000,10000000", "comma-separated table sizes (rows) for the backfill benchmark")
	fs.Int64Var(&c.loadRows, "load-rows", 1000000, "table size (rows) for the lock, write and read benchmarks")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "length of each measurement window")
	fs.IntVar(&c.clients, "clients", 8, "concurrent client connections of the load generator")
	fs.Float64Var(&c.load, "load", 0.5, "lock test: offered load as a fraction of the measured closed-loop capacity")
	fs.IntVar(&c.batchSize, "batch-size", 0, "strata backfill: rows in the first batch (0: the engine's default)")
	fs.DurationVar(&c.batchTarget, "batch-target", 0, "strata backfill: target batch duration (0: the engine's default; negative: fixed batch size)")
	fs.IntVar(&c.workers, "workers", 0, "strata backfill: parallel workers (0: the engine's default)")
	fs.Float64Var(&c.maxRate, "max-rows-per-second", 0, "strata backfill: throttle (0: none)")
	fs.Float64Var(&c.lockRate, "lock-throttle", 50000, "lock test: also run it with the backfill throttled to this many rows/s, and with the default options at half the load (0: only the main run)")
	fs.IntVar(&c.rounds, "rounds", 3, "write test: time-sliced A/B windows (the mean counts)")
	fs.IntVar(&c.readRounds, "read-rounds", 5, "read test: time-sliced A/B windows per query mode (the mean counts)")
	fs.IntVar(&c.reps, "reps", 2, "backfill: runs of the bound and of strata each (alternating); the fastest of each counts")
	fs.BoolVar(&c.fdw, "fdw", false, "run only the postgres_fdw benchmark: a join and aggregate through strata foreign sync's foreign tables against the same query on the application database (ratio printed)")
	fs.IntVar(&c.fdwRows, "fdw-rows", 200000, "fdw benchmark: rows of the orders table")
	fs.IntVar(&c.fdwReps, "fdw-reps", 15, "fdw benchmark: timed runs of each query")
	fs.BoolVar(&c.bloat, "bloat", false, "run only the space benchmark: a type change with autovacuum off, table+index size after complete against before and the single UPDATE, both space-reuse modes at 1M rows (ratios printed)")
	var bloatSizes string
	fs.StringVar(&bloatSizes, "bloat-sizes", "", "space benchmark: table sizes (default 1000000,3000000)")
	fs.Float64Var(&c.appRest, "app-rest", 0, "strata backfill: rest after each batch while the application is active, as a multiple of the batch's duration (0: the engine's default; negative: no pacing)")
	fs.Float64Var(&c.vacuumFraction, "backfill-vacuum-every", 0, "strata backfill: share of rows between VACUUMs (0: default; negative: no space reuse)")
	defer func() {
		for _, f := range strings.Split(bloatSizes, ",") {
			if v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil {
				c.bloatSizes = append(c.bloatSizes, v)
			}
		}
	}()
	fs.IntVar(&c.dumpTables, "dump", 0, "run only the dump/drift benchmark on a schema of this many tables (e.g. 1000)")
	fs.IntVar(&c.lockloss, "lockloss", 0, "run only the lock-loss check: this many pairs per mode, printing the overlaps (must be 0)")
	fs.IntVar(&c.sqlFiles, "sql-files", 1000, "sql benchmark: small .sql files applied by strata migrate and by goose")
	fs.IntVar(&c.lintStatements, "lint-statements", lintStatements, "lint benchmark: statements of the generated file")
	fs.IntVar(&c.lintReps, "lint-reps", 5, "lint benchmark: runs of strata and of squawk per output format (the median counts)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the benchmark process (strata's client side included) to this file")
	fs.StringVar(&c.out, "out", "", "write the markdown report to this file (default: stdout)")
	fs.StringVar(&only, "only", "", "run only these benchmarks (comma-separated: backfill,lock,applatency,write,read,untouched,sql,scenario,lint)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.smoke {
		if !set["sizes"] {
			sizes = "20000"
		}
		if !set["load-rows"] {
			c.loadRows = 20000
		}
		if !set["duration"] {
			c.duration = 600 * time.Millisecond
		}
		if !set["clients"] {
			c.clients = 4
		}
		if !set["rounds"] {
			c.rounds = 1
		}
		if !set["read-rounds"] {
			c.readRounds = 1
		}
		if !set["reps"] {
			c.reps = 1
		}
		if !set["sql-files"] {
			c.sqlFiles = 50
		}
		if !set["lint-statements"] {
			c.lintStatements = 200
		}
		if !set["lint-reps"] {
			c.lintReps = 1
		}
	}
	for _, s := range strings.Split(sizes, ",") {
		s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1000 {
			return nil, fmt.Errorf("-sizes: %q is not a row count >= 1000", s)
		}
		c.sizes = append(c.sizes, n)
	}
	if len(c.sizes) == 0 {
		return nil, errors.New("-sizes: no sizes given")
	}
	if c.loadRows < 1000 {
		return nil, errors.New("-load-rows must be at least 1000")
	}
	if c.clients < 2 {
		return nil, errors.New("-clients must be at least 2 (half old version, half new)")
	}
	if c.duration <= 0 {
		return nil, errors.New("-duration must be positive")
	}
	if c.load <= 0 || c.load > 1 {
		return nil, errors.New("-load must be in (0, 1]")
	}
	if c.reps < 1 {
		return nil, errors.New("-reps must be at least 1")
	}
	if c.rounds < 1 {
		return nil, errors.New("-rounds must be at least 1")
	}
	if c.sqlFiles < 5 {
		return nil, errors.New("-sql-files must be at least 5")
	}
	if c.lintStatements < 12 {
		return nil, errors.New("-lint-statements must be at least 12")
	}
	if c.lintReps < 1 {
		return nil, errors.New("-lint-reps must be at least 1")
	}
	if c.readRounds < 1 {
		return nil, errors.New("-read-rounds must be at least 1")
	}
	if c.lockRate < 0 {
		return nil, errors.New("-lock-throttle must not be negative")
	}
	c.warmup = min(c.duration/3, 3*time.Second)
	if only != "" {
		c.only = map[string]bool{}
		for _, o := range strings.Split(only, ",") {
			o = strings.TrimSpace(o)
			switch o {
			case "backfill", "lock", "applatency", "write", "read", "untouched", "sql", "scenario", "lint":
				c.only[o] = true
			default:
				return nil, fmt.Errorf("-only: unknown benchmark %q (backfill, lock, applatency, write, read, untouched, sql, scenario, lint)", o)
			}
		}
	}
	return c, nil
}

// minWindow is the shortest window of the lock test's later segments.
func (c *config) minWindow() time.Duration { return min(time.Second, c.duration) }

func (c *config) want(name string) bool { return c.only == nil || c.only[name] }

// lintOnly reports whether only the lint benchmark runs (it needs no server).
func (c *config) lintOnly() bool { return len(c.only) == 1 && c.only["lint"] }

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("bench: ")
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	if cfg.fdw {
		code = runFDW(ctx, cfg)
	} else if cfg.bloat {
		code = runBloat(ctx, cfg)
	} else if cfg.dumpTables > 0 {
		code = runDumpBench(ctx, cfg)
	} else if cfg.lockloss > 0 {
		code = runLockLoss(ctx, cfg)
	} else {
		code = run(ctx, cfg)
	}
	stop()
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	os.Exit(code)
}

func run(ctx context.Context, cfg *config) int {
	started := time.Now()
	e := &env{cfg: cfg}
	if !cfg.lintOnly() {
		var err error
		if e, err = newEnv(ctx, cfg); err != nil {
			log.Printf("%v", err)
			return 1
		}
		defer e.close()
	}

	rep := &report{cfg: cfg, machine: e.machine(ctx), started: started}
	if v, ok := loadAvg(); ok {
		rep.loadStart = v
		if v > float64(runtime.NumCPU())/2 {
			log.Printf("warning: load average %.1f on %d cores before the run: other processes will disturb the figures", v, runtime.NumCPU())
		}
	}
	sampler := startLoadSampler(5 * time.Second)
	if cfg.want("backfill") {
		for _, n := range cfg.sizes {
			for _, op := range backfillOps {
				r, err := runBackfill(ctx, e, cfg, op, n)
				if err != nil {
					err = fmt.Errorf("backfill %s %d rows: %w", op.name, n, err)
					log.Printf("FAILED: %v", err)
					rep.errs = append(rep.errs, err)
				} else {
					rep.backfill = append(rep.backfill, r)
				}
				if ctx.Err() != nil {
					break
				}
			}
		}
	}
	if cfg.smoke && cfg.want("bloat") && ctx.Err() == nil {
		// The space benchmark at smoke size (its full run: -bloat); its
		// table goes to the log.
		if err := bloatBench(ctx, e, cfg); err != nil {
			err = fmt.Errorf("bloat: %w", err)
			log.Printf("FAILED: %v", err)
			rep.errs = append(rep.errs, err)
		}
	}
	if cfg.want("lock") && ctx.Err() == nil {
		for i, v := range lockVariants(cfg) {
			r, err := runLockImpact(ctx, e, v, i == 0)
			if err != nil {
				err = fmt.Errorf("lock impact: %w", err)
				log.Printf("FAILED: %v", err)
				rep.errs = append(rep.errs, err)
			}
			if r != nil {
				rep.locks = append(rep.locks, r)
			}
			if err != nil || ctx.Err() != nil {
				break
			}
		}
	}
	if cfg.want("applatency") && ctx.Err() == nil {
		for _, lt := range appLatVariants() {
			r, err := runAppLatency(ctx, e, cfg, lt)
			if err != nil {
				err = fmt.Errorf("app latency: %w", err)
				log.Printf("FAILED: %v", err)
				rep.errs = append(rep.errs, err)
			}
			if r != nil {
				rep.apps = append(rep.apps, r)
			}
			if err != nil || ctx.Err() != nil {
				break
			}
		}
	}
	if (cfg.want("write") || cfg.want("read")) && ctx.Err() == nil {
		w, r, err := runOverhead(ctx, e, cfg)
		if err != nil {
			err = fmt.Errorf("write/read overhead: %w", err)
			log.Printf("FAILED: %v", err)
			rep.errs = append(rep.errs, err)
		}
		rep.write, rep.read = w, r
	}
	if cfg.want("untouched") && ctx.Err() == nil {
		u, err := runUntouched(ctx, e, cfg)
		if err != nil {
			err = fmt.Errorf("untouched-table reads: %w", err)
			log.Printf("FAILED: %v", err)
			rep.errs = append(rep.errs, err)
		}
		rep.untouched = u
	}
	if cfg.want("sql") && ctx.Err() == nil {
		r, err := runSQLFiles(ctx, e, cfg)
		if err != nil {
			err = fmt.Errorf("sql files: %w", err)
			log.Printf("FAILED: %v", err)
			rep.errs = append(rep.errs, err)
		}
		rep.sql = r
	}
	if cfg.want("lint") && ctx.Err() == nil {
		l, err := runLintBench(ctx, cfg)
		if err != nil {
			err = fmt.Errorf("lint: %w", err)
			log.Printf("FAILED: %v", err)
			rep.errs = append(rep.errs, err)
		}
		rep.lint = l
	}
	if cfg.want("scenario") && ctx.Err() == nil {
		s, err := runScenario(ctx, e, cfg, cfg.sizes[0])
		if err != nil {
			err = fmt.Errorf("scenario: %w", err)
			log.Printf("FAILED: %v", err)
			rep.errs = append(rep.errs, err)
		}
		rep.scenario = s
	}
	if ctx.Err() != nil {
		rep.errs = append(rep.errs, fmt.Errorf("interrupted: %w", ctx.Err()))
	}
	rep.elapsed = time.Since(started)
	rep.loadMin, rep.loadMean, rep.loadMax, _ = sampler.finish()

	text := rep.render()
	if cfg.out == "" {
		fmt.Print(text)
	} else {
		if err := os.WriteFile(cfg.out, []byte(text), 0o644); err != nil {
			log.Printf("write report: %v", err)
			return 1
		}
		log.Printf("report written to %s", cfg.out)
	}
	log.Printf("done in %s", time.Since(started).Round(time.Second))
	if len(rep.errs) > 0 {
		return 1
	}
	return 0
}
