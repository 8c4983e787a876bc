// Package crash_test runs the strata binary as a separate process against a
// test database and kills it (STRATA_CRASH_AFTER makes it SIGKILL itself at
// a named step or backfill batch), or runs two of them at once, and checks
// that re-running the command finishes the job with nothing lost or left
// behind.
package crash_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

// strataBin is the strata binary built once for the whole package.
var strataBin string

// TestMain builds cmd/strata once, runs the tests and removes the binary.
// pgtest.Main is not used because it ends the process before the binary
// could be removed; a cluster that pgtest starts itself is stopped by its
// watchdog when this process exits (see internal/pgtest).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-crash-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		goBin, err := exec.LookPath("go")
		if err != nil {
			// Not on PATH: the toolchain that runs the tests.
			goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		strataBin = filepath.Join(dir, "strata")
		cmd := exec.Command(goBin, "build", "-o", strataBin, "github.com/stratapg/strata/cmd/strata")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "crash tests: build strata: %v\n", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// result is how one strata process ended.
type result struct {
	code   int            // exit status; -1 when killed by a signal
	signal syscall.Signal // the signal that killed it, if any
	stdout string
	stderr string
	took   time.Duration
	err    error // the process could not be run or waited for
}

func (r result) String() string {
	if r.signal != 0 {
		return fmt.Sprintf("killed by %v after %s; stderr:\n%s", r.signal, r.took.Round(time.Millisecond), r.stderr)
	}
	return fmt.Sprintf("exit %d after %s; stdout:\n%s\nstderr:\n%s", r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// proc is a strata process started in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	begun          time.Time
	cancel         context.CancelFunc
}

// env is one test's database and migrations folder.
type env struct {
	t   *testing.T
	db  *pgtest.DB
	dir string
	ctx context.Context
}

func newEnv(t *testing.T, setup string, migrations ...string) *env {
	t.Helper()
	db := pgtest.New(t)
	if setup != "" {
		db.Exec(t, setup)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, db: db, dir: t.TempDir(), ctx: ctx}
	for i := 0; i+1 < len(migrations); i += 2 {
		if err := os.WriteFile(filepath.Join(e.dir, migrations[i]), []byte(migrations[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// spawn starts strata with args; crash, if not empty, is its
// STRATA_CRASH_AFTER.
func (e *env) spawn(crash string, args ...string) *proc {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	p := &proc{cancel: cancel}
	p.cmd = exec.CommandContext(ctx, strataBin, append(args, "--dir", e.dir)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "STRATA_CRASH_AFTER" || strings.HasPrefix(k, "PG") {
			continue
		}
		p.cmd.Env = append(p.cmd.Env, kv)
	}
	p.cmd.Env = append(p.cmd.Env, "DATABASE_URL="+e.db.URL)
	if crash != "" {
		p.cmd.Env = append(p.cmd.Env, "STRATA_CRASH_AFTER="+crash)
	}
	p.begun = time.Now()
	if err := p.cmd.Start(); err != nil {
		cancel()
		e.t.Fatalf("start strata %v: %v", args, err)
	}
	return p
}

func (p *proc) wait(t *testing.T) result {
	t.Helper()
	r := p.waitErr()
	if r.err != nil {
		t.Fatalf("strata %v: %v", p.cmd.Args[1:], r.err)
	}
	return r
}

// waitErr waits for the process; it may run on any goroutine.
func (p *proc) waitErr() result {
	defer p.cancel()
	err := p.cmd.Wait()
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String(), took: time.Since(p.begun)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
	default:
		r.err = err
	}
	return r
}

// run runs strata to its end.
func (e *env) run(crash string, args ...string) result {
	e.t.Helper()
	return e.spawn(crash, args...).wait(e.t)
}

// ok runs strata and fails the test unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 || r.signal != 0 {
		e.t.Fatalf("strata %v: %s", args, r)
	}
	return r
}

// crash runs strata with STRATA_CRASH_AFTER=point and fails the test
// unless the process died by SIGKILL.
func (e *env) crash(point string, args ...string) result {
	e.t.Helper()
	r := e.run(point, args...)
	if r.signal != syscall.SIGKILL {
		e.t.Fatalf("strata %v with STRATA_CRASH_AFTER=%s was not killed by SIGKILL: %s", args, point, r)
	}
	e.waitGone()
	return r
}

// waitGone waits until the server has noticed that killed strata processes
// are gone: until then their sessions still hold the advisory lock, and a
// new strata would rightly refuse to run.
func (e *env) waitGone() {
	e.t.Helper()
	conn := e.conn()
	for i := 0; ; i++ {
		var n int
		if err := conn.QueryRow(e.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name LIKE 'strata%' AND datname = current_database()`).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if i == 200 {
			e.t.Fatalf("%d strata sessions still open 10s after the process died", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) status() engine.Status {
	e.t.Helper()
	r := e.ok("status", "--json")
	var st engine.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

// plan returns the plan of the pending migrations, computed in-process by
// the engine (step ids are what STRATA_CRASH_AFTER names).
func (e *env) plan() *engine.Plan {
	e.t.Helper()
	m, err := engine.New(e.db.URL, engine.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	migs, err := m.LoadDir(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := m.Plan(e.ctx, migs)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return p
}

// wantPhase fails the test unless status reports the phase in progress.
func (e *env) wantPhase(phase string) engine.Status {
	e.t.Helper()
	st := e.status()
	if st.State != "in_progress" || st.Phase != phase {
		e.t.Fatalf("status: state %q phase %q, want in_progress/%s", st.State, st.Phase, phase)
	}
	return st
}

// wantIdle fails the test unless no phase is in progress and latest is the
// latest completed migration ("" for none).
func (e *env) wantIdle(latest string) {
	e.t.Helper()
	st := e.status()
	got := ""
	if st.LatestCompleted != nil {
		got = *st.LatestCompleted
	}
	if st.State != "idle" || len(st.InProgress) != 0 || got != latest {
		e.t.Fatalf("status: state %q in_progress %v latest_completed %q, want idle with latest %q", st.State, st.InProgress, got, latest)
	}
}

func (e *env) conn() *pgx.Conn {
	e.t.Helper()
	return e.db.Conn(e.t)
}

// query returns the rows of sql as strings, columns joined by "|".
func (e *env) query(sql string, args ...any) []string {
	e.t.Helper()
	conn := e.conn()
	rows, err := conn.Query(e.ctx, sql, args...)
	if err != nil {
		e.t.Fatalf("query %q: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			e.t.Fatalf("query %q: %v", sql, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("query %q: %v", sql, err)
	}
	return out
}

func (e *env) snapshot(schemas ...string) string {
	e.t.Helper()
	s, err := pgtest.Snapshot(e.ctx, e.conn(), schemas...)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// assertClean fails the test if anything temporary of strata's is left: a
// column or constraint named _strata*, a sync trigger, a function in the
// state schema, a phase row or a backfill checkpoint. (The same checks as
// the engine tests' assertClean.)
func (e *env) assertClean() {
	e.t.Helper()
	const stateSchema = "strata"
	checks := map[string]string{
		"temporary columns": `SELECT n.nspname || '.' || c.relname || '.' || a.attname FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE a.attname LIKE '\_strata%' AND NOT a.attisdropped AND a.attnum > 0`,
		"temporary constraints": `SELECT conname FROM pg_constraint WHERE conname LIKE '\_strata%'`,
		"sync triggers":         `SELECT tgname FROM pg_trigger WHERE tgname LIKE '\_strata%'`,
		"functions in the state schema": `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = '` + stateSchema + `'`,
		"phase rows":  `SELECT schema_name FROM "` + stateSchema + `".phase`,
		"checkpoints": `SELECT step FROM "` + stateSchema + `".backfill`,
	}
	for what, q := range checks {
		if got := e.query(q); len(got) > 0 {
			e.t.Errorf("left behind: %s: %v", what, got)
		}
	}
}

// schemas lists the non-system schemas.
func (e *env) schemas() []string {
	e.t.Helper()
	return e.query(`SELECT nspname FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`)
}
