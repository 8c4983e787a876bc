// Package state owns strata's own schema in the database: the history of
// completed migrations, the phase in progress with its stored plan and per-step
// cursors, and backfill checkpoints.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/natural"
)

// Querier is what the store needs from a connection or transaction. It is
// backfill.Querier, so that a *Store is a backfill.CheckpointStore.
type Querier = backfill.Querier

var _ backfill.CheckpointStore = (*Store)(nil)

// Phase states.
const (
	Starting   = "starting"   // start is running or was interrupted
	Started    = "started"    // start finished: both versions are live
	Completing = "completing" // complete is running or was interrupted
	Aborting   = "aborting"   // abort is running or was interrupted
)

// ErrNotInstalled is returned when the state schema does not exist.
var ErrNotInstalled = errors.New("strata is not initialised in this database\nhint: run strata init")

// SchemaVersion is the version of the state schema layout: 2 added the
// lease table, 3 the history of both kinds of migration, 4 the throttle
// settings of a phase and the per-run progress of a backfill checkpoint.
const SchemaVersion = 4

// Store reads and writes strata's state schema.
type Store struct {
	Schema string // the state schema's name, e.g. "strata"
	// RunID, when set, is the run that must hold the lease: every write
	// (phase, cursors, checkpoints) first checks in its own transaction
	// that the lease still names this run, and fails with ErrLeaseLost
	// when another run has claimed it. See Claim.
	RunID string
}

func (s *Store) t(name string) string {
	return pgx.Identifier{s.Schema, name}.Sanitize()
}

// Init installs the state schema. It is safe to re-run.
func (s *Store) Init(ctx context.Context, q Querier) error {
	// CREATE SCHEMA checks the database's CREATE privilege even when the
	// schema exists: only run it when it does not.
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, s.Schema).Scan(&exists); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	var stmts []string
	if !exists {
		stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.Schema}.Sanitize())
	}
	stmts = append(stmts,
		`CREATE TABLE IF NOT EXISTS `+s.t("meta")+` (
			key text PRIMARY KEY,
			value text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS `+s.t("history")+` (
			schema_name text NOT NULL,
			name text NOT NULL,
			checksum text NOT NULL,
			version_schema text NOT NULL,
			started_at timestamptz NOT NULL,
			completed_at timestamptz NOT NULL,
			tool_version text NOT NULL,
			PRIMARY KEY (schema_name, name))`,
		`CREATE TABLE IF NOT EXISTS `+s.t("phase")+` (
			schema_name text PRIMARY KEY,
			state text NOT NULL CHECK (state IN ('starting', 'started', 'completing', 'aborting')),
			migrations jsonb NOT NULL,
			version_schema text NOT NULL,
			previous_schema text,
			plan jsonb NOT NULL,
			start_cursor int NOT NULL DEFAULT 0,
			complete_cursor int NOT NULL DEFAULT 0,
			abort_cursor int NOT NULL DEFAULT 0,
			started_at timestamptz NOT NULL DEFAULT now(),
			updated_at timestamptz NOT NULL DEFAULT now(),
			tool_version text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS `+s.t("backfill")+` (
			schema_name text NOT NULL,
			step text NOT NULL,
			table_name text NOT NULL,
			last_key jsonb,
			upper_key jsonb,
			rows_done bigint NOT NULL DEFAULT 0,
			rows_estimate bigint NOT NULL DEFAULT 0,
			size_before bigint NOT NULL DEFAULT 0,
			done boolean NOT NULL DEFAULT false,
			started_at timestamptz NOT NULL DEFAULT now(),
			updated_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (schema_name, step))`,
		leaseTable(s),
		enumLeftDDL(s),
		// Layout 3: the history of both kinds of migration (see
		// HistoryEntry). Each statement is a no-op on a schema that has it
		// already, so Init moves an older schema forward and stays safe to
		// re-run.
		`ALTER TABLE `+s.t("history")+` ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'toml',
			ADD COLUMN IF NOT EXISTS duration_ms bigint,
			ADD COLUMN IF NOT EXISTS applied_by text,
			ADD COLUMN IF NOT EXISTS statements_done int NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS failed_statement int,
			ADD COLUMN IF NOT EXISTS error text,
			ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'strata'`,
		`ALTER TABLE `+s.t("history")+` ALTER COLUMN completed_at DROP NOT NULL`,
		// Layout 4: a phase's throttle settings (reused when it resumes)
		// and the rows and time of a checkpoint's current run (rates count
		// only this run's rows). Readers of a layout 3 schema see neither
		// column (see Phase and Checkpoint), so that status works before
		// the next writing command moves the schema forward.
		`ALTER TABLE `+s.t("phase")+` ADD COLUMN IF NOT EXISTS throttle jsonb`,
		`ALTER TABLE `+s.t("backfill")+` ADD COLUMN IF NOT EXISTS run_rows_start bigint NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS run_seconds double precision NOT NULL DEFAULT 0`,
		`INSERT INTO `+s.t("meta")+` AS m (key, value) VALUES ('schema_version', '4')
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE m.value::int < 4`,
	)
	for _, stmt := range stmts {
		if _, err := q.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	return nil
}

