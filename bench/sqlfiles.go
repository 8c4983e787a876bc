package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for goose
	"github.com/pressly/goose/v3"

	"github.com/stratapg/strata/cli"
)

// targetSQL: strata applies the folder of small .sql files within this
// factor of goose's time.
const targetSQL = 2.0

// sqlResult is the .sql migrations benchmark: the same folder of small
// files applied to a fresh empty database by `strata migrate` (through
// cli.Main, so the lint gate, history, leftover checks and the version-schema
// refresh are included) and by goose as a library.
type sqlResult struct {
	Files      int
	NoTx       int // files that run without a transaction
	StrataRuns []time.Duration
	GooseRuns  []time.Duration
	Strata     time.Duration // fastest
	Goose      time.Duration // fastest
}

func (r *sqlResult) ratio() float64 { return ratioOf(r.Strata, r.Goose) }

// pairRatio is the median of the ratios of each round's two runs (less
// sensitive to a noisy moment than the fastest of each).
func (r *sqlResult) pairRatio() float64 {
	var rs []float64
	for i := range min(len(r.StrataRuns), len(r.GooseRuns)) {
		rs = append(rs, ratioOf(r.StrataRuns[i], r.GooseRuns[i]))
	}
	slices.Sort(rs)
	if len(rs) == 0 {
		return math.Inf(1)
	}
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

// writeSQLFiles writes n small goose-annotated migrations into dir: a
// repeating cycle of CREATE TABLE, ADD COLUMN, INSERT, COMMENT and a
// CREATE INDEX CONCURRENTLY in a no-transaction file. Every file is
// lint-clean for strata and valid for goose. It returns the number of
// no-transaction files.
func writeSQLFiles(dir string, n int) (int, error) {
	noTx := 0
	table := ""
	for i := 1; i <= n; i++ {
		var name, up, down string
		noTxFile := false
		switch i % 5 {
		case 1:
			table = fmt.Sprintf("t_%05d", i)
			name = "create_" + table
			up = fmt.Sprintf("CREATE TABLE %s (\n    id bigint PRIMARY KEY,\n    name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n", table)
			down = fmt.Sprintf("DROP TABLE %s;\n", table)
		case 2:
			name = "add_note_" + table
			up = fmt.Sprintf("ALTER TABLE %s ADD COLUMN note text;\n", table)
			down = fmt.Sprintf("ALTER TABLE %s DROP COLUMN note;\n", table)
		case 3:
			name = "seed_" + table
			up = fmt.Sprintf("INSERT INTO %s (id, name) VALUES (1, 'one'), (2, 'two');\n", table)
			down = fmt.Sprintf("DELETE FROM %s;\n", table)
		case 4:
			name = "comment_" + table
			up = fmt.Sprintf("COMMENT ON TABLE %s IS 'file %d';\n", table, i)
			down = fmt.Sprintf("COMMENT ON TABLE %s IS NULL;\n", table)
		case 0:
			noTxFile = true
			noTx++
			name = "index_" + table
			up = fmt.Sprintf("CREATE INDEX CONCURRENTLY %s_name_idx ON %s (name);\n", table, table)
			down = fmt.Sprintf("DROP INDEX CONCURRENTLY %s_name_idx;\n", table)
		}
		var b strings.Builder
		if noTxFile {
			b.WriteString("-- +goose NO TRANSACTION\n")
		}
		b.WriteString("-- +goose Up\n" + up + "\n-- +goose Down\n" + down)
		file := filepath.Join(dir, fmt.Sprintf("%05d_%s.sql", i, name))
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
	}
	return noTx, nil
}

// freshDB creates an empty database for one run.
func (e *env) freshDB(ctx context.Context, label string) (string, error) {
	e.mu.Lock()
	e.seq++
	name := fmt.Sprintf("%s%s_%d", dbPrefix, label, e.seq)
	e.mu.Unlock()
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database (the role needs CREATEDB): %w", err)
	}
	return name, nil
}

func runSQLFiles(ctx context.Context, e *env, cfg *config) (*sqlResult, error) {
	dir, err := os.MkdirTemp("", "strata-bench-sql-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &sqlResult{Files: cfg.sqlFiles}
	if res.NoTx, err = writeSQLFiles(dir, cfg.sqlFiles); err != nil {
		return nil, err
	}
	log.Printf("sql: %d .sql files (%d without a transaction) in %s", res.Files, res.NoTx, dir)
	for rep := 0; rep < cfg.reps && ctx.Err() == nil; rep++ {
		// Alternate which tool goes first, so that neither always runs on
		// a server warmed up by the other.
		order := []string{"goose", "strata"}
		if rep%2 == 1 {
			order = []string{"strata", "goose"}
		}
		for _, tool := range order {
			d, err := sqlOnce(ctx, e, dir, tool, res.Files)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", tool, err)
			}
			log.Printf("sql: %s applied %d files in %s", tool, res.Files, d.Round(time.Millisecond))
			if tool == "goose" {
				res.GooseRuns = append(res.GooseRuns, d)
			} else {
				res.StrataRuns = append(res.StrataRuns, d)
			}
		}
	}
	if len(res.StrataRuns) == 0 || len(res.GooseRuns) == 0 {
		return nil, ctx.Err()
	}
	res.Strata, res.Goose = fastest(res.StrataRuns), fastest(res.GooseRuns)
	log.Printf("sql: strata %s, goose %s (fastest of each): ratio %.2f (target <= %.1f); median of the rounds' ratios %.2f",
		res.Strata.Round(time.Millisecond), res.Goose.Round(time.Millisecond), res.ratio(), targetSQL, res.pairRatio())
	return res, nil
}

