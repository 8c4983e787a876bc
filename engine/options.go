package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/state"
)

// Version is strata's version, recorded in the history. Release builds
// stamp it (`make dist`: -ldflags "-X .../engine.Version=v1.2.3"); a binary
// built by `go install module@version` reports its module version (see
// cli's version command); otherwise it is this development version.
var Version = "0.1.0-dev"

// DefaultLockTimeout is the default Options.LockTimeout: the longest the
// application queues behind a lock request of strata's (see
// pgexec.DefaultLockTimeout).
const DefaultLockTimeout = pgexec.DefaultLockTimeout

// Options configure a Migrator. Zero values mean the defaults.
type Options struct {
	Schema       string        // managed schema; default "public"
	StateSchema  string        // strata's own schema; default "strata"
	LockTimeout  time.Duration // lock_timeout of every DDL statement; default 200ms (pgexec.DefaultLockTimeout)
	LockDeadline time.Duration // total time to keep retrying on lock timeouts; default 10m
	LockWait     time.Duration // how long to wait for another strata process; default 0 (refuse at once)
	BatchSize    int           // backfill rows in the first batch; default 1000
	// BatchTarget is the duration each backfill batch aims at (the batch
	// size adapts); default 150ms, negative keeps BatchSize fixed.
	BatchTarget time.Duration
	// Workers fill disjoint key ranges of a table in parallel; default 1.
	Workers int
	// MaxRowsPerSecond throttles backfills; 0 is no limit.
	MaxRowsPerSecond float64
	// MaxReplicationLag pauses backfills while a standby lags more; 0 is off.
	MaxReplicationLag time.Duration
	SpaceOptions      // space reuse, pacing and the disk check of backfills
	// ThrottleGiven says whether a backfill setting (one of
	// ThrottleSettings) was given for this run: a resumed phase runs with
	// the settings recorded when it started, except those given. Nil
	// means every setting is given (the options always win).
	ThrottleGiven func(setting string) bool
	// Logf receives progress messages; nil discards them.
	Logf func(format string, args ...any)
	// Progress receives backfill progress after every batch.
	Progress func(backfill.Progress)
	// AfterStep is called after each recorded step (phase is "start",
	// "complete" or "abort"); AfterBatch after each backfill batch. Tests
	// use them to simulate crashes.
	AfterStep  func(phase string, step Step)
	AfterBatch func(batch int)
	// SQLGate checks the pending .sql migrations before any of them runs
	// (the CLI lints them); nil runs them unchecked.
	SQLGate SQLGate
	// VersionSchemaStyle is the style of the version schemas new phases
	// create: migration.StyleStrata (the default, "") names them
	// <schema>_<name> with views only of the tables whose shape differs;
	// migration.StyleReshape names them migration_<name> with a view of
	// every table, as Reshape does. A phase keeps the style it started
	// with (stored in its plan) through complete and abort.
	VersionSchemaStyle string
	// AllowChanged lets Start and Migrate go on while a completed
	// migration's file has changed (see ErrChanged).
	AllowChanged bool
	// BeforeStart, when set, may refuse a new phase (not the resumption of
	// an interrupted start): it gets the pending migrations before any of
	// them runs. The CLI refuses while scenarios hold copies of the tables
	// they change.
	BeforeStart func(ctx context.Context, pending []*migration.Migration) error
}

// Migrator runs migrations against one database.
type Migrator struct {
	cfg   *pgx.ConnConfig
	opts  Options
	store *state.Store
	exec  *pgexec.Runner
}

// New prepares a Migrator for the database at connString (a URL or a libpq
// keyword string; empty means the PG* environment variables).
func New(connString string, opts Options) (*Migrator, error) {
	if opts.VersionSchemaStyle != "" && !slices.Contains(migration.Styles, opts.VersionSchemaStyle) {
		return nil, fmt.Errorf("unknown version schema style %q (valid: %s)", opts.VersionSchemaStyle, strings.Join(migration.Styles, ", "))
	}
	if err := pgerr.CheckURL(connString); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, pgerr.Parse(err, connString)
	}
	return newMigrator(cfg, connString, opts), nil
}

// newMigrator finishes New for a parsed configuration.
func newMigrator(cfg *pgx.ConnConfig, connString string, opts Options) *Migrator {
	if opts.Schema == "" {
		opts.Schema = "public"
	}
	if opts.StateSchema == "" {
		opts.StateSchema = "strata"
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = pgexec.DefaultLockTimeout
	}
	if opts.LockDeadline <= 0 {
		opts.LockDeadline = 10 * time.Minute
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	cfg.RuntimeParams["application_name"] = "strata"
	// No startup search_path (a transaction pooler refuses it or drops it),
	// and a search_path in the connection string would not be used anyway:
	// every transaction sets its own with SET LOCAL (pgexec.Runner).
	delete(cfg.RuntimeParams, "search_path")
	if !strings.Contains(connString, "default_query_exec_mode") {
		// No named prepared statements, one round trip per query: works
		// through transaction poolers (pgbouncer before 1.21 has no
		// prepared statements in transaction mode).
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	m := &Migrator{cfg: cfg, opts: opts, store: &state.Store{Schema: opts.StateSchema}}
	m.exec = &pgexec.Runner{LockTimeout: opts.LockTimeout, Deadline: opts.LockDeadline, SearchPath: pgquery.Ident(opts.Schema),
		Monitor: &pgexec.Monitor{Connect: m.connect},
		OnRetry: func(attempt int, wait time.Duration, err error) {
			m.logf("lock not available (attempt %d), retrying in %s: %s", attempt, wait.Round(time.Millisecond), retryMessage(err))
		},
		OnBlocked: func(bs []pgexec.Blocker, waited time.Duration) {
			m.logf("waiting for %s to end its transaction (waited %s; strata stays out of the lock queue meanwhile)",
				pgexec.Blockers(bs), waited.Round(time.Millisecond))
		}}
	return m
}

// retryMessage renders a retried error: the server's message and, when
// known, who blocked strata.
func retryMessage(err error) string {
	var be *pgexec.BlockedError
	if errors.As(err, &be) {
		return pgexec.Message(be.Err) + "; blocked by " + pgexec.Blockers(be.Blockers)
	}
	return pgexec.Message(err)
}

func (m *Migrator) logf(format string, args ...any) {
	if m.opts.Logf != nil {
		m.opts.Logf(format, args...)
	}
}
