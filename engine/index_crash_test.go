package engine_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/engine"
)

// TestIndexBuildFailureLeavesNoInvalidIndex: a concurrent unique index
// build fails on duplicate data; start reports it and leaves no INVALID
// index. An INVALID index of the same name left by a build that was killed
// (simulated here) is dropped when start is run again, and once the data is
// fixed the re-run builds the index.
func TestIndexBuildFailureLeavesNoInvalidIndex(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "index/unique_title")
	e := newEnv(t, tables(t, "docs")+"UPDATE docs SET title = 'dup' WHERE id IN (3, 4);")
	migs := e.migs("", fx.migrations()...)
	_, err := e.m.Start(e.ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "could not create unique index") || !strings.Contains(err.Error(), "INVALID index") {
		t.Fatalf("start: %v, want a failed unique build that says its INVALID index was dropped", err)
	}
	want(t, "invalid indexes after the failed build", nil, e.invalidIndexes())
	want(t, "indexes after the failed build", []string{"docs_pkey"}, firstWords(e.indexes("public", "docs"), 1))
	st, err := e.m.Status(e.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if st.State == "idle" {
		t.Fatalf("status after a failed start: %s", st.State)
	}

	// A build killed halfway leaves an INVALID index: simulate one.
	conn := e.catalogConn()
	if _, err := conn.Exec(e.ctx, "CREATE UNIQUE INDEX CONCURRENTLY docs_title_uq ON docs (title)"); err == nil {
		t.Fatal("the simulated build succeeded")
	}
	want(t, "the simulated leftover", []string{"docs_title_uq"}, e.invalidIndexes())

	// Still duplicates: the re-run drops the leftover, fails again, and
	// leaves nothing behind.
	if _, err := e.m.Start(e.ctx, migs); err == nil {
		t.Fatal("start succeeded on duplicate data")
	}
	want(t, "invalid indexes after the second failure", nil, e.invalidIndexes())

	// Leave another one, fix the data, and re-run: it is dropped and the
	// index is built.
	if _, err := conn.Exec(e.ctx, "CREATE UNIQUE INDEX CONCURRENTLY docs_title_uq ON docs (title)"); err == nil {
		t.Fatal("the simulated build succeeded")
	}
	exec(t, e.ctx, conn, "UPDATE docs SET title = 'doc 4' WHERE id = 4")
	res, err := e.m.Start(e.ctx, migs)
	if err != nil {
		t.Fatalf("start after fixing the data: %v", err)
	}
	if !res.Resumed {
		t.Error("start after the failure did not resume the recorded phase")
	}
	want(t, "invalid indexes", nil, e.invalidIndexes())
	want(t, "the index", []string{"docs_title_uq valid=true: CREATE UNIQUE INDEX docs_title_uq ON public.docs USING btree (title)"},
		withSubstring(e.indexes("public", "docs"), "docs_title_uq"))
	e.complete()
	e.assertClean("")
}

// TestIndexBuildRetriesOnLockTimeout: a concurrent build waits for every
// transaction older than it; one that stays open makes it hit lock_timeout,
// which leaves an INVALID index. The step drops it and retries until the
// transaction ends, within the lock deadline.
func TestIndexBuildRetriesOnLockTimeout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logs []string
	fx := loadFixture(t, "index/unique_title")
	e := newEnv(t, tables(t, "docs"), func(o *engine.Options) {
		o.LockTimeout = 150 * time.Millisecond
		o.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			logs = append(logs, strings.TrimSpace(fmt.Sprintf(format, args...)))
		}
	})
	migs := e.migs("", fx.migrations()...)
	// An open transaction with a snapshot, which the build must wait for.
	blocker := e.db.Conn(t)
	exec(t, e.ctx, blocker, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	exec(t, e.ctx, blocker, "SELECT 1")
	var started atomic.Bool
	done := make(chan error, 1)
	go func() {
		_, err := e.m.Start(e.ctx, migs)
		started.Store(true)
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		retried := 0
		for _, l := range logs {
			if strings.Contains(l, "building index docs_title_uq") && strings.Contains(l, "lock timeout") {
				retried++
			}
		}
		mu.Unlock()
		if retried >= 2 {
			break
		}
		if started.Load() || time.Now().After(deadline) {
			t.Fatalf("the build did not retry after lock timeouts; log:\n%s", strings.Join(logs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
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
