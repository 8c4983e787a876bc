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
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/backfill"
	"github.com/strata-db/strata/internal/natural"
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
var ErrNotInstalled = errors.New("state: strata is not initialised in this database (run strata init)")

// SchemaVersion is the version of the state schema layout.
const SchemaVersion = 1

// Store reads and writes strata's state schema.
type Store struct {
	Schema string // the state schema's name, e.g. "strata"
}

func (s *Store) t(name string) string {
	return pgx.Identifier{s.Schema, name}.Sanitize()
}

// Init installs the state schema. It is safe to re-run.
func (s *Store) Init(ctx context.Context, q Querier) error {
	stmts := []string{
		"CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{s.Schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + s.t("meta") + ` (
			key text PRIMARY KEY,
			value text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s.t("history") + ` (
			schema_name text NOT NULL,
			name text NOT NULL,
			checksum text NOT NULL,
			version_schema text NOT NULL,
			started_at timestamptz NOT NULL,
			completed_at timestamptz NOT NULL,
			tool_version text NOT NULL,
			PRIMARY KEY (schema_name, name))`,
		`CREATE TABLE IF NOT EXISTS ` + s.t("phase") + ` (
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
		`CREATE TABLE IF NOT EXISTS ` + s.t("backfill") + ` (
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
		enumLeftDDL(s),
		`INSERT INTO ` + s.t("meta") + ` (key, value) VALUES ('schema_version', '1')
			ON CONFLICT (key) DO NOTHING`,
	}
	for _, stmt := range stmts {
		if _, err := q.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("state: init: %w", err)
		}
	}
	return nil
}

// Installed reports whether the state schema exists.
func (s *Store) Installed(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.t("phase")).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("state: %w", err)
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
	err := q.QueryRow(ctx, `SELECT schema_name, state, migrations, version_schema, previous_schema, plan,
			start_cursor, complete_cursor, abort_cursor, started_at, updated_at, tool_version
		FROM `+s.t("phase")+` WHERE schema_name = $1`, schema).Scan(
		&p.Schema, &p.State, &migs, &p.VersionSchema, &prev, &p.Plan,
		&p.StartCursor, &p.CompleteCursor, &p.AbortCursor, &p.StartedAt, &p.UpdatedAt, &p.ToolVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: read phase: %w", err)
	}
	if prev != nil {
		p.PreviousSchema = *prev
	}
	if err := json.Unmarshal(migs, &p.Migrations); err != nil {
		return nil, fmt.Errorf("state: decode phase migrations: %w", err)
	}
	return &p, nil
}

// CreatePhase records a new phase.
func (s *Store) CreatePhase(ctx context.Context, q Querier, p *Phase) error {
	migs, err := json.Marshal(p.Migrations)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	var prev *string
	if p.PreviousSchema != "" {
		prev = &p.PreviousSchema
	}
	_, err = q.Exec(ctx, `INSERT INTO `+s.t("phase")+` (schema_name, state, migrations, version_schema,
			previous_schema, plan, tool_version) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		p.Schema, p.State, migs, p.VersionSchema, prev, p.Plan, p.ToolVersion)
	if err != nil {
		return fmt.Errorf("state: create phase: %w", err)
	}
	return nil
}

// SetState moves the phase of schema to a new state.
func (s *Store) SetState(ctx context.Context, q Querier, schema, st string) error {
	_, err := q.Exec(ctx, `UPDATE `+s.t("phase")+` SET state = $2, updated_at = now() WHERE schema_name = $1`, schema, st)
	if err != nil {
		return fmt.Errorf("state: set state: %w", err)
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
		return fmt.Errorf("state: unknown cursor %q", cursor)
	}
	_, err := q.Exec(ctx, `UPDATE `+s.t("phase")+` SET `+cursor+` = $2, updated_at = now() WHERE schema_name = $1`, schema, n)
	if err != nil {
		return fmt.Errorf("state: advance %s: %w", cursor, err)
	}
	return nil
}

// FinishComplete records the phase's migrations as completed and removes the phase.
func (s *Store) FinishComplete(ctx context.Context, q Querier, p *Phase, toolVersion string) error {
	for _, m := range p.Migrations {
		vs := p.VersionSchema
		_, err := q.Exec(ctx, `INSERT INTO `+s.t("history")+` (schema_name, name, checksum, version_schema,
				started_at, completed_at, tool_version) VALUES ($1, $2, $3, $4, $5, now(), $6)
			ON CONFLICT (schema_name, name) DO NOTHING`,
			p.Schema, m.Name, m.Checksum, vs, p.StartedAt, toolVersion)
		if err != nil {
			return fmt.Errorf("state: record history: %w", err)
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
		return fmt.Errorf("state: record enum values left: %w", err)
	}
	_, err := q.Exec(ctx, `INSERT INTO `+s.t("enum_value_left")+` (schema_name, step)
		SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, schema, steps)
	if err != nil {
		return fmt.Errorf("state: record enum values left: %w", err)
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
		return nil, fmt.Errorf("state: read enum values left: %w", err)
	}
	steps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("state: read enum values left: %w", err)
	}
	out := map[string]bool{}
	for _, st := range steps {
		out[st] = true
	}
	return out, nil
}

