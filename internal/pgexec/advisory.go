package pgexec

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrBusy is returned when another strata process holds the advisory lock.
var ErrBusy = errors.New("another strata process is running against this database")

// BusyError is ErrBusy with the server backend that holds the lock (0 when
// it could not be read).
type BusyError struct{ BackendPID int }

func (e *BusyError) Error() string {
	if e.BackendPID == 0 {
		return ErrBusy.Error()
	}
	return fmt.Sprintf("%v (server backend pid %d holds the lock)", ErrBusy, e.BackendPID)
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// HeldQuery is a query for whether the server backend with pid $2, started
// at $3, holds the advisory lock $1 (a session lock or a transaction lock:
// pg_locks shows both alike). A terminated backend's locks
// are gone; the start time tells a reused pid apart.
const HeldQuery = `SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $2 AND a.backend_start = $3
	  AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid
	  AND l.objsubid = 1)`

// AdvisoryKey derives the advisory lock key for a state schema.
func AdvisoryKey(stateSchema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("strata:" + stateSchema))
	return int64(h.Sum64())
}

// Lock takes the session advisory lock key on conn by polling
// pg_try_advisory_lock outside any transaction, for at most wait. It never
// blocks inside PostgreSQL, so it cannot hold other locks while waiting.
// Unlock releases it (closing the connection releases it too).
func Lock(ctx context.Context, conn *pgx.Conn, key int64, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			return fmt.Errorf("advisory lock: %w", err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return busy(ctx, conn, key)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Unlock releases the session advisory lock key held on conn.
func Unlock(ctx context.Context, conn *pgx.Conn, key int64) error {
	_, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key)
	return err
}

// LockTx takes the transaction advisory lock key on conn in a transaction
// that it leaves open: the lock lasts until that transaction ends
// (UnlockTx, or the connection's end). It polls pg_try_advisory_xact_lock
// for at most wait, each attempt in a transaction of its own that setup
// (SET LOCAL statements, may be empty) starts, and rolled back when the
// lock is taken by another. It never blocks inside PostgreSQL.
//
// Because the lock belongs to an open transaction, a transaction pooler
// (pgbouncer in transaction mode) keeps one server connection for conn
// until UnlockTx, as a session pooler or a direct connection does: the
// lock is where conn's statements go. A read committed transaction that
// only reads holds no snapshot and no transaction id between its
// statements, so it holds back neither VACUUM nor a concurrent index
// build.
func LockTx(ctx context.Context, conn *pgx.Conn, key int64, wait time.Duration, setup string) error {
	deadline := time.Now().Add(wait)
	for {
		ok, err := tryLockTx(ctx, conn, key, setup)
		if err != nil {
			_ = UnlockTx(context.WithoutCancel(ctx), conn)
			return fmt.Errorf("advisory lock: %w", err)
		}
		if ok {
			return nil
		}
		if err := UnlockTx(ctx, conn); err != nil {
			return fmt.Errorf("advisory lock: %w", err)
		}
		if time.Now().After(deadline) {
			return busy(ctx, conn, key)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func tryLockTx(ctx context.Context, conn *pgx.Conn, key int64, setup string) (bool, error) {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL READ COMMITTED"); err != nil {
		return false, err
	}
	if setup != "" {
		if _, err := conn.Exec(ctx, setup); err != nil {
			return false, err
		}
	}
	var ok bool
	err := conn.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", key).Scan(&ok)
	return ok, err
}

// UnlockTx ends the transaction LockTx left open on conn, releasing its
// lock.
func UnlockTx(ctx context.Context, conn *pgx.Conn) error {
	if conn.PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := conn.Exec(ctx, "ROLLBACK")
	return err
}

// busy is the ErrBusy of a lock someone else holds: it names the server
// backend that holds key in this database (pg_locks shows every database's
// advisory locks), when it can be read.
func busy(ctx context.Context, conn *pgx.Conn, key int64) error {
	var pid int
	err := conn.QueryRow(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objid = ($1::bigint & 4294967295)::oid
		  AND objsubid = 1 LIMIT 1`, key).Scan(&pid)
	if err != nil {
		return &BusyError{}
	}
	return &BusyError{BackendPID: pid}
}
