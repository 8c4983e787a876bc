package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgexec"
)

// buildWatch is what the watcher of one index build saw and did.
type buildWatch struct {
	mu       sync.Mutex
	reason   string // why the watcher cancelled the build ("" if it did not)
	deadline bool   // the cancel was for the lock deadline
	blockers []pgexec.Blocker
}

func (w *buildWatch) set(reason string, deadline bool, bs []pgexec.Blocker) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reason, w.deadline = reason, deadline
	if len(bs) > 0 {
		w.blockers = bs
	}
}

// watchedBuild runs a CREATE INDEX CONCURRENTLY on conn (whose lock_timeout
// is 0) while a watcher on the monitor's connection looks at it:
//
//   - while it waits for its lock on the table (before its progress row
//     exists: nothing is built yet), for at most the lock timeout; then
//     the watcher cancels it, and the error is a lock timeout (retried);
//   - once past that, its waits for older transactions are left alone (an
//     application does not queue behind them), their blockers logged every
//     5 seconds, until the lock deadline: then it is cancelled and the
//     error wraps pgexec.ErrDeadline (start stays resumable).
func (m *Migrator) watchedBuild(ctx context.Context, conn *pgx.Conn, name, sql string) error {
	mon := m.exec.Monitor
	w := &buildWatch{}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.watchBuild(wctx, mon, conn.PgConn().PID(), name, w)
	}()
	_, err := conn.Exec(ctx, sql)
	cancel()
	<-done
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.reason == "":
		return err
	case w.deadline:
		e := error(pgexec.LockTimeout(w.reason))
		if len(w.blockers) > 0 {
			e = &pgexec.BlockedError{Err: e, Blockers: w.blockers}
		}
		// Retryable, but past the deadline: Retry gives up at once.
		return e
	}
	e := error(pgexec.LockTimeout(w.reason))
	if len(w.blockers) > 0 {
		e = &pgexec.BlockedError{Err: e, Blockers: w.blockers}
	}
	return e
}

// cancelIf cancels the build with pid when cond (over pg_stat_activity a
// and the build's progress row p) holds, in one statement, and reports
// whether it may have: only a definite "no" is false. (The cancel can end
// the build, and so the watch's context, before the answer is read: the
// reason must then stay, or the build's 57014 would look like someone
// else's cancel.)
func cancelIf(ctx context.Context, mon *pgexec.Monitor, pid uint32, cond string) bool {
	var ok bool
	err := mon.Do(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT coalesce(bool_or(pg_cancel_backend(a.pid)), false)
			FROM pg_stat_activity a LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid
			WHERE a.pid = $1 AND `+cond, int(pid)).Scan(&ok)
	})
	return err != nil || ok
}

func (m *Migrator) watchBuild(ctx context.Context, mon *pgexec.Monitor, pid uint32, name string, w *buildWatch) {
	start := time.Now()
	tick := min(max(m.opts.LockTimeout/4, 10*time.Millisecond), 100*time.Millisecond)
	var tableWait time.Time
	var told time.Time
	for {
		t := time.NewTimer(tick)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var waiting, onTable bool
		var phase *string
		err := mon.Do(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT coalesce(a.wait_event_type = 'Lock', false),
					coalesce(a.wait_event = 'relation', false), p.phase
				FROM pg_stat_activity a LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid
				WHERE a.pid = $1`, int(pid)).Scan(&waiting, &onTable, &phase)
		})
		if err != nil {
			continue // the statement's end cancels ctx
		}
		switch {
		case waiting && onTable && phase == nil:
			if tableWait.IsZero() {
				tableWait = time.Now()
				if bs, err := mon.BlockersOf(ctx, pid); err == nil {
					w.set("", false, bs)
				}
			}
			if time.Since(tableWait) >= m.opts.LockTimeout {
				reason := fmt.Sprintf("canceling the build of index %s: it waited %s for its lock on the table", name, pgexec.Millis(m.opts.LockTimeout))
				w.set(reason, false, nil)
				if cancelIf(ctx, mon, pid, "a.wait_event_type = 'Lock' AND a.wait_event = 'relation' AND p.pid IS NULL") {
					return
				}
				w.set("", false, nil)
			}
		case waiting && phase != nil:
			tableWait = time.Time{}
			if time.Since(told) >= 5*time.Second {
				told = time.Now()
				bs, _ := mon.BlockersOf(ctx, pid)
				w.set("", false, bs)
				m.logf("building index %s (%s): waiting for %s; strata waits (it does not restart the build)", name, *phase, pgexec.Blockers(bs))
			}
			if time.Since(start) >= m.opts.LockDeadline {
				w.set(fmt.Sprintf("canceling the build of index %s: it waited past the lock deadline (%s) for older transactions", name, m.opts.LockDeadline), true, nil)
				if cancelIf(ctx, mon, pid, "a.wait_event_type = 'Lock'") {
					return
				}
				w.set("", false, nil)
			}
		default:
			tableWait = time.Time{}
		}
	}
}
