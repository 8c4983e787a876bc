package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/drift"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgcluster"
)

// runDumpBench measures, on a schema of n tables (5 columns, 2 indexes and
// 1 foreign key each, built by one .sql migration): strata dump against
// pg_dump --schema-only of the same schema, strata drift against the
// replay alone, and the number of catalog queries (for n and for 10
// tables: it must not grow). Best of reps runs each, same server, same run.
func runDumpBench(ctx context.Context, cfg *config) int {
	e, err := newEnv(ctx, cfg)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	defer e.close()
	if err := dumpBench(ctx, e, cfg.dumpTables); err != nil {
		log.Printf("dump benchmark: %v", err)
		return 1
	}
	return 0
}

func schemaSQL(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		ref := ""
		if i > 0 {
			ref = fmt.Sprintf(" REFERENCES t%d (id)", i-1)
		} else {
			ref = " REFERENCES t0 (id)"
		}
		fmt.Fprintf(&b, "CREATE TABLE t%d (id bigint PRIMARY KEY, parent bigint%s, a integer NOT NULL DEFAULT 0, b text, c timestamptz DEFAULT now());\n", i, ref)
		fmt.Fprintf(&b, "CREATE INDEX t%d_a ON t%d (a);\nCREATE INDEX t%d_b ON t%d (b, c);\n", i, i, i, i)
	}
	return b.String()
}

func best(reps int, f func() error) (time.Duration, error) {
	var min time.Duration
	for i := 0; i < reps; i++ {
		t := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		if d := time.Since(t); i == 0 || d < min {
			min = d
		}
	}
	return min, nil
}

func dumpBench(ctx context.Context, e *env, n int) error {
	const reps = 3
	dir, err := os.MkdirTemp("", "strata-dump-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "001_schema.sql"), []byte(schemaSQL(n)), 0o666); err != nil {
		return err
	}
	name := dbPrefix + "dump"
	_ = e.dropDB(ctx, name)
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return err
	}
	defer e.dropDB(context.Background(), name)
	url := e.dbURL(name)
	m, err := engine.New(url, engine.Options{})
	if err != nil {
		return err
	}
	migs, err := m.LoadDir(dir)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, migs); err != nil {
		return err
	}
	bin, err := pgcluster.FindBinDir("")
	if err != nil {
		return err
	}
	pgDump := filepath.Join(bin, "pg_dump")
	var size int
	dumpOnce := func() error {
		text, err := m.Dump(ctx)
		size = len(text)
		return err
	}
	pgDumpOnce := func() error {
		if err := exec.CommandContext(ctx, pgDump, "--schema-only", "--schema", "public", "-d", url, "-f", os.DevNull).Run(); err != nil {
			return fmt.Errorf("pg_dump: %w", err)
		}
		return nil
	}
	// Interleaved, 5 rounds: the machine's load changes.
	var dumpDur, pgDur time.Duration
	for i := 0; i < 5; i++ {
		d, err := best(1, dumpOnce)
		if err != nil {
			return err
		}
		p, err := best(1, pgDumpOnce)
		if err != nil {
			return err
		}
		if i == 0 || d < dumpDur {
			dumpDur = d
		}
		if i == 0 || p < pgDur {
			pgDur = p
		}
	}
	var diffs int
	var readDur time.Duration
	driftOnce := func() error {
		rep, err := m.Replay(ctx, migs, "")
		if err != nil {
			return err
		}
		t := time.Now()
		live, _, err := m.Structure(ctx)
		if err != nil {
			return err
		}
		diffs = len(drift.Compare(rep.Schema, live))
		readDur = time.Since(t)
		return nil
	}
	replayOnce := func() error {
		shadow := dbPrefix + "replay"
		if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{shadow}.Sanitize()); err != nil {
			return err
		}
		defer e.dropDB(context.Background(), shadow)
		sm, err := engine.New(e.dbURL(shadow), engine.Options{})
		if err != nil {
			return err
		}
		_, err = sm.Migrate(ctx, migs)
		return err
	}
	// Interleaved, so that a change of the machine's load hits both.
	var driftDur, replayDur time.Duration
	for i := 0; i < reps; i++ {
		d, err := best(1, driftOnce)
		if err != nil {
			return err
		}
		r, err := best(1, replayOnce)
		if err != nil {
			return err
		}
		if i == 0 || d < driftDur {
			driftDur = d
		}
		if i == 0 || r < replayDur {
			replayDur = r
		}
		log.Printf("round %d: drift %s (reading the live schema and comparing %s), replay alone %s", i+1, d.Round(time.Millisecond), readDur.Round(time.Millisecond), r.Round(time.Millisecond))
	}
	big, _, err := m.Structure(ctx)
	if err != nil {
		return err
	}
	small := dbPrefix + "dump_small"
	_ = e.dropDB(ctx, small)
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{small}.Sanitize()); err != nil {
		return err
	}
	defer e.dropDB(context.Background(), small)
	sc, err := pgx.Connect(ctx, e.dbURL(small))
	if err != nil {
		return err
	}
	if _, err := sc.Exec(ctx, schemaSQL(10)); err != nil {
		sc.Close(ctx)
		return err
	}
	sc.Close(ctx)
	sm, _ := engine.New(e.dbURL(small), engine.Options{})
	little, _, err := sm.Structure(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("schema: %d tables (5 columns, 2 indexes, 1 foreign key each), %d objects, dump %d bytes; fastest of 5 interleaved rounds (dump, pg_dump) and %d (drift, replay)\n", n, len(big.Objects), size, reps)
	fmt.Printf("strata dump            %10s\n", dumpDur.Round(time.Millisecond))
	fmt.Printf("pg_dump --schema-only  %10s\n", pgDur.Round(time.Millisecond))
	fmt.Printf("ratio dump / pg_dump   %10.2f  (target <= 1)\n", dumpDur.Seconds()/pgDur.Seconds())
	fmt.Printf("strata drift           %10s  (%d differences)\n", driftDur.Round(time.Millisecond), diffs)
	fmt.Printf("replay alone           %10s\n", replayDur.Round(time.Millisecond))
	fmt.Printf("ratio drift / replay   %10.2f  (target <= 1.5)\n", driftDur.Seconds()/replayDur.Seconds())
	fmt.Printf("catalog queries        %10d for %d tables, %d for 10 tables\n", big.Queries, n, little.Queries)
	return nil
}