// Installed reports whether the state schema exists.
func (s *Store) Installed(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.t("phase")).Scan(&ok)
	if err != nil {
		return false, err
	}
	return ok, nil
}

// MigrationRef names one migration of a phase.
type MigrationRef struct {
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
	File     string `json:"file"`
}

// Phase is the expand phase in progress for one managed schema.
type Phase struct {
	Schema         string
	State          string
	Migrations     []MigrationRef
	VersionSchema  string
	PreviousSchema string // "" when the old version uses the base tables
	Plan           json.RawMessage
	StartCursor    int
	CompleteCursor int
	AbortCursor    int
	StartedAt      time.Time
	UpdatedAt      time.Time
	ToolVersion    string
	// Throttle is the backfill settings the phase runs with, as the
	// engine encodes them (nil: none recorded, e.g. a phase an older
	// release started).
	Throttle json.RawMessage
}

// Names returns the names of the phase's migrations.
func (p *Phase) Names() []string {
	out := make([]string, len(p.Migrations))
	for i, m := range p.Migrations {
		out[i] = m.Name
	}
	return out
}

// Phase returns the phase in progress for a managed schema, or nil.
func (s *Store) Phase(ctx context.Context, q Querier, schema string) (*Phase, error) {
	var p Phase
	var migs []byte
	var prev *string
	var throttle *string
	// to_jsonb(p) reads the throttle column of layout 4 and NULL on an
	// older layout.
	err := q.QueryRow(ctx, `SELECT schema_name, state, migrations, version_schema, previous_schema, plan,
			start_cursor, complete_cursor, abort_cursor, started_at, updated_at, tool_version,
			nullif(to_jsonb(p) -> 'throttle', 'null')::text
		FROM `+s.t("phase")+` AS p WHERE schema_name = $1`, schema).Scan(
		&p.Schema, &p.State, &migs, &p.VersionSchema, &prev, &p.Plan,
		&p.StartCursor, &p.CompleteCursor, &p.AbortCursor, &p.StartedAt, &p.UpdatedAt, &p.ToolVersion, &throttle)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read phase: %w", err)
	}
	if prev != nil {
		p.PreviousSchema = *prev
	}
	if throttle != nil {
		p.Throttle = json.RawMessage(*throttle)
	}
	if err := json.Unmarshal(migs, &p.Migrations); err != nil {
		return nil, fmt.Errorf("decode phase migrations: %w", err)
	}
	return &p, nil
}

// CreatePhase records a new phase.
func (s *Store) CreatePhase(ctx context.Context, q Querier, p *Phase) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	migs, err := json.Marshal(p.Migrations)
	if err != nil {
		return err
	}
	var prev *string
	if p.PreviousSchema != "" {
		prev = &p.PreviousSchema
	}
	// jsonb parameters are passed as strings: a []byte is bytea to pgx's
	// exec and simple_protocol modes, which send '\x7b...' (22P02).
	var throttle *string
	if len(p.Throttle) > 0 {
		t := string(p.Throttle)
		throttle = &t
	}
	_, err = q.Exec(ctx, `INSERT INTO `+s.t("phase")+` (schema_name, state, migrations, version_schema,
			previous_schema, plan, tool_version, throttle) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.Schema, p.State, string(migs), p.VersionSchema, prev, string(p.Plan), p.ToolVersion, throttle)
	if err != nil {
		return fmt.Errorf("create phase: %w", err)
	}
	return nil
}

// SetState moves the phase of schema to a new state.
func (s *Store) SetState(ctx context.Context, q Querier, schema, st string) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE `+s.t("phase")+` SET state = $2, updated_at = now() WHERE schema_name = $1`, schema, st)
	if err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	return nil
}

