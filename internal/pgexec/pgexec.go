// Package pgexec runs strata's DDL and batch statements safely: every
// statement runs with lock_timeout set on the connection that runs it, and a
// statement that times out waiting for a lock (or is chosen as a deadlock
// victim) is retried with jittered exponential backoff until a total deadline.
//
// strata's statements also run with statement_timeout = 0 and
// idle_in_transaction_session_timeout = 0 (a role's or database's default
// must not kill an index build or a backfill batch) and, when the Runner has
// a SearchPath, with that search_path. In a transaction these are SET LOCAL,
// so nothing outlives the transaction (the only safe form behind a
// transaction pooler); around a statement that cannot run in a transaction
// they are set on the session just before it and RESET just after it.
package pgexec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes that mean "try again later".
const (
	codeLockNotAvailable = "55P03"
	codeDeadlock         = "40P01"
	codeSerialization    = "40001"
)

// ErrDeadline is returned when lock contention outlasted the retry deadline.
var ErrDeadline = errors.New("pgexec: gave up waiting for locks")

// Runner executes statements with lock_timeout and retries.
type Runner struct {
	// LockTimeout is set as lock_timeout for every statement (default 2s).
	LockTimeout time.Duration
	// Deadline bounds the total time spent retrying one unit of work
	// (default 10 minutes).
	Deadline time.Duration
	// OnRetry, when set, is told about every retry.
	OnRetry func(attempt int, wait time.Duration, err error)
	// SearchPath, when not empty, is the search_path of every statement
	// (already quoted, e.g. `"public"`): user-written SQL expressions
	// resolve their names in it.
	SearchPath string
}

// settings returns the SET statements of strata's sessions, with SET LOCAL
// when local: lock_timeout, no statement or idle-in-transaction timeout,
// and the search_path.
func (r *Runner) settings(local bool) string {
	set := "SET "
	if local {
		set = "SET LOCAL "
	}
	s := set + "lock_timeout = '" + Millis(r.lockTimeout()) + "'; " +
		set + "statement_timeout = 0; " +
		set + "idle_in_transaction_session_timeout = 0"
	if r != nil && r.SearchPath != "" {
		s += "; " + set + "search_path = " + r.SearchPath
	}
	return s
}

// resetSettings undoes settings(false).
const resetSettings = "RESET lock_timeout; RESET statement_timeout; RESET idle_in_transaction_session_timeout; RESET search_path"

func (r *Runner) lockTimeout() time.Duration {
	if r == nil || r.LockTimeout <= 0 {
		return 2 * time.Second
	}
	return r.LockTimeout
}

func (r *Runner) deadline() time.Duration {
	if r == nil || r.Deadline <= 0 {
		return 10 * time.Minute
	}
	return r.Deadline
}

// Retryable reports whether err is a lock timeout, deadlock or serialization
// failure: work that may succeed when tried again.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeLockNotAvailable, codeDeadlock, codeSerialization:
			return true
		}
	}
	return false
}

// Millis renders d as a PostgreSQL duration in milliseconds.
func Millis(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return fmt.Sprintf("%dms", ms)
}

// retry runs fn until it succeeds, fails with a non-retryable error, the
// context ends or the deadline passes.
func (r *Runner) retry(ctx context.Context, fn func() error) error {
	var onRetry func(int, time.Duration, error)
	if r != nil {
		onRetry = r.OnRetry
	}
	return r.Retry(ctx, fn, onRetry)
}

// Retry runs fn as Exec and InTx run their work: again, after a jittered
// exponential backoff, while it fails with a Retryable error, until it
// succeeds, the context ends or the deadline passes (then the error wraps
// ErrDeadline and fn's last error). onRetry, when not nil, is told about
// each retry (in place of OnRetry). An error fn wraps with Permanent is
// returned at once, unwrapped, even when it is Retryable.
func (r *Runner) Retry(ctx context.Context, fn func() error, onRetry func(attempt int, wait time.Duration, err error)) error {
	start := time.Now()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if err == nil || !Retryable(err) {
			return err
		}
		// Full jitter: wait a random time up to the current backoff.
		wait := time.Duration(rand.Int64N(int64(backoff))) + 10*time.Millisecond
		if time.Since(start)+wait > r.deadline() {
			return fmt.Errorf("%w after %d attempts in %s: %w", ErrDeadline, attempt, time.Since(start).Round(time.Millisecond), err)
		}
		if onRetry != nil {
			onRetry(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// Permanent wraps an error that Retry must return at once, without a retry.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

// InTx runs fn in a transaction whose settings (lock_timeout, no statement
// timeout, the search_path) are set with SET LOCAL, retrying the whole
// transaction on lock timeouts and deadlocks.
func (r *Runner) InTx(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	return r.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, r.settings(true)); err != nil {
				return fmt.Errorf("pgexec: set lock_timeout, statement_timeout and search_path: %w", err)
			}
			return fn(tx)
		})
	})
}

// Exec runs one statement outside a transaction block (for statements such
// as CREATE INDEX CONCURRENTLY) with ExecOnce, retrying on lock timeouts.
// Statements passed here must be safe to re-run.
func (r *Runner) Exec(ctx context.Context, conn *pgx.Conn, sql string) error {
	return r.retry(ctx, func() error { return r.ExecOnce(ctx, conn, sql) })
}

// ExecOnce runs one statement outside a transaction block, once: the
// session settings are SET just before it and RESET just after it, whether
// it fails or not, so the session is left with its defaults. Behind a
// transaction pooler the three round trips may reach different server
// connections: the engine refuses such statements when it finds its
// connections behind one (see docs/poolers.md).
func (r *Runner) ExecOnce(ctx context.Context, conn *pgx.Conn, sql string) error {
	if _, err := conn.Exec(ctx, r.settings(false)); err != nil {
		return fmt.Errorf("pgexec: set lock_timeout, statement_timeout and search_path: %w", err)
	}
	_, err := conn.Exec(ctx, sql)
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), resetSettings); rerr != nil && err == nil {
		err = fmt.Errorf("pgexec: reset the session's settings: %w", rerr)
	}
	return err
}

// Message renders an error for people: a PostgreSQL error as its message,
// without the SQLSTATE noise; any other error as it is.
func Message(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	return err.Error()
}
