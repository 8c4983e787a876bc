package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrLeaseLost is returned by the writes of a Store with a RunID when the
// lease names another run: another strata process has taken the state
// schema over, and nothing of this write was done.
var ErrLeaseLost = errors.New("the lease belongs to another strata run")

// Holder is the strata run that holds (or last held) the lease of a state
// schema: who it is, for the message of a second strata, and which server
// backend holds its advisory lock.
type Holder struct {
	RunID        string
	PID          int       // the strata process's id on its host
	Host         string    // the strata process's host name
	Command      string    // e.g. "start"
	Schema       string    // the managed schema of the command
	StartedAt    time.Time // when the run took the lock
	BackendPID   int       // the server backend holding the advisory lock
	BackendStart time.Time // that backend's start, which tells a reused pid apart
}

func leaseTable(s *Store) string {
	return `CREATE TABLE IF NOT EXISTS ` + s.t("lease") + ` (
			id boolean PRIMARY KEY DEFAULT true CHECK (id),
			run_id text NOT NULL,
			pid int NOT NULL,
			host text NOT NULL,
			command text NOT NULL,
			schema_name text NOT NULL,
			started_at timestamptz NOT NULL,
			backend_pid int NOT NULL,
			backend_start timestamptz NOT NULL)`
}

// LeaseInstalled reports whether the state schema has its lease table (an
// installation from before state schema version 2 does not: Init adds it).
func (s *Store) LeaseInstalled(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.t("lease")).Scan(&ok); err != nil {
		return false, err
	}
	return ok, nil
}

// Current reports whether the state schema has the layout of this release
// (SchemaVersion): when it does not, Init moves it forward.
func (s *Store) Current(ctx context.Context, q Querier) (bool, error) {
	ok, err := s.LeaseInstalled(ctx, q)
	if err != nil || !ok {
		return false, err
	}
	var v int
	err = q.QueryRow(ctx, `SELECT coalesce((SELECT value::int FROM `+s.t("meta")+` WHERE key = 'schema_version'), 0)`).Scan(&v)
	if err != nil {
		return false, fmt.Errorf("read the state schema version: %w", err)
	}
	return v >= SchemaVersion, nil
}

// Claim records h as the holder of the lease. The caller holds the state
// schema's advisory lock; a run that lost it and still writes waits for
// this row or, once it is committed, fails with ErrLeaseLost. Run Claim in
// the transaction that commits it, before anything else of the run.
func (s *Store) Claim(ctx context.Context, q Querier, h Holder) error {
	_, err := q.Exec(ctx, `INSERT INTO `+s.t("lease")+` (id, run_id, pid, host, command, schema_name,
			started_at, backend_pid, backend_start) VALUES (true, $1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, pid = EXCLUDED.pid, host = EXCLUDED.host,
			command = EXCLUDED.command, schema_name = EXCLUDED.schema_name, started_at = EXCLUDED.started_at,
			backend_pid = EXCLUDED.backend_pid, backend_start = EXCLUDED.backend_start`,
		h.RunID, h.PID, h.Host, h.Command, h.Schema, h.StartedAt, h.BackendPID, h.BackendStart)
	if err != nil {
		return fmt.Errorf("claim the lease: %w", err)
	}
	return nil
}

// Lease returns the holder recorded in the lease, or nil when there is
// none (or the state schema has no lease table).
func (s *Store) Lease(ctx context.Context, q Querier) (*Holder, error) {
	ok, err := s.LeaseInstalled(ctx, q)
	if err != nil || !ok {
		return nil, err
	}
	var h Holder
	err = q.QueryRow(ctx, `SELECT run_id, pid, host, command, schema_name, started_at, backend_pid, backend_start
		FROM `+s.t("lease")).Scan(&h.RunID, &h.PID, &h.Host, &h.Command, &h.Schema, &h.StartedAt, &h.BackendPID, &h.BackendStart)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the lease: %w", err)
	}
	return &h, nil
}

// checkLease, on a Store with a RunID, checks that the lease still names
// it and locks the lease row (FOR SHARE) until q's transaction ends, so
// that a Claim by another run waits for this write to commit, or this
// write sees the Claim and fails. Call it inside the write's transaction.
func (s *Store) checkLease(ctx context.Context, q Querier) error {
	if s.RunID == "" {
		return nil
	}
	var run string
	err := q.QueryRow(ctx, `SELECT run_id FROM `+s.t("lease")+` FOR SHARE`).Scan(&run)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: the lease row is gone", ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("check the lease: %w", err)
	}
	if run != s.RunID {
		return fmt.Errorf("%w: it now belongs to run %s", ErrLeaseLost, run)
	}
	return nil
}
