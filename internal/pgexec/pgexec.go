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
	"strings"
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

// Defaults of a Runner.
const (
	// DefaultLockTimeout is the lock_timeout of every statement. While a
	// DDL statement waits for its lock, every later reader and writer of
	// the table queues behind it, so this is the longest strata ever makes
	// the application wait. 200ms kept every request of an application
	// under 1s behind a row lock held for 10s, where 2s made a third of
	// them wait longer (see bench -mode applatency).
	DefaultLockTimeout = 200 * time.Millisecond
	// FirstLockTimeout is the lock_timeout of a statement's first attempt
	// (when LockTimeout is longer): most attempts get their lock at once
	// or wait for a session that is about to finish; one that waits for a
	// long transaction makes the application queue behind it for this long
	// only, before the blocker is found out and waited out (see Monitor).
	// Each retry doubles it, up to LockTimeout, for tables so busy that
	// no single blocker stands out.
	FirstLockTimeout = 50 * time.Millisecond
	// DefaultDeadline bounds the retries of one unit of work.
	DefaultDeadline = 10 * time.Minute
	// maxBackoff caps the backoff between attempts.
	maxBackoff = 5 * time.Second
)

// ErrDeadline is returned when lock contention outlasted the retry deadline.
var ErrDeadline = errors.New("gave up waiting for locks")

// Runner executes statements with lock_timeout and retries.
type Runner struct {
	// LockTimeout is set as lock_timeout for every statement (default
	// DefaultLockTimeout).
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
	// Monitor, when set, names the sessions that block a statement of
	// Exec, InTx or RetryOn (sampled while it waits for its lock), and
	// keeps strata out of the lock queue while they are still in the
	// transaction that blocked it: an attempt then could only fail again,
	// after making the application queue behind it once more.
	Monitor *Monitor
	// OnBlocked, when set, is told when a retry is put off because the
	// blockers are still in their transaction (at most every 5 seconds).
	OnBlocked func(blockers []Blocker, waited time.Duration)
}

// settings returns the SET statements of strata's sessions, with SET LOCAL
// when local: lockTimeout, no statement or idle-in-transaction timeout,
// and the search_path.
func (r *Runner) settings(local bool, lockTimeout time.Duration) string {
	return strings.Join(r.settingsList(local, lockTimeout), "; ")
}

// settingsList is settings, one statement each.
func (r *Runner) settingsList(local bool, lockTimeout time.Duration) []string {
	set := "SET "
	if local {
		set = "SET LOCAL "
	}
	lt := "0"
	if lockTimeout > 0 {
		lt = Millis(lockTimeout)
	}
	s := []string{set + "lock_timeout = '" + lt + "'", set + "statement_timeout = 0", set + "idle_in_transaction_session_timeout = 0"}
	if r != nil && r.SearchPath != "" {
		s = append(s, set+"search_path = "+r.SearchPath)
	}
	return s
}

// resetSettings undoes settings(false).
const resetSettings = "RESET lock_timeout; RESET statement_timeout; RESET idle_in_transaction_session_timeout; RESET search_path"

func (r *Runner) lockTimeout() time.Duration {
	if r == nil || r.LockTimeout <= 0 {
		return DefaultLockTimeout
	}
	return r.LockTimeout
}

// attemptTimeout is the lock_timeout of the given attempt (from 1).
func (r *Runner) attemptTimeout(attempt int) time.Duration {
	t := min(r.lockTimeout(), FirstLockTimeout)
	for i := 1; i < attempt && t < r.lockTimeout(); i++ {
		t *= 2
	}
	return min(t, r.lockTimeout())
}

