package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// Status is the state of migrations in one managed schema. Its JSON form is
// part of strata's command-line contract.
type Status struct {
	State           string   `json:"state"`           // "idle" or "in_progress"
	Phase           string   `json:"phase,omitempty"` // starting, started, completing, aborting
	Schema          string   `json:"schema"`
	LatestCompleted *string  `json:"latest_completed"`
	InProgress      []string `json:"in_progress"`
	Pending         []string `json:"pending"`
	VersionSchema   string   `json:"version_schema,omitempty"`
	PreviousSchema  string   `json:"previous_schema,omitempty"`
	// SearchPath is what clients of the newest version set:
	// "<version schema>, <managed schema>" (see SearchPath).
	SearchPath string `json:"search_path,omitempty"`
	// OldSearchPath, during a phase, is the old version's.
	OldSearchPath string     `json:"old_search_path,omitempty"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	// Throttle, during a phase, is the backfill settings it runs with
	// (nil when an older release started it).
	Throttle  *Throttle        `json:"throttle,omitempty"`
	Backfills []BackfillStatus `json:"backfills"`
	// Changed lists completed migrations whose file no longer matches the
	// recorded checksum.
	Changed []string `json:"changed"`
	// Missing lists completed migrations whose file is not in the folder.
	Missing []string `json:"missing"`
}

// BackfillStatus is the progress of one table's backfill.
type BackfillStatus struct {
	Table        string `json:"table"`
	RowsDone     int64  `json:"rows_done"`
	RowsEstimate int64  `json:"rows_estimate"`
	// RowsPerSecond is the rate of the current (or last) run only, as
	// backfill.RunRate computes it for progress lines too.
	RowsPerSecond float64 `json:"rows_per_second"`
	ETASeconds    float64 `json:"eta_seconds"`
	Workers       int     `json:"workers"`
	SizeBefore    int64   `json:"size_before_bytes"`
	// SizeNow is the table's size (pg_table_size) now; ExpectedExtra the
	// growth expected with space reuse by the end of the backfill.
	SizeNow       int64     `json:"size_now_bytes"`
	ExpectedExtra int64     `json:"expected_extra_bytes"`
	Done          bool      `json:"done"`
	StartedAt     time.Time `json:"started_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Status reports the state of the database against the given migrations.
// It takes no lock and changes nothing.
func (m *Migrator) Status(ctx context.Context, migs []*migration.Migration) (*Status, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := schemaExists(ctx, conn, m.opts.Schema); err != nil {
		return nil, err
	}
	st := &Status{State: "idle", Schema: m.opts.Schema, InProgress: []string{}, Pending: []string{},
		Backfills: []BackfillStatus{}, Changed: []string{}, Missing: []string{}}
	hist, err := m.history(ctx, conn)
	if err != nil {
		return nil, err
	}
	sum := map[string]string{}
	for _, h := range hist {
		sum[h.Name] = h.Checksum
	}
	if len(hist) > 0 {
		n := hist[len(hist)-1].Name
		st.LatestCompleted = &n
	}
	inFolder := map[string]bool{}
	for _, mg := range migs {
		inFolder[mg.Name] = true
		if c, ok := sum[mg.Name]; ok && c != mg.Checksum {
			st.Changed = append(st.Changed, mg.Name)
		}
	}
	for _, h := range hist {
		if !inFolder[h.Name] {
			st.Missing = append(st.Missing, h.Name)
		}
	}
	ph, err := m.phase(ctx, conn)
	if err != nil {
		return nil, err
	}
	inPhase := map[string]bool{}
	if ph != nil {
		st.State = "in_progress"
		st.Phase = ph.State
		st.InProgress = ph.Names()
		st.VersionSchema = ph.VersionSchema
		st.PreviousSchema = ph.PreviousSchema
		t := ph.StartedAt.UTC()
		st.StartedAt = &t
		if len(ph.Throttle) > 0 {
			var th Throttle
			if err := json.Unmarshal(ph.Throttle, &th); err != nil {
				return nil, fmt.Errorf("decode the phase's throttle settings: %w", err)
			}
			st.Throttle = &th
		}
		for _, n := range ph.Names() {
			inPhase[n] = true
		}
		cps, err := m.store.Checkpoints(ctx, conn, m.opts.Schema)
		if err != nil {
			return nil, err
		}
		// One entry per table: parallel workers have a checkpoint each.
		byTable := map[string]int{}
		tableCps := map[string][]backfill.Checkpoint{}
		for _, c := range cps {
			tableCps[c.Table] = append(tableCps[c.Table], c)
			i, ok := byTable[c.Table]
			if !ok {
				i = len(st.Backfills)
				byTable[c.Table] = i
				st.Backfills = append(st.Backfills, BackfillStatus{Table: c.Table, Done: true, StartedAt: c.StartedAt,
					SizeBefore: c.SizeBefore})
			}
			b := &st.Backfills[i]
			b.RowsDone += c.RowsDone
			b.RowsEstimate += c.RowsEstimate
			b.Done = b.Done && c.Done
			b.Workers++
			if c.StartedAt.Before(b.StartedAt) {
				b.StartedAt = c.StartedAt
			}
			if c.UpdatedAt.After(b.UpdatedAt) {
				b.UpdatedAt = c.UpdatedAt
			}
		}
		for i := range st.Backfills {
			b := &st.Backfills[i]
			b.StartedAt, b.UpdatedAt = b.StartedAt.UTC(), b.UpdatedAt.UTC()
			b.RowsPerSecond = backfill.RunRate(tableCps[b.Table])
			if !b.Done && b.RowsPerSecond > 0 && b.RowsEstimate > b.RowsDone {
				b.ETASeconds = float64(b.RowsEstimate-b.RowsDone) / b.RowsPerSecond
			}
			b.ExpectedExtra = backfill.ExpectedExtra(b.SizeBefore, m.vacuumFraction())
			if err := conn.QueryRow(ctx, `SELECT coalesce(pg_table_size(to_regclass($1)), 0)`,
				pgx.Identifier{m.opts.Schema, b.Table}.Sanitize()).Scan(&b.SizeNow); err != nil {
				return nil, fmt.Errorf("size of %s: %w", b.Table, err)
			}
		}
	} else {
		st.VersionSchema = latestSchema(hist)
	}
	if st.VersionSchema != "" {
		st.SearchPath = SearchPath(st.VersionSchema, st.Schema)
	}
	if ph != nil {
		st.OldSearchPath = SearchPath(st.PreviousSchema, st.Schema)
	}
	for _, mg := range migs {
		if _, ok := sum[mg.Name]; !ok && !inPhase[mg.Name] {
			st.Pending = append(st.Pending, mg.Name)
		}
	}
	return st, nil
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// SearchPath is the search_path value of a client of version schema vs of
// managed schema: "vs, managed" (just "managed" when vs is "", the base
// tables). A version schema holds views only for the tables whose shape
// differs in that version; every other name resolves to the managed
// schema's table, so both are needed. Names are quoted where they must be.
func SearchPath(vs, managed string) string {
	q := func(n string) string {
		if plainIdent.MatchString(n) {
			return n
		}
		return pgquery.Ident(n)
	}
	if vs == "" {
		return q(managed)
	}
	return q(vs) + ", " + q(managed)
}

// schemaExists returns an error naming schema, with the database's
// schemas, when it does not exist.
func schemaExists(ctx context.Context, conn *pgx.Conn, schema string) error {
	var exists bool
	var others []string
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1),
		coalesce((SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace
		  WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'), '{}')`, schema).Scan(&exists, &others)
	if err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
	if len(others) > 10 {
		others = append(others[:10], "...")
	}
	return fmt.Errorf("schema %q does not exist in this database\nhint: check --schema; the database has schemas %s", schema, strings.Join(others, ", "))
}
