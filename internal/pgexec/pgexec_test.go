package pgexec_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// lockTableFor takes ACCESS EXCLUSIVE on table t in a transaction of
// another session and rolls it back after d.
func lockTableFor(t *testing.T, db *pgtest.DB, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE t IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(d)
		_ = tx.Rollback(ctx)
	}()
}

// TestInTxRetriesOnLockTimeout: a statement blocked by another session's lock
// times out after lock_timeout, is retried, and succeeds once the lock goes.
func TestInTxRetriesOnLockTimeout(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE t (id int)`)
	ctx := context.Background()
	lockTableFor(t, db, 700*time.Millisecond)
	retries := 0
	r := &pgexec.Runner{LockTimeout: 100 * time.Millisecond, Deadline: 30 * time.Second,
		OnRetry: func(int, time.Duration, error) { retries++ }}
	conn := db.Conn(t)
	var timeouts []string
	err := r.InTx(ctx, conn, func(tx pgx.Tx) error {
		var timeout string
		if err := tx.QueryRow(ctx, `SHOW lock_timeout`).Scan(&timeout); err != nil {
			return err
		}
		timeouts = append(timeouts, timeout)
		_, err := tx.Exec(ctx, `ALTER TABLE t ADD COLUMN x int`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt waits FirstLockTimeout, the next ones twice as
	// long, up to LockTimeout.
	for i, got := range timeouts {
		want := "100ms"
		if i == 0 {
			want = "50ms"
		}
		if got != want {
			t.Errorf("lock_timeout of attempt %d = %s, want %s (all: %v)", i+1, got, want, timeouts)
		}
	}
	if retries == 0 {
		t.Error("no retry although the table was locked")
	}
}

func TestExecGivesUpAtDeadline(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE t (id int)`)
	ctx := context.Background()
	blocker := db.Conn(t)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE t IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	r := &pgexec.Runner{LockTimeout: 50 * time.Millisecond, Deadline: 500 * time.Millisecond}
	err = r.Exec(ctx, db.Conn(t), `ALTER TABLE t ADD COLUMN x int`)
	if !errors.Is(err, pgexec.ErrDeadline) || !pgexec.Retryable(errors.Unwrap(err)) && !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("err = %v, want ErrDeadline wrapping a lock timeout", err)
	}
}

func TestNonRetryableErrorsReturnAtOnce(t *testing.T) {
	db := pgtest.New(t)
	calls := 0
	r := &pgexec.Runner{}
	err := r.InTx(context.Background(), db.Conn(t), func(tx pgx.Tx) error {
		calls++
		_, err := tx.Exec(context.Background(), `SELECT * FROM no_such_table`)
		return err
	})
	if err == nil || calls != 1 {
		t.Fatalf("err = %v after %d calls, want an error after 1", err, calls)
	}
}

func TestAdvisoryLock(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	a, b := db.Conn(t), db.Conn(t)
	key := pgexec.AdvisoryKey("strata")
	if err := pgexec.Lock(ctx, a, key, 0); err != nil {
		t.Fatal(err)
	}
	err := pgexec.Lock(ctx, b, key, 300*time.Millisecond)
	if !errors.Is(err, pgexec.ErrBusy) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second lock: err = %v, want ErrBusy naming the holder's pid", err)
	}
	if err := pgexec.Unlock(ctx, a, key); err != nil {
		t.Fatal(err)
	}
	if err := pgexec.Lock(ctx, b, key, 0); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if pgexec.AdvisoryKey("strata") == pgexec.AdvisoryKey("other") {
		t.Error("different state schemas share a lock key")
	}
}