// SetThrottle records the throttle settings of the phase of schema (a
// resumed start or complete given new settings stores them).
func (s *Store) SetThrottle(ctx context.Context, q Querier, schema string, throttle json.RawMessage) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE `+s.t("phase")+` SET throttle = $2, updated_at = now() WHERE schema_name = $1`, schema, string(throttle))
	if err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	return nil
}

// Cursor names.
const (
	CursorStart    = "start_cursor"
	CursorComplete = "complete_cursor"
	CursorAbort    = "abort_cursor"
)

// Advance records that every step before n of the given cursor is done.
func (s *Store) Advance(ctx context.Context, q Querier, schema, cursor string, n int) error {
	switch cursor {
	case CursorStart, CursorComplete, CursorAbort:
	default:
		return fmt.Errorf("unknown cursor %q", cursor)
	}
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE `+s.t("phase")+` SET `+cursor+` = $2, updated_at = now() WHERE schema_name = $1`, schema, n)
	if err != nil {
		return fmt.Errorf("advance %s: %w", cursor, err)
	}
	return nil
}

// FinishComplete records the phase's migrations as completed and removes the phase.
func (s *Store) FinishComplete(ctx context.Context, q Querier, p *Phase, toolVersion string) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	for i, m := range p.Migrations {
		vs := p.VersionSchema
		// The phase's migrations complete together; each is recorded one
		// microsecond after the one before it, so the history keeps their
		// folder order (which a top-level name key does not change).
		_, err := q.Exec(ctx, `INSERT INTO `+s.t("history")+` (schema_name, name, checksum, version_schema,
				started_at, completed_at, tool_version, kind, duration_ms, applied_by)
			VALUES ($1, $2, $3, $4, $5, now() + $8::int * interval '1 microsecond', $6, $7,
				(extract(epoch FROM now() - $5::timestamptz) * 1000)::bigint, current_user)
			ON CONFLICT (schema_name, name) DO NOTHING`,
			p.Schema, m.Name, m.Checksum, vs, p.StartedAt, toolVersion, kindOf(m.File), i)
		if err != nil {
			return fmt.Errorf("record history: %w", err)
		}
	}
	return s.dropPhase(ctx, q, p.Schema)
}

// enumLeftDDL creates the table of enum values that aborted phases left
// behind (PostgreSQL cannot remove a value from an enum), by the ID of the
// start step that added them.
func enumLeftDDL(s *Store) string {
	return `CREATE TABLE IF NOT EXISTS ` + s.t("enum_value_left") + ` (
			schema_name text NOT NULL,
			step text NOT NULL,
			left_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (schema_name, step))`
}

// RecordEnumValuesLeft records the start steps (by ID) of an aborted phase
// that added enum values, which stay.
func (s *Store) RecordEnumValuesLeft(ctx context.Context, q Querier, schema string, steps []string) error {
	if len(steps) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, enumLeftDDL(s)); err != nil {
		return fmt.Errorf("record enum values left: %w", err)
	}
	_, err := q.Exec(ctx, `INSERT INTO `+s.t("enum_value_left")+` (schema_name, step)
		SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, schema, steps)
	if err != nil {
		return fmt.Errorf("record enum values left: %w", err)
	}
	return nil
}

// EnumValuesLeft returns the IDs of the start steps whose enum values
// aborted phases left behind.
func (s *Store) EnumValuesLeft(ctx context.Context, q Querier, schema string) (map[string]bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.t("enum_value_left")).Scan(&ok); err != nil || !ok {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT step FROM `+s.t("enum_value_left")+` WHERE schema_name = $1`, schema)
	if err != nil {
		return nil, fmt.Errorf("read enum values left: %w", err)
	}
	steps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read enum values left: %w", err)
	}
	out := map[string]bool{}
	for _, st := range steps {
		out[st] = true
	}
	return out, nil
}

