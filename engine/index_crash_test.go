package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratapg/strata/engine"
)

// TestIndexBuildFailureLeavesNoInvalidIndex: a concurrent unique index
// build fails on duplicate data; start reports it, leaves no INVALID index
// and undoes itself. An INVALID index of the same name left by a build that
// was killed (simulated here) during a start that stayed in progress (it
// gave up waiting for its lock) is dropped when start is run again; once the
// data is fixed, start builds the index.
func TestIndexBuildFailureLeavesNoInvalidIndex(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "index/unique_title")
	e := newEnv(t, tables(t, "docs")+"UPDATE docs SET title = 'dup' WHERE id IN (3, 4);", func(o *engine.Options) {
		o.LockTimeout = 100 * time.Millisecond
		o.LockDeadline = time.Second
	})
	migs := e.migs("", fx.migrations()...)
	_, err := e.m.Start(e.ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "could not create unique index") || !strings.Contains(err.Error(), "INVALID index") ||
		!strings.Contains(err.Error(), "(title)=(dup)") || !strings.Contains(err.Error(), "start was undone") {
		t.Fatalf("start: %v, want a failed unique build that names the duplicate, says its INVALID index was dropped and the start undone", err)
	}
	want(t, "invalid indexes after the failed build", nil, e.invalidIndexes())
	want(t, "indexes after the failed build", []string{"docs_pkey"}, firstWords(e.indexes("public", "docs"), 1))
	st, err := e.m.Status(e.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "idle" {
		t.Fatalf("status after a failed (undone) start: %s", st.State)
	}

	// A start that gives up waiting for its lock stays in progress.
	conn := e.catalogConn()
	exec(t, e.ctx, conn, "BEGIN")
	exec(t, e.ctx, conn, "LOCK TABLE docs IN SHARE UPDATE EXCLUSIVE MODE")
	if _, err := e.m.Start(e.ctx, migs); err == nil || !strings.Contains(err.Error(), "run `strata start` again to resume") {
		t.Fatalf("start while the table is locked: %v, want a resumable failure", err)
	}
	exec(t, e.ctx, conn, "COMMIT")
	// A build killed halfway leaves an INVALID index: simulate one.
	if _, err := conn.Exec(e.ctx, "CREATE UNIQUE INDEX CONCURRENTLY docs_title_uq ON docs (title)"); err == nil {
		t.Fatal("the simulated build succeeded")
	}
	want(t, "the simulated leftover", []string{"docs_title_uq"}, e.invalidIndexes())

	// Still duplicates: the resumed start drops the leftover, fails again,
	// undoes itself and leaves nothing behind.
	if _, err := e.m.Start(e.ctx, migs); err == nil || !strings.Contains(err.Error(), "start was undone") {
		t.Fatalf("resumed start on duplicate data: %v, want an undone failure", err)
	}
	want(t, "invalid indexes after the second failure", nil, e.invalidIndexes())

	// Fix the data: start builds the index.
	exec(t, e.ctx, conn, "UPDATE docs SET title = 'doc 4' WHERE id = 4")
	e.start(migs)
	want(t, "invalid indexes", nil, e.invalidIndexes())
	want(t, "the index", []string{"docs_title_uq valid=true: CREATE UNIQUE INDEX docs_title_uq ON public.docs USING btree (title)"},
		withSubstring(e.indexes("public", "docs"), "docs_title_uq"))
	e.complete()
	e.assertClean("")
}

// TestIndexBuildWaitsForOldSnapshots: a concurrent build waits for every
// transaction older than it; one that stays open (much longer than the lock
// timeout) makes it wait, not restart: strata names the blocker and lets the
// build go on, which finishes once the transaction ends.
func TestIndexBuildWaitsForOldSnapshots(t *testing.T) {
	t.Parallel()
	logs := &lkLog{t: t}
	fx := loadFixture(t, "index/unique_title")
	e := newEnv(t, tables(t, "docs"), func(o *engine.Options) {
		o.LockTimeout = 150 * time.Millisecond
		o.Logf = logs.logf
	})
	migs := e.migs("", fx.migrations()...)
	// An open transaction with a snapshot, which the build must wait for.
	blocker := e.db.Conn(t)
	exec(t, e.ctx, blocker, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	exec(t, e.ctx, blocker, "SELECT 1")
	done := make(chan error, 1)
	go func() {
		_, err := e.m.Start(e.ctx, migs)
		done <- err
	}()
	conn := e.catalogConn()
	var seen []string
	deadline := time.Now().Add(20 * time.Second)
	var t0 time.Time
	for ; t0.IsZero() || time.Since(t0) < 1500*time.Millisecond; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the build never waited for the old snapshot; phases seen: %v", seen)
		}
		ph := queryStrings(t, e.ctx, conn, `SELECT p.pid || ' ' || p.phase FROM pg_stat_progress_create_index p
			JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name = 'strata'`)
		if len(ph) == 1 && (len(seen) == 0 || seen[len(seen)-1] != ph[0]) {
			seen = append(seen, ph[0])
		}
		if len(ph) == 1 && strings.Contains(ph[0], "waiting") && t0.IsZero() {
			t0 = time.Now()
		}
	}
	// 1.5s (ten lock timeouts) later: the same build, never restarted.
	if n, _ := logs.count("retrying", time.Now()); n > 0 {
		t.Errorf("the build was retried %d times while it waited for an old snapshot", n)
	}
	pids := map[string]bool{}
	for _, s := range seen {
		pids[strings.Fields(s)[0]] = true
	}
	if len(pids) != 1 {
		t.Errorf("builds seen: %v, want one", seen)
	}
	who := fmt.Sprintf("waiting for pid %d,", blocker.PgConn().PID())
	if n, _ := logs.count(who, time.Now()); n == 0 {
		t.Errorf("no message names the blocker (%q)", who)
	}
	exec(t, e.ctx, blocker, "COMMIT")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("start did not finish after the blocking transaction ended")
	}
	want(t, "invalid indexes", nil, e.invalidIndexes())
	want(t, "the index", []string{"docs_title_uq valid=true:"}, firstWords(withSubstring(e.indexes("public", "docs"), "docs_title_uq"), 2))
	e.abort()
	want(t, "indexes after abort", []string{"docs_pkey"}, firstWords(e.indexes("public", "docs"), 1))
}

// TestIndexBuildTableLockTimeout: a session holding a lock that conflicts
// with the build's SHARE UPDATE EXCLUSIVE on the table makes the build wait
// for it, for the lock timeout only: it is cancelled, the blocker named, and
// retried once the blocker's transaction has ended.
func TestIndexBuildTableLockTimeout(t *testing.T) {
	t.Parallel()
	logs := &lkLog{t: t}
	fx := loadFixture(t, "index/unique_title")
	e := newEnv(t, tables(t, "docs"), func(o *engine.Options) {
		o.LockTimeout = 150 * time.Millisecond
		o.Logf = logs.logf
	})
	migs := e.migs("", fx.migrations()...)
	blocker := e.db.Conn(t)
	exec(t, e.ctx, blocker, "BEGIN")
	exec(t, e.ctx, blocker, "LOCK TABLE docs IN SHARE UPDATE EXCLUSIVE MODE")
	released := releaseWhenWaitedOut(t, logs, func() {
		if _, err := blocker.Exec(context.Background(), "COMMIT"); err != nil {
			t.Errorf("release: %v", err)
		}
	})
	e.start(migs)
	rel := <-released
	waitedOut(t, logs, rel, "waited 150ms for its lock on the table", blocker.PgConn().PID())
	want(t, "invalid indexes", nil, e.invalidIndexes())
	e.abort()
}
