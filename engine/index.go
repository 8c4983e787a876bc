package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
)

// buildIndex runs a KindIndex step: CREATE INDEX CONCURRENTLY, outside a
// transaction. It waits for its lock on the table for at most the lock
// timeout (then it is cancelled and retried, like any statement); once it
// holds it and has made its catalog entry, its waits for older transactions
// (writers, old snapshots) hold up nobody but strata: they are waited out,
// the blockers named every 5 seconds, up to the lock deadline, instead of
// restarting the build from scratch.
//
// A concurrent build that fails (a duplicate for a unique index, a lock
// timeout while it waits for older transactions, a cancel, a crash) leaves
// an INVALID index behind, which PostgreSQL keeps maintaining on every write
// but never uses. So before each attempt an index of that name is looked up:
// a valid one means an earlier attempt finished (the step is done), an
// INVALID one is dropped CONCURRENTLY first. After a failed attempt the
// INVALID index is dropped at once; a lock timeout or deadlock is retried
// with jittered backoff within the lock deadline, any other error is
// reported. strata never leaves an INVALID index of its own behind.
func (m *Migrator) buildIndex(ctx context.Context, conn *pgx.Conn, st Step) error {
	ix := st.Index
	if ix == nil || len(st.SQL) != 1 {
		return fmt.Errorf("index step %q is malformed", st.ID)
	}
	first := firstLine(st.SQL[0])
	stopped := false
	stop := func(err error) error {
		stopped = true
		return pgexec.Permanent(err)
	}
	err := m.exec.Retry(ctx, func() error {
		if err := m.dropInvalidIndex(ctx, conn, ix); err != nil {
			if errors.Is(err, errIndexValid) {
				return nil
			}
			return stop(err)
		}
		// The watcher times the wait for the table's lock (see
		// watchedBuild): lock_timeout would also end the waits for older
		// transactions, after the catalog phase. So none is set.
		err := m.exec.WithSession(ctx, conn, 0, func() error {
			return m.watchedBuild(ctx, conn, ix.Name, st.SQL[0])
		})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return stop(ctx.Err())
		}
		// Drop what the failed build left, whatever the failure.
		if derr := m.dropInvalidIndex(ctx, conn, ix); derr != nil && !errors.Is(derr, errIndexValid) {
			return stop(fmt.Errorf("%s: %w; dropping the INVALID index it left failed too: %v", first, err, derr))
		}
		if !pgexec.Retryable(err) {
			return stop(fmt.Errorf("%s: %w (the INVALID index the failed build left was dropped)", first, err))
		}
		return err
	}, func(attempt int, wait time.Duration, err error) {
		m.logf("building index %s: %s (attempt %d); its INVALID index was dropped, retrying in %s",
			ix.Name, retryMessage(err), attempt, wait.Round(time.Millisecond))
	})
	if err != nil && !stopped && errors.Is(err, pgexec.ErrDeadline) {
		// Out of time: named by the statement, as every failed build is.
		return fmt.Errorf("%s: %w", first, err)
	}
	return err
}

// errIndexValid reports that the index exists and is valid.
var errIndexValid = errors.New("index is valid")

// dropInvalidIndex looks up the step's index: it returns errIndexValid when
// it exists and is valid, drops it CONCURRENTLY when it is INVALID (or not
// ready), and returns nil when there is none.
func (m *Migrator) dropInvalidIndex(ctx context.Context, conn *pgx.Conn, ix *IndexSpec) error {
	var valid bool
	var table string
	err := conn.QueryRow(ctx, `SELECT x.indisvalid AND x.indisready AND x.indislive, t.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_index x ON x.indexrelid = c.oid JOIN pg_class t ON t.oid = x.indrelid
		WHERE n.nspname = $1 AND c.relname = $2`, ix.Schema, ix.Name).Scan(&valid, &table)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up index %s: %w", ix.Name, err)
	}
	if table != ix.Table {
		return fmt.Errorf("index %s.%s exists on table %s, not on %s", ix.Schema, ix.Name, table, ix.Table)
	}
	if valid {
		return errIndexValid
	}
	m.logf("dropping the INVALID index %s left by a failed or interrupted build", ix.Name)
	if err := m.exec.Exec(ctx, conn, "DROP INDEX CONCURRENTLY IF EXISTS "+pgquery.Qual(ix.Schema, ix.Name)); err != nil {
		return fmt.Errorf("drop INVALID index %s: %w", ix.Name, err)
	}
	return nil
}