func fastest(ds []time.Duration) time.Duration {
	best := ds[0]
	for _, d := range ds[1:] {
		best = min(best, d)
	}
	return best
}

// sqlOnce applies the folder with one tool to a fresh database, checks that
// every file was recorded as applied, and returns the wall time of the
// tool's run (from reading the folder to the last file recorded).
func sqlOnce(ctx context.Context, e *env, dir, tool string, files int) (time.Duration, error) {
	db, err := e.freshDB(ctx, "sql_"+tool)
	if err != nil {
		return 0, err
	}
	defer func() { _ = e.dropDB(context.Background(), db) }()
	url := e.dbURL(db)
	var d time.Duration
	var check string
	switch tool {
	case "strata":
		var out, errb bytes.Buffer
		t0 := time.Now()
		code := cli.Main(ctx, []string{"--url", url, "--dir", dir, "--quiet", "migrate"}, nil, &out, &errb)
		d = time.Since(t0)
		if code != 0 {
			return 0, fmt.Errorf("strata migrate: exit %d: %s", code, oneLine(errb.String()))
		}
		check = "SELECT count(*) FROM strata.history WHERE completed_at IS NOT NULL"
	case "goose":
		t0 := time.Now()
		err := gooseUp(ctx, url, dir)
		d = time.Since(t0)
		if err != nil {
			return 0, err
		}
		check = "SELECT count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied"
	}
	conn, err := e.connect(ctx, db, "", false)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, check).Scan(&n); err != nil {
		return 0, fmt.Errorf("count applied migrations: %w", err)
	}
	if n != files {
		return 0, fmt.Errorf("%d of %d files recorded as applied", n, files)
	}
	return d, nil
}

func gooseUp(ctx context.Context, url, dir string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("goose: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("goose up: %w", err)
	}
	return nil
}

func (r *report) renderSQL() {
	s := r.sql
	if s == nil {
		return
	}
	ok := s.ratio() <= targetSQL
	r.p("## 6. Plain .sql migrations against goose\n\n")
	r.p("A folder of %s small goose-annotated `.sql` files (a repeating cycle of `CREATE TABLE`, `ADD COLUMN`, a two-row `INSERT`, `COMMENT ON TABLE`, and a `CREATE INDEX CONCURRENTLY` in a `-- +goose NO TRANSACTION` file: %s of them), ", num(float64(s.Files)), num(float64(s.NoTx)))
	r.p("applied to a fresh empty database by each tool:\n\n")
	r.p("- **goose**: `github.com/pressly/goose/v3` as a library (`goose.NewProvider(goose.DialectPostgres, db, os.DirFS(dir)).Up`, database/sql over pgx), timed from opening the database to the end of `Up`.\n")
	r.p("- **strata**: `strata migrate --dir DIR` through `cli.Main`, the path a user takes: reading the folder, the lint gate over every file in its transaction shape, the lease, the history record of each file, the INVALID-index and NOT VALID checks after each file.\n")
	r.p("- Each side runs %d time(s), alternating, each on a new database; the fastest run of each counts. Target: strata within %.0f× goose's time.\n\n", r.cfg.reps, targetSQL)
	r.p("| Files | goose | strata | Per file: goose / strata | Ratio | Target |\n|---:|---:|---:|---:|---:|---|\n")
	r.p("| %s | %s | %s | %s / %s | %.2f× | %s |\n\n", num(float64(s.Files)), dur(s.Goose), dur(s.Strata),
		dur(s.Goose/time.Duration(s.Files)), dur(s.Strata/time.Duration(s.Files)), s.ratio(), verdict(ok))
	r.p("All runs (round by round): goose %s; strata %s. Median of the rounds' ratios: %.2f×.\n\n", durList(s.GooseRuns), durList(s.StrataRuns), s.pairRatio())
	r.target(fmt.Sprintf("%s .sql files: strata migrate within %.0f× goose", num(float64(s.Files)), targetSQL),
		fmt.Sprintf("%.2f× (%s vs %s)", s.ratio(), dur(s.Strata), dur(s.Goose)), ok)
}
