package scenario

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
)

// createOneTable makes a scenario of one named table (no --follow) in one
// REPEATABLE READ transaction on conn, in at most four round trips
// whatever the table:
//
//  1. the transaction and its settings, the checks that read no state
//     table (the name's schema and role, the --member roles), the catalog
//     of the table and the server's check of its filter (EXPLAIN);
//  2. only when strata's state tables exist, the checks that read them
//     (a scenario of that name, a migration phase in progress, the latest
//     completed migration);
//  3. the record, the role and schema, the copy, its indexes, sequences,
//     change log and privileges;
//  4. the copy's record (its row count is the copy's command tag), COMMIT,
//     and the scenario read back as list shows it.
//
// Every refusal comes before anything is written; its snapshot is the
// transaction's (nothing is exported, no second connection is opened); a
// failure or a killed process leaves nothing behind. Lock timeouts retry
// the whole transaction.
func (m *Manager) createOneTable(ctx context.Context, conn *pgx.Conn, spec CreateSpec, obj string) (*CreateResult, error) {
	var res *CreateResult
	var rows int64
	err := m.exec.RetryOn(ctx, conn, func() error {
		var err error
		res, rows, err = m.createOneTableTx(ctx, conn, spec, obj)
		if err != nil && !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	m.logf("copied %s: %d rows", spec.Tables[0], rows)
	if m.opts.AfterCopy != nil {
		m.opts.AfterCopy(spec.Tables[0])
	}
	return res, nil
}

// checks1 is what the first round trip of createOneTable reads.
type checks1 struct {
	haveMeta, havePhase, haveHistory bool // strata's state tables exist
	stateSchema                      bool // the state schema exists
	schemaUsed, roleUsed             bool // the scenario's schema or role exists
	missingMember                    string
	snap                             string // pg_current_snapshot()
	cat                              *catalog
	filterErr                        error // the server's refusal of the filter
}

func (m *Manager) createOneTableTx(ctx context.Context, conn *pgx.Conn, spec CreateSpec, obj string) (*CreateResult, int64, error) {
	table := spec.Tables[0]
	flag, expr := "--where", spec.Where
	if e, ok := spec.TableWhere[table]; ok {
		flag, expr = "--table-where", e
	}
	var parseErr error
	if expr != "" {
		parseErr = parseFilter(flag, table, expr)
	}
	c, err := m.createChecks(ctx, conn, spec, obj, table, expr != "" && parseErr == nil, expr)
	if err != nil {
		return nil, 0, err
	}
	if pgexec.Retryable(c.filterErr) {
		return nil, 0, fmt.Errorf("scenario: check the filter of %s: %w", table, c.filterErr)
	}
	// Round trip 2: the checks that read strata's state tables.
	var nameUsed bool
	var phase, versionSchema string
	var parent *string
	if c.haveMeta || c.havePhase || c.haveHistory {
		if nameUsed, phase, parent, versionSchema, err = m.stateChecks(ctx, conn, spec.Name, obj, c); err != nil {
			return nil, 0, err
		}
	}
	// The refusals, in the order of the other commands' checks.
	if phase != "" {
		return nil, 0, m.phaseError(spec.Name, phase)
	}
	if err := nameInUse(spec.Name, obj, nameUsed, c.schemaUsed, c.roleUsed); err != nil {
		return nil, 0, err
	}
	if c.missingMember != "" {
		return nil, 0, memberError(c.missingMember)
	}
	tables, _, err := m.planTablesWith(c.cat, spec, func(flag, table, expr string) error {
		if parseErr != nil {
			return parseErr
		}
		if c.filterErr != nil {
			return filterError(flag, table, expr, c.filterErr)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	p := tables[0]
	sc := &Scenario{Name: spec.Name, Schema: obj, Role: obj, BaseSchema: m.opts.Schema, State: StateReady, ParentState: parent,
		Logged: spec.Logged, CopyXID: c.snap}
	if spec.Where != "" {
		sc.Where = &spec.Where
	}
	res := &CreateResult{Cycles: [][]string{}, Enter: m.enter(sc)}

	// Round trip 3: everything the scenario is made of. The scenario is
	// recorded ready with the transaction's snapshot: nothing sees it
	// before the commit.
	m.logf("copying 1 table(s) under snapshot %s, 1 at a time", c.snap)
	t := p.info
	copied := map[string]bool{t.Name: true}
	b := &pgx.Batch{}
	var labels []string
	queue := func(label, sql string, args ...any) {
		b.Queue(sql, args...)
		labels = append(labels, label)
	}
	if !c.haveMeta {
		for _, s := range m.metaSQL(c.stateSchema) {
			queue("scenario: install metadata tables", s)
		}
	}
	queue("scenario: record "+sc.Name, `INSERT INTO `+m.st("scenario")+` (name, schema_name, role_name, base_schema, state, parent_state, where_expr, logged, copy_snapshot)
		VALUES ($1::text, $2::text, $3::text, $4::text, 'ready', $5::text, $6::text, $7::boolean, $8::text)`,
		sc.Name, sc.Schema, sc.Role, sc.BaseSchema, sc.ParentState, sc.Where, sc.Logged, sc.CopyXID)
	for _, s := range m.objectsSQL(sc, spec.Members, versionSchema) {
		queue("scenario create "+sc.Name+": make the role and schema "+sc.Schema, s)
	}
	copyOf := "scenario create " + sc.Name + ": copy " + t.Name + ": "
	for _, s := range m.createCopySQL(sc, t) {
		queue(copyOf+"create the copy", s)
	}
	copyAt := len(labels)
	queue(copyOf+"copy the rows", m.copySQL(sc, p))
	for _, s := range m.indexSQL(sc, t) {
		queue(copyOf+"build the indexes", s)
	}
	for _, col := range t.Cols {
		if col.Identity || col.SerialSeq != "" {
			q, args := m.sequenceSQL(sc, t, col)
			queue(copyOf+"set the sequence of "+t.Name+"."+col.Name, q, args...)
		}
	}
	for _, s := range m.attachSQL(sc, p, c.cat, copied, m.grantBaseSQL(sc, copied)) {
		queue("scenario "+sc.Name+": foreign keys, change log and privileges of "+t.Name, s)
	}
	var rows int64
	err = m.runBatch(ctx, conn, b, labels, func(i int, tag int64) {
		if i == copyAt {
			rows = tag
		}
	})
	if err != nil {
		return nil, 0, err
	}

	// Round trip 4: the copy's record, COMMIT, and the scenario read back
	// as list shows it (its change log is empty).
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO `+m.st("scenario_table")+` (scenario, table_name, position, filter, via, log_table, rows_copied, copy_snapshot)
		VALUES ($1::text, $2::text, $8::int, $3::text, nullif($4::text, ''), $5::text, $6::bigint, $7::text)`,
		sc.Name, t.Name, p.filter, p.via, p.log, rows, sc.CopyXID, p.pos)
	b.Queue("COMMIT")
	m.queueLoad(b, []string{sc.Name}, loadSizes)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, 0, fmt.Errorf("scenario create %s: record the copy of %s: %w", sc.Name, t.Name, err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, 0, fmt.Errorf("scenario create %s: commit: %w", sc.Name, err)
	}
	all, err := m.readLoad(br)
	if err == nil && len(all) != 1 {
		err = fmt.Errorf("scenario create %s: not found after creating it", sc.Name)
	}
	if err != nil {
		// Committed: the scenario exists. Only reading it back failed.
		return nil, 0, pgexec.Permanent(err)
	}
	if err := br.Close(); err != nil {
		return nil, 0, pgexec.Permanent(fmt.Errorf("scenario create %s: %w", sc.Name, err))
	}
	res.Scenario = all[0]
	return res, rows, nil
}

// createChecks is createOneTable's first round trip: BEGIN, the settings,
// the checks that read no state table, the catalog of table and, when
// explain, the server's check of the filter expr (under a savepoint: a
// refused filter leaves the transaction usable).
func (m *Manager) createChecks(ctx context.Context, conn *pgx.Conn, spec CreateSpec, obj, table string, explain bool, expr string) (*checks1, error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ")
	set := m.setLocalSQL()
	for _, s := range set {
		b.Queue(s)
	}
	b.Queue(`SELECT to_regclass($1::text) IS NOT NULL, to_regclass($2::text) IS NOT NULL, to_regclass($3::text) IS NOT NULL,
			EXISTS (SELECT FROM pg_namespace WHERE nspname = $4::text),
			EXISTS (SELECT FROM pg_namespace WHERE nspname = $5::text), EXISTS (SELECT FROM pg_roles WHERE rolname = $5::text),
			coalesce((SELECT r.name FROM unnest($6::text[]) WITH ORDINALITY r(name, i)
				WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) ORDER BY r.i LIMIT 1), ''),
			pg_current_snapshot()::text`,
		m.st("scenario_table"), m.st("phase"), m.st("history"), m.opts.StateSchema, obj, spec.Members)
	m.queueCatalog(b, "$2::text[]", []string{table}, true)
	if explain {
		b.Queue("SAVEPOINT strata_filter")
		b.Queue("EXPLAIN SELECT FROM " + pgquery.Qual(m.opts.Schema, table) + " WHERE (" + expr + ")")
		b.Queue("RELEASE SAVEPOINT strata_filter")
	}
	c := &checks1{}
	br := conn.SendBatch(ctx, b)
	err := func() error {
		for range 1 + len(set) {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
		}
		if err := br.QueryRow().Scan(&c.haveMeta, &c.havePhase, &c.haveHistory, &c.stateSchema, &c.schemaUsed, &c.roleUsed,
			&c.missingMember, &c.snap); err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		var err error
		if c.cat, err = m.readCatalogResults(br); err != nil {
			return err
		}
		if explain {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
			if _, err := br.Exec(); err != nil {
				c.filterErr = err
				return nil
			}
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
		}
		return nil
	}()
	cerr := br.Close()
	if err == nil && c.filterErr == nil && cerr != nil {
		err = fmt.Errorf("scenario: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	if c.filterErr != nil && !pgexec.Retryable(c.filterErr) {
		if _, err := conn.Exec(ctx, "ROLLBACK TO SAVEPOINT strata_filter"); err != nil {
			return nil, fmt.Errorf("scenario: %w", err)
		}
	}
	return c, nil
}

// stateChecks is createOneTable's second round trip: whether a scenario of
// that name (or schema) is recorded, the migration phase in progress ("" when
// none), and the latest completed migration with its version schema ("" when
// it is gone).
func (m *Manager) stateChecks(ctx context.Context, conn *pgx.Conn, name, obj string, c *checks1) (used bool, phase string, parent *string, versionSchema string, err error) {
	b := &pgx.Batch{}
	if c.haveMeta {
		b.Queue(`SELECT EXISTS (SELECT FROM `+m.st("scenario")+` WHERE name = $1::text OR schema_name = $2::text)`, name, obj)
	}
	if c.havePhase {
		b.Queue(`SELECT state || ' ' || migrations::text FROM `+m.st("phase")+` WHERE schema_name = $1::text`, m.opts.Schema)
	}
	if c.haveHistory {
		b.Queue(`SELECT name, coalesce(version_schema, ''), EXISTS (SELECT FROM pg_namespace WHERE nspname = version_schema) FROM `+m.st("history")+`
			WHERE schema_name = $1::text AND completed_at IS NOT NULL ORDER BY completed_at DESC, name DESC LIMIT 1`, m.opts.Schema)
	}
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if c.haveMeta {
		if err := br.QueryRow().Scan(&used); err != nil {
			return false, "", nil, "", fmt.Errorf("scenario: %w", err)
		}
	}
	if c.havePhase {
		if err := br.QueryRow().Scan(&phase); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, "", nil, "", fmt.Errorf("scenario: %w", err)
		}
	}
	if c.haveHistory {
		var n string
		var exists bool
		err := br.QueryRow().Scan(&n, &versionSchema, &exists)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return false, "", nil, "", fmt.Errorf("scenario: %w", err)
		default:
			parent = &n
			if !exists {
				versionSchema = ""
			}
		}
	}
	if err := br.Close(); err != nil {
		return false, "", nil, "", fmt.Errorf("scenario: %w", err)
	}
	return used, phase, parent, versionSchema, nil
}

// runBatch sends b, a pipeline of statements inside the transaction open
// on conn, and reads their results: the first error is returned wrapped
// in its statement's label; seen is told each statement's row count.
func (m *Manager) runBatch(ctx context.Context, conn *pgx.Conn, b *pgx.Batch, labels []string, seen func(i int, rows int64)) error {
	br := conn.SendBatch(ctx, b)
	for i := range labels {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", labels[i], err)
		}
		seen(i, tag.RowsAffected())
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	return nil
}
