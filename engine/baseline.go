package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/state"
)

// BaselineTools are the tools whose history Baseline reads.
var BaselineTools = []string{"goose", "golang-migrate", "flyway", "rails", "pgroll", "reshape"}

// ErrBaselineMismatch is returned by Baseline when the tool's history and
// the folder do not match; nothing was recorded.
var ErrBaselineMismatch = errors.New("the tool's history and the folder do not match")

// BaselineResult tells what Baseline found and recorded.
type BaselineResult struct {
	Tool     string   `json:"tool"`
	Recorded []string `json:"recorded"`
	// NotInFolder are versions (or names) the tool lists as applied that
	// no file of the folder has; NotApplied are files of the folder, before
	// the tool's latest applied one, that it does not list.
	NotInFolder []string `json:"not_in_folder"`
	NotApplied  []string `json:"not_applied"`
}

// toolHistory reads the versions (or, for pgroll and reshape, the names)
// a tool lists as applied, in the managed schema's search_path.
func toolHistory(ctx context.Context, conn pgx.Tx, tool string) ([]string, error) {
	var q, table string
	switch tool {
	case "goose":
		// The latest row of each version tells whether it is applied.
		table = "goose_db_version"
		q = `SELECT version_id::text FROM (SELECT DISTINCT ON (version_id) version_id, is_applied
			FROM goose_db_version ORDER BY version_id, id DESC) v WHERE is_applied AND version_id > 0`
	case "golang-migrate":
		table = "schema_migrations"
		var version int64
		var dirty bool
		if ok, err := hasTable(ctx, conn, table); err != nil || !ok {
			return nil, missingTable(tool, table, err)
		}
		err := conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("baseline: read golang-migrate's schema_migrations: %w", err)
		}
		if dirty {
			return nil, fmt.Errorf("baseline: golang-migrate's schema_migrations says version %d is dirty (a run failed half-way) (hint: fix the database and force the version with migrate force, then baseline)", version)
		}
		// golang-migrate keeps only the current version: every version up
		// to it is applied.
		return []string{"<=" + fmt.Sprint(version)}, nil
	case "flyway":
		// Table as flyway/flyway creates it on PostgreSQL:
		// flyway-core/src/main/resources/org/flywaydb/core/internal/database/postgresql/createMetaDataTable.sql.
		// Rows of repeatable migrations and the "<< Flyway Schema
		// Creation >>" marker (SchemaHistory.addSchemasMarker in
		// flyway-core/.../internal/schemahistory/SchemaHistory.java) have
		// no version; failed runs have success = false.
		table = "flyway_schema_history"
		q = `SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL ORDER BY installed_rank`
	case "rails":
		// Table as rails/rails creates it: ActiveRecord::SchemaMigration
		// #create_table (activerecord/lib/active_record/schema_migration.rb),
		// a string primary key "version" (no id column).
		table = "schema_migrations"
		q = `SELECT version::text FROM schema_migrations`
	case "pgroll":
		// Table as xataio/pgroll creates it: pkg/state/init.sql (schema
		// "pgroll" by default). Rows with migration_type 'inferred' are
		// DDL pgroll captured by its event trigger, with no file of
		// their own.
		table = "pgroll.migrations"
		q = `SELECT name FROM pgroll.migrations WHERE schema = current_schema() AND done
			AND migration_type IS DISTINCT FROM 'inferred' ORDER BY created_at`
	case "reshape":
		// fabianlindfors/reshape, src/state.rs: completed migrations are
		// rows of reshape.migrations (index identity, name, ...), in
		// order; reshape.data holds only the tool's state and version.
		table = "reshape.migrations"
		q = `SELECT name FROM reshape.migrations ORDER BY index`
	default:
		return nil, fmt.Errorf("baseline: unknown tool %q (hint: --from takes one of %s)", tool, strings.Join(BaselineTools, ", "))
	}
	if ok, err := hasTable(ctx, conn, table); err != nil || !ok {
		return nil, missingTable(tool, table, err)
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("baseline: read %s's %s: %w", tool, table, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("baseline: read %s's %s: %w", tool, table, err)
	}
	return out, nil
}