// FinishAbort removes the phase and its checkpoints.
func (s *Store) FinishAbort(ctx context.Context, q Querier, schema string) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	return s.dropPhase(ctx, q, schema)
}

func (s *Store) dropPhase(ctx context.Context, q Querier, schema string) error {
	if _, err := q.Exec(ctx, `DELETE FROM `+s.t("backfill")+` WHERE schema_name = $1`, schema); err != nil {
		return fmt.Errorf("clear checkpoints: %w", err)
	}
	if _, err := q.Exec(ctx, `DELETE FROM `+s.t("phase")+` WHERE schema_name = $1`, schema); err != nil {
		return fmt.Errorf("clear phase: %w", err)
	}
	return nil
}

// HistoryEntry is one migration in the history: completed, or a .sql file
// whose run failed (CompletedAt nil).
type HistoryEntry struct {
	Name          string     `json:"name"`
	Kind          string     `json:"kind"` // sql, toml or json
	Checksum      string     `json:"checksum"`
	VersionSchema string     `json:"version_schema,omitempty"`
	StartedAt     time.Time  `json:"started_at"`
	CompletedAt   *time.Time `json:"completed_at"`
	DurationMS    *int64     `json:"-"` // engine.HistoryItem shows it as duration_seconds
	Role          string     `json:"role"`
	ToolVersion   string     `json:"strata_version"`
	// Source is "strata" for migrations strata ran, "baseline" or
	// "baseline --from TOOL" for ones it recorded without running them.
	Source string `json:"source"`
	// StatementsDone counts the statements of a no-transaction .sql file
	// that ran; FailedStatement (1-based) and Error tell why a run failed.
	StatementsDone  int    `json:"statements_done,omitempty"`
	FailedStatement *int   `json:"failed_statement,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Completed reports whether the migration completed.
func (h *HistoryEntry) Completed() bool { return h.CompletedAt != nil }

func kindOf(file string) string {
	switch {
	case strings.HasSuffix(file, ".sql"):
		return "sql"
	case strings.HasSuffix(file, ".json"):
		return "json"
	}
	return "toml"
}

// History lists the completed migrations of a managed schema in completion
// order, oldest first.
func (s *Store) History(ctx context.Context, q Querier, schema string) ([]HistoryEntry, error) {
	all, err := s.AllHistory(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, h := range all {
		if h.Completed() {
			out = append(out, h)
		}
	}
	return out, nil
}

// AllHistory is History with the failed runs of .sql files, which come
// last, in the order they started.
func (s *Store) AllHistory(ctx context.Context, q Querier, schema string) ([]HistoryEntry, error) {
	rows, err := q.Query(ctx, `SELECT name, kind, checksum, version_schema, started_at, completed_at, duration_ms,
			coalesce(applied_by, ''), tool_version, source, statements_done, failed_statement, coalesce(error, '')
		FROM `+s.t("history")+` WHERE schema_name = $1`, schema)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		err := r.Scan(&h.Name, &h.Kind, &h.Checksum, &h.VersionSchema, &h.StartedAt, &h.CompletedAt, &h.DurationMS,
			&h.Role, &h.ToolVersion, &h.Source, &h.StatementsDone, &h.FailedStatement, &h.Error)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	// Migrations of one phase are recorded a microsecond apart in folder
	// order (see FinishComplete); equal times (older records) fall back to
	// the natural order of the names.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Completed() != b.Completed() {
			return a.Completed()
		}
		ta, tb := a.StartedAt, b.StartedAt
		if a.Completed() {
			ta, tb = *a.CompletedAt, *b.CompletedAt
		}
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return natural.Less(a.Name, b.Name)
	})
	return out, nil
}

// BeginSQL records that a .sql migration starts running and returns how
// many of its statements already ran (a no-transaction file whose earlier
// run failed, with the same checksum; else 0).
func (s *Store) BeginSQL(ctx context.Context, q Querier, schema, name, checksum, toolVersion string) (int, error) {
	if err := s.checkLease(ctx, q); err != nil {
		return 0, err
	}
	var done int
	err := q.QueryRow(ctx, `INSERT INTO `+s.t("history")+` AS h (schema_name, name, checksum, version_schema,
			started_at, completed_at, tool_version, kind, applied_by)
		VALUES ($1, $2, $3, '', clock_timestamp(), NULL, $4, 'sql', current_user)
		ON CONFLICT (schema_name, name) DO UPDATE SET started_at = clock_timestamp(), tool_version = $4,
			applied_by = current_user, checksum = $3,
			statements_done = CASE WHEN h.checksum = $3 THEN h.statements_done ELSE 0 END
		WHERE h.completed_at IS NULL
		RETURNING statements_done`, schema, name, checksum, toolVersion).Scan(&done)
	if err != nil {
		return 0, fmt.Errorf("record start of %s: %w", name, err)
	}
	return done, nil
}

// SQLProgress records that the first done statements of a no-transaction
// .sql migration ran.
func (s *Store) SQLProgress(ctx context.Context, q Querier, schema, name string, done int) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE `+s.t("history")+` SET statements_done = $3 WHERE schema_name = $1 AND name = $2`, schema, name, done)
	if err != nil {
		return fmt.Errorf("record progress of %s: %w", name, err)
	}
	return nil
}