func (r *Runner) deadline() time.Duration {
	if r == nil || r.Deadline <= 0 {
		return DefaultDeadline
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

// LockTimeout returns an error that is Retryable as a lock timeout is, for
// waits strata ends itself (see the concurrent index build).
func LockTimeout(msg string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: codeLockNotAvailable, Message: msg}
}

// Interrupted reports whether err stopped work for a reason outside the
// work itself, so that running it again may succeed: the context ended, the
// connection broke, the server is shutting down or out of resources, the
// statement was cancelled, or locks were not available within the deadline.
// Any other error the server reported (bad data, a failed check, a unique
// violation, an error in an expression) is about the work: running it again
// fails the same way.
func Interrupted(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrDeadline) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || Retryable(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		// Not the server's verdict: a broken connection, a crash, ...
		return true
	}
	switch pgErr.Code[:2] {
	case "08", // connection exception
		"53", // insufficient resources
		"57", // operator intervention: cancel, shutdown, terminated
		"58", // system error (I/O)
		"XX": // internal error
		return true
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

// BlockedError is a lock timeout (or deadlock) with the sessions that
// blocked strata, as sampled while it waited.
type BlockedError struct {
	Err      error
	Blockers []Blocker
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%v (blocked by %s)", e.Err, Blockers(e.Blockers))
}

func (e *BlockedError) Unwrap() error { return e.Err }

// retry runs fn until it succeeds, fails with a non-retryable error, the
// context ends or the deadline passes.
// fn gets the attempt's lock_timeout.
func (r *Runner) retry(ctx context.Context, conn *pgx.Conn, fn func(lockTimeout time.Duration) error) error {
	var onRetry func(int, time.Duration, error)
	if r != nil {
		onRetry = r.OnRetry
	}
	return r.retryConn(ctx, conn, fn, onRetry)
}

// Retry runs fn as Exec and InTx run their work: again, after a jittered
// exponential backoff, while it fails with a Retryable error, until it
// succeeds, the context ends or the deadline passes (then the error wraps
// ErrDeadline and fn's last error). onRetry, when not nil, is told about
// each retry (in place of OnRetry). An error fn wraps with Permanent is
// returned at once, unwrapped, even when it is Retryable.
func (r *Runner) Retry(ctx context.Context, fn func() error, onRetry func(attempt int, wait time.Duration, err error)) error {
	return r.RetryOn(ctx, nil, fn, onRetry)
}

// RetryOn is Retry for work that runs on conn: with a Monitor, the sessions
// that block conn's backend are sampled during each attempt that lasts
// longer than half the lock timeout, named in the retry's error (a
// *BlockedError), and waited out before the next attempt.
func (r *Runner) RetryOn(ctx context.Context, conn *pgx.Conn, fn func() error, onRetry func(attempt int, wait time.Duration, err error)) error {
	return r.retryConn(ctx, conn, func(time.Duration) error { return fn() }, onRetry)
}

func (r *Runner) retryConn(ctx context.Context, conn *pgx.Conn, fn func(lockTimeout time.Duration) error, onRetry func(attempt int, wait time.Duration, err error)) error {
	start := time.Now()
	// The backoff starts at the lock timeout, so that strata spends at
	// most about half its time in the lock queue, and doubles (with
	// jitter) from there.
	backoff := max(r.lockTimeout(), 50*time.Millisecond)
	var blockers []Blocker
	for attempt := 1; ; attempt++ {
		timeout := r.attemptTimeout(attempt)
		stop := r.sample(ctx, conn, timeout)
		err := fn(timeout)
		if seen := stop(); len(seen) > 0 {
			blockers = seen
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if err == nil || !Retryable(err) {
			return err
		}
		var be *BlockedError
		if errors.As(err, &be) {
			blockers = be.Blockers // named by fn itself
		} else if len(blockers) > 0 {
			err = &BlockedError{Err: err, Blockers: blockers}
		}
		// Keep trying for the whole deadline: the last wait is cut to what
		// is left of it, and one more attempt follows.
		remaining := r.deadline() - time.Since(start)
		if remaining <= 0 {
			return fmt.Errorf("%w after %d attempts in %s: %w", ErrDeadline, attempt, time.Since(start).Round(time.Millisecond), err)
		}
		wait := min(jitter(backoff), remaining)
		if onRetry != nil {
			onRetry(attempt, wait, err)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
		if err := r.waitOut(ctx, start, blockers, err); err != nil {
			return err
		}
	}
}

// waitOut waits while one of the blockers is still in the transaction that
// blocked strata, polling every lock timeout or so.
func (r *Runner) waitOut(ctx context.Context, start time.Time, blockers []Blocker, last error) error {
	if r == nil || r.Monitor == nil || len(blockers) == 0 {
		return nil
	}
	t0 := time.Now()
	var told time.Time
	for {
		alive, err := r.Monitor.StillBlocking(ctx, blockers)
		if err != nil || !alive {
			return nil // try again; an attempt finds out
		}
		remaining := r.deadline() - time.Since(start)
		if remaining <= 0 {
			return fmt.Errorf("%w after %s: %w", ErrDeadline, time.Since(start).Round(time.Millisecond), last)
		}
		wait := min(jitter(max(r.lockTimeout(), 50*time.Millisecond)), remaining)
		if r.OnBlocked != nil && time.Since(told) >= 5*time.Second {
			told = time.Now()
			r.OnBlocked(blockers, time.Since(t0))
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// jitter returns a random duration between d/2 and d.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sample asks the Monitor, once the attempt on conn has run for half its
// lock timeout, which sessions block it; the returned function ends the
// sampling and returns what it saw.
func (r *Runner) sample(ctx context.Context, conn *pgx.Conn, timeout time.Duration) func() []Blocker {
	if r == nil || r.Monitor == nil || conn == nil || conn.PgConn() == nil {
		return func() []Blocker { return nil }
	}
	pid := conn.PgConn().PID()
	sctx, cancel := context.WithCancel(ctx)
	var bs []Blocker
	done := make(chan struct{})
	t := time.AfterFunc(timeout/2, func() {
		defer close(done)
		bs, _ = r.Monitor.BlockersOf(sctx, pid)
	})
	return func() []Blocker {
		defer cancel()
		if t.Stop() {
			return nil
		}
		<-done
		return bs
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

// InTx runs fn in a transaction whose settings are set with SET LOCAL:
// lock_timeout (FirstLockTimeout on the first attempt, doubling up to
// LockTimeout), no statement or idle-in-transaction timeout, the
// search_path; it retries the whole transaction on lock timeouts and
// deadlocks. BEGIN and the settings go in one round trip (a simple-protocol
// query of several statements): a folder of many small .sql files pays it
// per file.
func (r *Runner) InTx(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	return r.retry(ctx, conn, func(timeout time.Duration) error {
		return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{BeginQuery: "BEGIN; " + r.settings(true, timeout)}, fn)
	})
}

// InTxPipeline is InTx for work that sends its statements in pipelines of
// its own (pgx.Batch), to save round trips: fn gets the statements that
// begin the transaction with strata's settings for this attempt (one
// statement each, to queue before its first statements) and ends the
// transaction itself (a COMMIT at the end of its last pipeline). When fn
// fails, a transaction it left open is rolled back; a lock timeout or a
// deadlock retries the whole transaction, as InTx does.
func (r *Runner) InTxPipeline(ctx context.Context, conn *pgx.Conn, fn func(begin []string) error) error {
	return r.retry(ctx, conn, func(timeout time.Duration) error {
		err := fn(append([]string{"BEGIN"}, r.settingsList(true, timeout)...))
		if err != nil && !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
			if _, rerr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				conn.Close(context.WithoutCancel(ctx))
			}
		}
		return err
	})
}

// Exec runs one statement outside a transaction block (for statements such
// as CREATE INDEX CONCURRENTLY) with ExecOnce, retrying on lock timeouts.
// Statements passed here must be safe to re-run.
func (r *Runner) Exec(ctx context.Context, conn *pgx.Conn, sql string) error {
	return r.retry(ctx, conn, func(timeout time.Duration) error { return r.execOnce(ctx, conn, sql, timeout) })
}

// ExecOnce runs one statement outside a transaction block, once: the
// session settings are SET just before it and RESET just after it, whether
// it fails or not, so the session is left with its defaults. Behind a
// transaction pooler the three round trips may reach different server
// connections: the engine refuses such statements when it finds its
// connections behind one (see docs/poolers.md).
func (r *Runner) ExecOnce(ctx context.Context, conn *pgx.Conn, sql string) error {
	return r.execOnce(ctx, conn, sql, r.lockTimeout())
}

func (r *Runner) execOnce(ctx context.Context, conn *pgx.Conn, sql string, timeout time.Duration) error {
	return r.WithSession(ctx, conn, timeout, func() error {
		_, err := conn.Exec(ctx, sql)
		return err
	})
}

// WithSession runs fn with strata's session settings on conn (lock_timeout
// lockTimeout, 0 for none; no statement or idle-in-transaction timeout; the
// search_path), SET just before it and RESET just after it, whether it fails
// or not.
func (r *Runner) WithSession(ctx context.Context, conn *pgx.Conn, lockTimeout time.Duration, fn func() error) error {
	if _, err := conn.Exec(ctx, r.settings(false, lockTimeout)); err != nil {
		return fmt.Errorf("set lock_timeout, statement_timeout and search_path: %w", err)
	}
	err := fn()
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), resetSettings); rerr != nil && err == nil {
		err = fmt.Errorf("reset the session's settings: %w", rerr)
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