func hasTable(ctx context.Context, conn pgx.Tx, table string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok)
	return ok, err
}

func missingTable(tool, table string, err error) error {
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return fmt.Errorf("baseline: %s's history table %s is not in this database (hint: check --url and --schema)", tool, table)
}

// Baseline reads tool's history table and records the files of the folder
// it lists as applied, matched by version (by name for pgroll and
// reshape), without running them. When the two disagree nothing is
// recorded and the error wraps ErrBaselineMismatch, unless recordMatching.
func (m *Migrator) Baseline(ctx context.Context, migs []*migration.Migration, tool string, recordMatching bool) (*BaselineResult, error) {
	s, err := m.open(ctx, "baseline")
	if err != nil {
		return nil, err
	}
	defer s.close()
	ctx = s.ctx
	// The tool's table is looked up in the managed schema: InTx puts it
	// on the transaction's search_path.
	var applied []string
	err = m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		var err error
		applied, err = toolHistory(ctx, tx, tool)
		return err
	})
	if err != nil {
		return nil, err
	}
	byName := tool == "pgroll" || tool == "reshape"
	key := func(mg *migration.Migration) string {
		if byName {
			return mg.Name
		}
		return migration.FileVersion(mg.Name)
	}
	want := map[string]bool{}
	upTo := int64(-1)
	for _, a := range applied {
		if v, ok := strings.CutPrefix(a, "<="); ok {
			fmt.Sscan(v, &upTo)
			continue
		}
		if !byName {
			a = migration.FileVersion(a)
		}
		want[a] = true
	}
	if upTo >= 0 {
		for _, mg := range migs {
			var v int64
			if _, err := fmt.Sscan(key(mg), &v); err == nil && v <= upTo {
				want[key(mg)] = true
			}
		}
		if upTo > 0 {
			want[fmt.Sprint(upTo)] = true
		}
	}
	res := &BaselineResult{Tool: tool, Recorded: []string{}, NotInFolder: []string{}, NotApplied: []string{}}
	found := map[string]bool{}
	var rec []state.Applied
	lastMatched := -1
	for i, mg := range migs {
		if k := key(mg); k != "" && want[k] {
			found[k] = true
			rec = append(rec, state.Applied{Name: mg.Name, Kind: mg.Kind, Checksum: mg.Checksum})
			res.Recorded = append(res.Recorded, mg.Name)
			lastMatched = i
		}
	}
	for k := range want {
		if !found[k] {
			res.NotInFolder = append(res.NotInFolder, k)
		}
	}
	sort.Strings(res.NotInFolder)
	for i := 0; i < lastMatched; i++ {
		if k := key(migs[i]); !want[k] {
			res.NotApplied = append(res.NotApplied, migs[i].File)
		}
	}
	if (len(res.NotInFolder) > 0 || len(res.NotApplied) > 0) && !recordMatching {
		var why []string
		if len(res.NotInFolder) > 0 {
			why = append(why, fmt.Sprintf("%s lists %s as applied but no file of the folder has it", tool, strings.Join(res.NotInFolder, ", ")))
		}
		if len(res.NotApplied) > 0 {
			why = append(why, fmt.Sprintf("%s does not list %s", tool, strings.Join(res.NotApplied, ", ")))
		}
		return res, fmt.Errorf("%w: %s; nothing recorded (hint: fix the folder, or pass --record-matching to record the %d matching files)", ErrBaselineMismatch, strings.Join(why, "; "), len(rec))
	}
	err = m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		if err := s.st.Init(ctx, tx); err != nil {
			return err
		}
		if err := s.claim(tx); err != nil {
			return err
		}
		return s.st.RecordApplied(ctx, tx, m.opts.Schema, "baseline --from "+tool, Version, rec)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
