package engine_test

import (
	"context"
	"errors"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestFailedStartUndoes: a start that fails on row 77,001 of 100,000 (a
// NOT NULL or check validation, a cast in the backfill, a duplicate for a
// unique index) undoes what it did by itself: the catalog (pgtest.Snapshot
// and pg_dump -s) is as before, no phase is in progress, the error names the
// row's key. Once the data is fixed, start succeeds.
func TestFailedStartUndoes(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "failstart/cases")
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fx.in(t).sub(name)
			e := newEnv(t, fx.setup()+c.file("spoil.sql"), func(o *engine.Options) { o.BatchSize = 5000 })
			migs := e.migs("", c.migrations()...)
			before := e.snapshot()
			dumpBefore := pgDump(t, e)
			_, err := e.m.Start(e.ctx, migs)
			if err == nil {
				t.Fatal("start succeeded on the spoiled row")
			}
			t.Logf("start: %v", err)
			for _, f := range c.lines("want/error") {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("start error does not mention %q:\n%v", f, err)
				}
			}
			var se *engine.StepError
			if !errors.As(err, &se) || !se.Undone || se.UndoErr != nil {
				t.Errorf("start error is not an undone *engine.StepError: %#v", se)
			}
			if diff := cmp.Diff(before, e.snapshot()); diff != "" {
				t.Errorf("catalog after the failed start differs (-before +after):\n%s", diff)
			}
			if dumpBefore != "" {
				if diff := cmp.Diff(dumpBefore, pgDump(t, e)); diff != "" {
					t.Errorf("pg_dump -s after the failed start differs (-before +after):\n%s", diff)
				}
			}
			e.assertClean("")
			st, err := e.m.Status(e.ctx, migs)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != "idle" {
				t.Errorf("status after the undone start: %s %s, want idle", st.State, st.Phase)
			}
			if _, err := e.m.Abort(e.ctx); !errors.Is(err, engine.ErrNoPhase) {
				t.Errorf("abort after the undone start: %v, want ErrNoPhase", err)
			}
			e.db.Exec(t, c.file("fix.sql"))
			if res := e.start(migs); res.Resumed {
				t.Error("start after fixing the data resumed; want a fresh start")
			}
			e.complete()
			e.assertClean("")
		})
	}
}

// pgDump is pg_dump -s of the test's database, "" (said loudly) when there
// is no pg_dump.
func pgDump(t *testing.T, e *env) string {
	t.Helper()
	bin, err := pgtest.FindClientBinary(t, "pg_dump")
	if err != nil {
		t.Logf("SKIPPING the pg_dump -s comparison: %v", err)
		return ""
	}
	out, err := osexec.CommandContext(e.ctx, bin, "--schema-only", "--no-owner", "--dbname", e.db.URL).Output()
	if err != nil {
		var ee *osexec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pg_dump: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("pg_dump: %v", err)
	}
	// pg_dump 15.14+ wraps its output in \restrict KEY ... \unrestrict KEY
	// with a random key.
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "\\restrict ") && !strings.HasPrefix(l, "\\unrestrict ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestInterruptedStartStaysResumable: a start interrupted in its backfill
// (the context ends) is not undone; its error says how to go on, plan shows
// the stored plan and status the phase, and start resumes it.
func TestInterruptedStartStaysResumable(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "failstart/cases")
	c := fx.in(t).sub("cast")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t, fx.setup(), func(o *engine.Options) {
		o.BatchSize = 5000
		o.AfterBatch = func(n int) {
			if n == 3 {
				cancel()
			}
		}
	})
	migs := e.migs("", c.migrations()...)
	_, err := e.m.Start(ctx, migs)
	if err == nil {
		t.Fatal("start was not interrupted")
	}
	var se *engine.StepError
	if !errors.As(err, &se) || se.Undone {
		t.Fatalf("interrupted start: %v, want a StepError not undone", err)
	}
	if !strings.Contains(err.Error(), "run `strata start` again to resume, or `strata abort`") {
		t.Errorf("interrupted start's error does not say how to go on: %v", err)
	}
	st, err := e.m.Status(e.ctx, migs)
	if err != nil {
		t.Fatalf("status during the interrupted start: %v", err)
	}
	if st.Phase != "starting" {
		t.Errorf("status phase %q, want starting", st.Phase)
	}
	pp, err := e.m.PhasePlan(e.ctx)
	if err != nil {
		t.Fatalf("plan during the interrupted start: %v", err)
	}
	if pp == nil || pp.State != "starting" || len(pp.Plan.Start) == 0 || pp.StartDone == 0 {
		t.Errorf("plan during the phase: %+v", pp)
	}
	if _, err := e.m.Plan(e.ctx, migs); !errors.Is(err, engine.ErrPhaseInProgress) {
		t.Errorf("Plan during the phase: %v, want ErrPhaseInProgress", err)
	}
	if res := e.start(migs); !res.Resumed {
		t.Error("start did not resume")
	}
	e.complete()
	e.assertClean("")
}