// TestAdvisoryLockTx: LockTx leaves its transaction open holding the lock
// (a second LockTx is busy, naming the holder's pid; the setup's SET LOCAL
// applies), and UnlockTx ends it, releasing the lock and the settings.
func TestAdvisoryLockTx(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	a, b := db.Conn(t), db.Conn(t)
	key := pgexec.AdvisoryKey("strata")
	if err := pgexec.LockTx(ctx, a, key, 0, "SET LOCAL statement_timeout = '7s'"); err != nil {
		t.Fatal(err)
	}
	var pid int
	var timeout string
	if err := a.QueryRow(ctx, "SELECT pg_backend_pid(), current_setting('statement_timeout')").Scan(&pid, &timeout); err != nil {
		t.Fatal(err)
	}
	if a.PgConn().TxStatus() != 'T' || timeout != "7s" {
		t.Errorf("after LockTx: transaction status %c, statement_timeout %s; want an open transaction (T) with 7s", a.PgConn().TxStatus(), timeout)
	}
	err := pgexec.LockTx(ctx, b, key, 300*time.Millisecond, "")
	if be := (*pgexec.BusyError)(nil); !errors.As(err, &be) || be.BackendPID != pid {
		t.Fatalf("second lock: err = %v, want ErrBusy naming pid %d", err, pid)
	}
	if b.PgConn().TxStatus() != 'I' {
		t.Errorf("a busy LockTx left a transaction open (status %c)", b.PgConn().TxStatus())
	}
	if err := pgexec.UnlockTx(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := a.QueryRow(ctx, "SELECT current_setting('statement_timeout')").Scan(&timeout); err != nil || timeout != "0" {
		t.Errorf("after UnlockTx: statement_timeout = %q, %v; want the default 0", timeout, err)
	}
	if err := pgexec.LockTx(ctx, b, key, 0, ""); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}

// TestBusyNamesHolderInThisDatabase: advisory locks are per database, but
// pg_locks shows every database's: a busy lock names the holder in its own
// database, not a holder of the same key in another one (regression: it
// named whichever came first).
func TestBusyNamesHolderInThisDatabase(t *testing.T) {
	ctx := context.Background()
	key := pgexec.AdvisoryKey("strata")
	// Holders of the same key in other databases, taken first.
	for i := 0; i < 8; i++ {
		other := pgtest.New(t).Conn(t)
		if err := pgexec.LockTx(ctx, other, key, 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	db := pgtest.New(t)
	a, b := db.Conn(t), db.Conn(t)
	if err := pgexec.LockTx(ctx, a, key, 0, ""); err != nil {
		t.Fatal(err)
	}
	pid := int(a.PgConn().PID())
	for _, lock := range []func() error{
		func() error { return pgexec.LockTx(ctx, b, key, 0, "") },
		func() error { return pgexec.Lock(ctx, b, key, 0) },
	} {
		err := lock()
		if be := (*pgexec.BusyError)(nil); !errors.As(err, &be) || be.BackendPID != pid {
			t.Errorf("busy: err = %v, want ErrBusy naming pid %d (the holder in this database)", err, pid)
		}
	}
}

// TestInTxPipelineRetriesAndRollsBack: InTxPipeline hands fn the
// statements that begin a transaction with this attempt's lock_timeout,
// retries the whole transaction on a lock timeout, and rolls back a
// transaction fn leaves open when it fails.
func TestInTxPipelineRetriesAndRollsBack(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE t (id int)`)
	ctx := context.Background()
	lockTableFor(t, db, 700*time.Millisecond)
	retries := 0
	r := &pgexec.Runner{LockTimeout: 100 * time.Millisecond, Deadline: 30 * time.Second, SearchPath: `"public"`,
		OnRetry: func(int, time.Duration, error) { retries++ }}
	conn := db.Conn(t)
	var timeouts []string
	err := r.InTxPipeline(ctx, conn, func(begin []string) error {
		b := &pgx.Batch{}
		for _, s := range begin {
			b.Queue(s)
		}
		b.Queue(`SHOW lock_timeout`)
		b.Queue(`ALTER TABLE t ADD COLUMN x int`)
		b.Queue(`COMMIT`)
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		for range begin {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		var timeout string
		if err := br.QueryRow().Scan(&timeout); err != nil {
			return err
		}
		timeouts = append(timeouts, timeout)
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(timeouts) < 2 || timeouts[0] != "50ms" || timeouts[1] != "100ms" || retries != len(timeouts)-1 {
		t.Errorf("lock_timeouts of the attempts %v with %d retries; want 50ms, then 100ms, one retry each", timeouts, retries)
	}
	if conn.PgConn().TxStatus() != 'I' {
		t.Errorf("transaction status %c after the commit", conn.PgConn().TxStatus())
	}
	// A failure with the transaction open: rolled back, nothing kept.
	boom := errors.New("boom")
	err = r.InTxPipeline(ctx, conn, func(begin []string) error {
		if _, err := conn.Exec(ctx, strings.Join(begin, "; ")+"; ALTER TABLE t ADD COLUMN y int"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTxPipeline = %v, want boom", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'y'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after a failed transaction: column y %d, %v (TxStatus %c)", n, err, conn.PgConn().TxStatus())
	}
}