// FinishAbort removes the phase and its checkpoints.
func (s *Store) FinishAbort(ctx context.Context, q Querier, schema string) error {
	return s.dropPhase(ctx, q, schema)
}

func (s *Store) dropPhase(ctx context.Context, q Querier, schema string) error {
	if _, err := q.Exec(ctx, `DELETE FROM `+s.t("backfill")+` WHERE schema_name = $1`, schema); err != nil {
		return fmt.Errorf("state: clear checkpoints: %w", err)
	}
	if _, err := q.Exec(ctx, `DELETE FROM `+s.t("phase")+` WHERE schema_name = $1`, schema); err != nil {
		return fmt.Errorf("state: clear phase: %w", err)
	}
	return nil
}

// HistoryEntry is one completed migration.
type HistoryEntry struct {
	Name          string    `json:"name"`
	Checksum      string    `json:"checksum"`
	VersionSchema string    `json:"version_schema"`
	StartedAt     time.Time `json:"started_at"`
	CompletedAt   time.Time `json:"completed_at"`
	ToolVersion   string    `json:"tool_version"`
}

// History lists the completed migrations of a managed schema in completion order.
func (s *Store) History(ctx context.Context, q Querier, schema string) ([]HistoryEntry, error) {
	rows, err := q.Query(ctx, `SELECT name, checksum, version_schema, started_at, completed_at, tool_version
		FROM `+s.t("history")+` WHERE schema_name = $1 ORDER BY completed_at, name`, schema)
	if err != nil {
		return nil, fmt.Errorf("state: read history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		err := r.Scan(&h.Name, &h.Checksum, &h.VersionSchema, &h.StartedAt, &h.CompletedAt, &h.ToolVersion)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("state: read history: %w", err)
	}
	// Migrations completed together share completed_at: within a phase
	// they come in the natural order of their names.
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CompletedAt.Equal(out[j].CompletedAt) {
			return out[i].CompletedAt.Before(out[j].CompletedAt)
		}
		return natural.Less(out[i].Name, out[j].Name)
	})
	return out, nil
}

// Checkpoint returns the checkpoint of a backfill step, or nil.
func (s *Store) Checkpoint(ctx context.Context, q Querier, schema, step string) (*backfill.Checkpoint, error) {
	c := backfill.Checkpoint{Step: step}
	var last, upper []byte
	err := q.QueryRow(ctx, `SELECT table_name, last_key, upper_key, rows_done, rows_estimate, size_before, done, started_at, updated_at
		FROM `+s.t("backfill")+` WHERE schema_name = $1 AND step = $2`, schema, step).Scan(
		&c.Table, &last, &upper, &c.RowsDone, &c.RowsEstimate, &c.SizeBefore, &c.Done, &c.StartedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: read checkpoint: %w", err)
	}
	if last != nil {
		if err := json.Unmarshal(last, &c.LastKey); err != nil {
			return nil, fmt.Errorf("state: decode checkpoint: %w", err)
		}
	}
	if upper != nil {
		if err := json.Unmarshal(upper, &c.UpperKey); err != nil {
			return nil, fmt.Errorf("state: decode checkpoint: %w", err)
		}
	}
	return &c, nil
}

// Checkpoints lists every backfill checkpoint of a managed schema.
func (s *Store) Checkpoints(ctx context.Context, q Querier, schema string) ([]backfill.Checkpoint, error) {
	rows, err := q.Query(ctx, `SELECT step FROM `+s.t("backfill")+` WHERE schema_name = $1 ORDER BY started_at, step`, schema)
	if err != nil {
		return nil, fmt.Errorf("state: list checkpoints: %w", err)
	}
	steps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("state: list checkpoints: %w", err)
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
	var last, upper []byte
	var err error
	if c.LastKey != nil {
		if last, err = json.Marshal(c.LastKey); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	if c.UpperKey != nil {
		if upper, err = json.Marshal(c.UpperKey); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	_, err = q.Exec(ctx, `INSERT INTO `+s.t("backfill")+` AS b (schema_name, step, table_name, last_key, upper_key,
			rows_done, rows_estimate, size_before, done) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (schema_name, step) DO UPDATE SET last_key = EXCLUDED.last_key, upper_key = EXCLUDED.upper_key,
			rows_done = EXCLUDED.rows_done, rows_estimate = EXCLUDED.rows_estimate, done = EXCLUDED.done,
			updated_at = now()`,
		schema, c.Step, c.Table, last, upper, c.RowsDone, c.RowsEstimate, c.SizeBefore, c.Done)
	if err != nil {
		return fmt.Errorf("state: save checkpoint: %w", err)
	}
	return nil
}
