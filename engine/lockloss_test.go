package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgexec"
)

// TestLostLockAtStepCommit: the backend of start's lock connection is
// terminated after its first step; the next step must not commit: start
// stops with ErrLockLost (what happened and a hint), the cursor stays at
// one, and a new start resumes and finishes the phase.
func TestLostLockAtStepCommit(t *testing.T) {
	var killed bool
	var killErr error
	var e *env
	fx := loadFixture(t, "lockloss/step_commit")
	e = newEnv(t, fx.setup(), func(o *engine.Options) {
		o.AfterStep = func(phase string, st engine.Step) {
			if phase != "start" || killed {
				return
			}
			killed = true
			killErr = terminateLockHolder(e)
		}
	})
	migs := e.migs("", fx.migrations()...)
	_, err := e.m.Start(e.ctx, migs)
	if killErr != nil {
		t.Fatalf("terminate the lock connection: %v", killErr)
	}
	if !killed {
		t.Fatal("no start step was recorded")
	}
	if !errors.Is(err, engine.ErrLockLost) {
		t.Fatalf("start after its lock connection was terminated: err = %v, want ErrLockLost", err)
	}
	for _, want := range []string{"strata lost its lock on schema strata", "hint: ", "run strata start again to resume"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	conn := e.db.Conn(t)
	if got := queryStrings(t, e.ctx, conn, "SELECT state || ' ' || start_cursor FROM strata.phase"); len(got) != 1 || got[0] != "starting 1" {
		t.Fatalf("phase after the lost lock = %v, want [starting 1]: nothing after the loss may commit", got)
	}
	m, err := engine.New(e.db.URL, engine.Options{BatchSize: 100, BatchTarget: -1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Start(e.ctx, migs)
	if err != nil || !res.Resumed {
		t.Fatalf("start again: %+v, %v; want it to resume", res, err)
	}
	// The new version's items is the table itself (its version schema
	// holds no view of it: the shape does not differ).
	if got := queryStrings(t, e.ctx, conn, `SELECT count(*) FROM public.items WHERE note = 'n'`); len(got) != 1 || got[0] != "50" {
		t.Errorf("new version's note = 'n' rows: %v, want 50", got)
	}
}

// terminateLockHolder ends the backend that holds the state schema's
// advisory lock and waits until it is gone.
func terminateLockHolder(e *env) error {
	conn := e.db.Conn(e.t)
	var pid int
	err := conn.QueryRow(e.ctx, `SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid`,
		pgexec.AdvisoryKey("strata")).Scan(&pid)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(e.ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var alive bool
		if err := conn.QueryRow(e.ctx, "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid).Scan(&alive); err != nil {
			return err
		}
		if !alive {
			return nil
		}
	}
	return errors.New("the lock connection's backend is still there")
}