// SQLFailed records that statement stmt (1-based) of a .sql migration
// failed with msg.
func (s *Store) SQLFailed(ctx context.Context, q Querier, schema, name string, stmt int, msg string) error {
	_, err := q.Exec(ctx, `UPDATE `+s.t("history")+` SET failed_statement = $3, error = $4
		WHERE schema_name = $1 AND name = $2 AND completed_at IS NULL`, schema, name, stmt, msg)
	if err != nil {
		return fmt.Errorf("record failure of %s: %w", name, err)
	}
	return nil
}

// CompleteSQL records a .sql migration as completed.
func (s *Store) CompleteSQL(ctx context.Context, q Querier, schema, name string, statements int) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE `+s.t("history")+` SET completed_at = clock_timestamp(),
			duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint,
			statements_done = $3, failed_statement = NULL, error = NULL
		WHERE schema_name = $1 AND name = $2`, schema, name, statements)
	if err != nil {
		return fmt.Errorf("record completion of %s: %w", name, err)
	}
	return nil
}

// RecordSQL records a .sql migration that ran whole and has no record of
// its start (a transactional file, written in the file's own transaction, or
// a one-statement no-transaction file): one write, which also checks the
// lease, so that a file that rolls back leaves no record (its failure is
// recorded afterwards with BeginSQL and SQLFailed). elapsed is the file's
// run time, measured by the caller. A failed earlier run's record is
// replaced.
func (s *Store) RecordSQL(ctx context.Context, q Querier, schema, name, checksum, toolVersion string, statements int, elapsed time.Duration) error {
	from, args := "", []any{schema, name, checksum, toolVersion, statements, elapsed.Milliseconds()}
	if s.RunID != "" {
		// The lease check of every write (checkLease), in the same round
		// trip: no row is written unless the lease names this run.
		from = ` FROM (SELECT run_id FROM ` + s.t("lease") + ` FOR SHARE) l WHERE l.run_id = $7`
		args = append(args, s.RunID)
	}
	tag, err := q.Exec(ctx, `INSERT INTO `+s.t("history")+` AS h (schema_name, name, checksum, version_schema,
			started_at, completed_at, tool_version, kind, applied_by, duration_ms, statements_done)
		SELECT $1, $2, $3, '', clock_timestamp() - make_interval(secs => $6::bigint / 1000.0), clock_timestamp(), $4, 'sql', current_user, $6, $5`+from+`
		ON CONFLICT (schema_name, name) DO UPDATE SET checksum = EXCLUDED.checksum, started_at = EXCLUDED.started_at,
			completed_at = EXCLUDED.completed_at, tool_version = EXCLUDED.tool_version, applied_by = EXCLUDED.applied_by,
			duration_ms = EXCLUDED.duration_ms, statements_done = EXCLUDED.statements_done,
			failed_statement = NULL, error = NULL
		WHERE h.completed_at IS NULL`, args...)
	if err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	if tag.RowsAffected() != 1 {
		if err := s.checkLease(ctx, q); err != nil {
			return err
		}
		return fmt.Errorf("record %s: it is recorded as completed already", name)
	}
	return nil
}

// Applied is a migration recorded as applied without running it.
type Applied struct {
	Name, Kind, Checksum string
}

// RecordApplied records migrations as completed without running them
// (strata baseline); source says where the knowledge came from.
func (s *Store) RecordApplied(ctx context.Context, q Querier, schema, source, toolVersion string, migs []Applied) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	for _, m := range migs {
		_, err := q.Exec(ctx, `INSERT INTO `+s.t("history")+` (schema_name, name, checksum, version_schema,
				started_at, completed_at, tool_version, kind, duration_ms, applied_by, source)
			VALUES ($1, $2, $3, '', clock_timestamp(), clock_timestamp(), $4, $5, 0, current_user, $6)
			ON CONFLICT (schema_name, name) DO NOTHING`, schema, m.Name, m.Checksum, toolVersion, m.Kind, source)
		if err != nil {
			return fmt.Errorf("record %s as applied: %w", m.Name, err)
		}
	}
	return nil
}

// Checkpoint returns the checkpoint of a backfill step, or nil.
func (s *Store) Checkpoint(ctx context.Context, q Querier, schema, step string) (*backfill.Checkpoint, error) {
	c := backfill.Checkpoint{Step: step}
	var last, upper []byte
	var runSeconds float64
	// to_jsonb(b) reads the run columns of layout 4 and 0 on an older
	// layout.
	err := q.QueryRow(ctx, `SELECT table_name, last_key, upper_key, rows_done, rows_estimate, size_before, done, started_at, updated_at,
			coalesce((to_jsonb(b) ->> 'run_rows_start')::bigint, 0), coalesce((to_jsonb(b) ->> 'run_seconds')::float8, 0)
		FROM `+s.t("backfill")+` AS b WHERE schema_name = $1 AND step = $2`, schema, step).Scan(
		&c.Table, &last, &upper, &c.RowsDone, &c.RowsEstimate, &c.SizeBefore, &c.Done, &c.StartedAt, &c.UpdatedAt,
		&c.RunRowsStart, &runSeconds)
	c.RunElapsed = time.Duration(runSeconds * float64(time.Second))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if last != nil {
		if err := json.Unmarshal(last, &c.LastKey); err != nil {
			return nil, fmt.Errorf("decode checkpoint: %w", err)
		}
	}
	if upper != nil {
		if err := json.Unmarshal(upper, &c.UpperKey); err != nil {
			return nil, fmt.Errorf("decode checkpoint: %w", err)
		}
	}
	return &c, nil
}

// Checkpoints lists every backfill checkpoint of a managed schema.
func (s *Store) Checkpoints(ctx context.Context, q Querier, schema string) ([]backfill.Checkpoint, error) {
	rows, err := q.Query(ctx, `SELECT step FROM `+s.t("backfill")+` WHERE schema_name = $1 ORDER BY started_at, step`, schema)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	steps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var out []backfill.Checkpoint
	for _, st := range steps {
		c, err := s.Checkpoint(ctx, q, schema, st)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

// SaveCheckpoint upserts a checkpoint.
func (s *Store) SaveCheckpoint(ctx context.Context, q Querier, schema string, c *backfill.Checkpoint) error {
	if err := s.checkLease(ctx, q); err != nil {
		return err
	}
	// jsonb parameters are strings (nil for NULL), as in CreatePhase.
	var last, upper *string
	for _, k := range []struct {
		key []*string
		dst **string
	}{{c.LastKey, &last}, {c.UpperKey, &upper}} {
		if k.key == nil {
			continue
		}
		b, err := json.Marshal(k.key)
		if err != nil {
			return err
		}
		js := string(b)
		*k.dst = &js
	}
	_, err := q.Exec(ctx, `INSERT INTO `+s.t("backfill")+` AS b (schema_name, step, table_name, last_key, upper_key,
			rows_done, rows_estimate, size_before, done, run_rows_start, run_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (schema_name, step) DO UPDATE SET last_key = EXCLUDED.last_key, upper_key = EXCLUDED.upper_key,
			rows_done = EXCLUDED.rows_done, rows_estimate = EXCLUDED.rows_estimate, done = EXCLUDED.done,
			run_rows_start = EXCLUDED.run_rows_start, run_seconds = EXCLUDED.run_seconds,
			updated_at = now()`,
		schema, c.Step, c.Table, last, upper, c.RowsDone, c.RowsEstimate, c.SizeBefore, c.Done, c.RunRowsStart, c.RunElapsed.Seconds())
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
