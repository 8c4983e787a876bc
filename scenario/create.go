package scenario

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
)

// CreateSpec is what strata scenario create was asked for.
type CreateSpec struct {
	Name       string
	Tables     []string          // --table, in order
	Where      string            // --where: the filter of every --table ("" = all rows)
	TableWhere map[string]string // --table-where T=EXPR
	Follow     bool              // --follow
	Members    []string          // --member
	Logged     bool              // --logged
}

// CreateResult tells what create did.
type CreateResult struct {
	Scenario *Scenario `json:"scenario"`
	// Cycles are the foreign-key cycles --follow broke: each a path of
	// tables, child first, ending where it started.
	Cycles [][]string `json:"cycles"`
	// Enter is how the application enters and leaves the scenario.
	Enter []string `json:"enter"`
}

// planned is one table to copy: its info and filter.
type planned struct {
	info   *tableInfo
	filter *string
	via    string
	log    string
	pos    int
}

// Create makes a scenario: validates everything, then creates the role and
// the schema, copies the tables under one exported snapshot (Parallel at a
// time), and installs the change logs. A failure after the first change
// removes everything again; a process killed half-way leaves a scenario in
// state "creating" that drop clears.
func (m *Manager) Create(ctx context.Context, spec CreateSpec) (*CreateResult, error) {
	if err := checkName(spec.Name, m.opts.Prefix); err != nil {
		return nil, err
	}
	if len(spec.Tables) == 0 {
		return nil, &InputError{Flag: "--table", Msg: "no table given", Hint: "name the tables the scenario changes with --table"}
	}
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	obj := m.opts.Prefix + spec.Name
	if len(spec.Tables) == 1 && !spec.Follow {
		return m.createOneTable(ctx, conn, spec, obj)
	}
	var tables []*planned
	var cycles [][]string
	var cat *catalog
	var parent *string
	var versionSchema string
	var haveMeta bool
	err = m.readTx(ctx, conn, func(tx pgx.Tx) error {
		if ph, err := m.phaseInProgress(ctx, tx); err != nil {
			return err
		} else if ph != "" {
			return m.phaseError(spec.Name, ph)
		}
		if haveMeta, err = m.checkFree(ctx, tx, spec.Name, obj); err != nil {
			return err
		}
		for _, r := range spec.Members {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, r).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return memberError(r)
			}
		}
		// --follow looks for referencing tables everywhere; otherwise only
		// the named tables are read.
		var only []string
		if !spec.Follow {
			only = append([]string{}, spec.Tables...)
		}
		if cat, err = m.readCatalogOf(ctx, tx, only); err != nil {
			return err
		}
		if tables, cycles, err = m.planTables(ctx, tx, cat, spec); err != nil {
			return err
		}
		parent, versionSchema, err = m.parentState(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	sc := &Scenario{Name: spec.Name, Schema: obj, Role: obj, BaseSchema: m.opts.Schema, State: StateCreating, ParentState: parent, Logged: spec.Logged}
	if spec.Where != "" {
		sc.Where = &spec.Where
	}
	res := &CreateResult{Cycles: cycles, Enter: m.enter(sc)}
	if res.Cycles == nil {
		res.Cycles = [][]string{}
	}
	if len(tables) == 1 {
		// One table: everything in one transaction on this connection.
		if res.Scenario, err = m.createOne(ctx, conn, sc, tables[0], spec.Members, versionSchema, cat, haveMeta); err != nil {
			return nil, err
		}
		return res, nil
	}
	// From here on, a failure removes what was made.
	if err := m.createObjects(ctx, conn, sc, spec.Members, versionSchema, haveMeta); err != nil {
		return nil, m.undo(ctx, conn, sc, err)
	}
	snap, err := m.copyAll(ctx, conn, sc, tables)
	if err != nil {
		return nil, m.undo(ctx, conn, sc, err)
	}
	sc.CopyXID = snap
	if err := m.finish(ctx, conn, sc, tables, cat, versionSchema); err != nil {
		return nil, m.undo(ctx, conn, sc, err)
	}
	err = m.readTx(ctx, conn, func(tx pgx.Tx) error {
		res.Scenario, err = m.mustLoad(ctx, tx, spec.Name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// enter is how the application enters and leaves a scenario.
func (m *Manager) enter(sc *Scenario) []string {
	return []string{
		"-- the application connects with: search_path = \"$user\", " + pgquery.Ident(m.opts.Schema),
		"SET ROLE " + pgquery.Ident(sc.Role) + ";          -- enter the scenario (behind a transaction pooler: SET LOCAL ROLE " + pgquery.Ident(sc.Role) + " in each transaction)",
		"RESET ROLE;                  -- leave it",
	}
}

// checkFree refuses a name whose metadata, schema or role exists, and
// says whether the metadata tables are installed.
func (m *Manager) checkFree(ctx context.Context, q querier, name, obj string) (bool, error) {
	var meta, schema, role bool
	ok, err := m.metaInstalled(ctx, q)
	if err != nil {
		return false, err
	}
	if ok {
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+m.st("scenario")+` WHERE name = $1 OR schema_name = $2)`, name, obj).Scan(&meta); err != nil {
			return false, err
		}
	}
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1), EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, obj).Scan(&schema, &role); err != nil {
		return false, err
	}
	return ok, nameInUse(name, obj, meta, schema, role)
}

// nameInUse refuses a name whose metadata (meta), schema or role exists.
func nameInUse(name, obj string, meta, schema, role bool) error {
	switch {
	case meta:
		return &InputError{Flag: "NAME", Msg: fmt.Sprintf("scenario %q exists already", name), Hint: "choose another name, or drop it first with strata scenario drop " + name}
	case schema:
		return &InputError{Flag: "NAME", Msg: fmt.Sprintf("a schema named %q exists already (not a scenario)", obj), Hint: "choose another name or --prefix"}
	case role:
		return &InputError{Flag: "NAME", Msg: fmt.Sprintf("a role named %q exists already (not a scenario of this database)", obj), Hint: "choose another name or --prefix"}
	}
	return nil
}

// phaseError refuses a scenario while a migration phase is in progress.
func (m *Manager) phaseError(name, phase string) error {
	return fmt.Errorf("scenario create %s: a migration phase is in progress in schema %s (%s)\nhint: a scenario branches from the latest completed shape: run strata complete or strata abort first", name, m.opts.Schema, phase)
}

// memberError refuses a --member role that does not exist.
func memberError(role string) error {
	return &InputError{Flag: "--member", Msg: fmt.Sprintf("role %q does not exist", role), Hint: "create the application's login role first (docs/scenarios.md), or leave --member out and GRANT the scenario role later"}
}

// planTables resolves --table, --where, --table-where and --follow into
// the tables to copy with their filters, each filter checked against its
// table by the server (EXPLAIN, which runs nothing).
func (m *Manager) planTables(ctx context.Context, q querier, cat *catalog, spec CreateSpec) ([]*planned, [][]string, error) {
	return m.planTablesWith(cat, spec, func(flag, table, expr string) error { return m.checkFilter(ctx, q, flag, table, expr) })
}

// planTablesWith is planTables with the filter check check.
func (m *Manager) planTablesWith(cat *catalog, spec CreateSpec, check func(flag, table, expr string) error) ([]*planned, [][]string, error) {
	var out []*planned
	seen := map[string]bool{}
	for _, name := range spec.Tables {
		t := cat.tables[name]
		if t == nil {
			return nil, nil, &InputError{Flag: "--table", Msg: fmt.Sprintf("no table %q in schema %q", name, m.opts.Schema), Hint: "name a table of the managed schema (--schema)"}
		}
		if seen[name] {
			return nil, nil, &InputError{Flag: "--table", Msg: fmt.Sprintf("table %q is given twice", name)}
		}
		if len(t.Key) == 0 {
			return nil, nil, &InputError{Flag: "--table", Msg: fmt.Sprintf("table %q has no primary key", name), Hint: "a scenario compares and promotes rows by primary key; add one first"}
		}
		seen[name] = true
		p := &planned{info: t}
		flag, expr := "--where", spec.Where
		if e, ok := spec.TableWhere[name]; ok {
			flag, expr = "--table-where", e
		}
		if expr != "" {
			if err := check(flag, name, expr); err != nil {
				return nil, nil, err
			}
			p.filter = &expr
		}
		out = append(out, p)
	}
	for name := range spec.TableWhere {
		if !seen[name] {
			return nil, nil, &InputError{Flag: "--table-where", Msg: fmt.Sprintf("table %q is not one of the --table tables", name), Hint: "give it with --table too"}
		}
	}
	var cycles [][]string
	if spec.Follow {
		fol, cyc, err := follow(out, cat, m.opts.Schema)
		if err != nil {
			return nil, nil, err
		}
		cycles = cyc
		for _, p := range fol {
			if err := check("--follow", p.info.Name, *p.filter); err != nil {
				return nil, nil, err
			}
		}
		out = append(out, fol...)
	}
	for i, p := range out {
		p.log = pgquery.InternalName(fmt.Sprintf("_strata_log%d_", i), p.info.Name)
		p.pos = i
	}
	return out, cycles, nil
}

// checkFilter refuses a filter that does not parse as one expression or
// that the server rejects for the table (a missing column, not boolean).
func (m *Manager) checkFilter(ctx context.Context, q querier, flag, table, expr string) error {
	if err := parseFilter(flag, table, expr); err != nil {
		return err
	}
	_, err := q.Exec(ctx, "SAVEPOINT strata_filter")
	if err == nil {
		_, err = q.Exec(ctx, "EXPLAIN SELECT FROM "+pgquery.Qual(m.opts.Schema, table)+" WHERE ("+expr+")")
		if err != nil {
			if _, rerr := q.Exec(ctx, "ROLLBACK TO SAVEPOINT strata_filter"); rerr != nil {
				return rerr
			}
			return filterError(flag, table, expr, err)
		}
	}
	if err != nil {
		return err
	}
	return nil
}

// parseFilter refuses a filter that does not parse as one expression.
func parseFilter(flag, table, expr string) error {
	if _, err := pgquery.ParseExpr(expr); err != nil {
		return &InputError{Flag: flag, Msg: fmt.Sprintf("filter %q of table %q does not parse: %v", expr, table, strings.TrimPrefix(err.Error(), "pgquery: ")),
			Hint: "write one boolean SQL expression over the table's row, e.g. tenant_id = 42"}
	}
	return nil
}

// filterError is the refusal of a filter the server rejected with err.
func filterError(flag, table, expr string, err error) error {
	return &InputError{Flag: flag, Msg: fmt.Sprintf("filter %q of table %q: %s", expr, table, pgexec.Message(err)),
		Hint: "write one boolean SQL expression over the columns of " + table}
}

// createObjects records the scenario (state creating) and makes its role
// and schema, in one transaction.
func (m *Manager) createObjects(ctx context.Context, conn *pgx.Conn, sc *Scenario, members []string, versionSchema string, haveMeta bool) error {
	return m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		return m.makeObjects(ctx, tx, sc, members, versionSchema, haveMeta)
	})
}

// makeObjects records the scenario (in state sc.State; when ready, with
// the transaction's snapshot as its copy snapshot, stored in sc.CopyXID)
// and makes its role and schema in tx: one statement for the record, one
// batch for the objects.
func (m *Manager) makeObjects(ctx context.Context, tx pgx.Tx, sc *Scenario, members []string, versionSchema string, haveMeta bool) error {
	if !haveMeta {
		if err := m.ensureMeta(ctx, tx); err != nil {
			return err
		}
	}
	var snap *string
	if err := tx.QueryRow(ctx, `INSERT INTO `+m.st("scenario")+` (name, schema_name, role_name, base_schema, state, parent_state, where_expr, logged, copy_snapshot)
		VALUES ($1, $2, $3, $4, $8, $5, $6, $7, CASE WHEN $8 = 'ready' THEN pg_current_snapshot()::text END) RETURNING copy_snapshot`,
		sc.Name, sc.Schema, sc.Role, sc.BaseSchema, sc.ParentState, sc.Where, sc.Logged, sc.State).Scan(&snap); err != nil {
		return fmt.Errorf("record %s: %w", sc.Name, err)
	}
	if snap != nil {
		sc.CopyXID = *snap
	}
	if _, err := tx.Exec(ctx, strings.Join(m.objectsSQL(sc, members, versionSchema), ";\n")); err != nil {
		return fmt.Errorf("scenario create %s: make the role and schema %s: %w", sc.Name, sc.Schema, err)
	}
	return nil
}

// objectsSQL makes a scenario's role and schema, with the role's grants.
func (m *Manager) objectsSQL(sc *Scenario, members []string, versionSchema string) []string {
	role, schema := pgquery.Ident(sc.Role), pgquery.Ident(sc.Schema)
	stmts := []string{
		"CREATE ROLE " + role + " NOLOGIN",
		"COMMENT ON ROLE " + role + " IS " + pgquery.Literal("strata scenario "+sc.Name+": SET ROLE to enter it, RESET ROLE to leave"),
		"CREATE SCHEMA " + schema,
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT USAGE ON SCHEMA " + pgquery.Ident(m.opts.Schema) + " TO " + role,
	}
	if versionSchema != "" {
		stmts = append(stmts, "GRANT USAGE ON SCHEMA "+pgquery.Ident(versionSchema)+" TO "+role,
			"GRANT SELECT ON ALL TABLES IN SCHEMA "+pgquery.Ident(versionSchema)+" TO "+role)
	}
	for _, mem := range members {
		stmts = append(stmts, "GRANT "+role+" TO "+pgquery.Ident(mem))
	}
	return stmts
}

// copyAll copies the tables under one exported snapshot, Parallel at a
// time, and returns the snapshot (pg_current_snapshot()).
func (m *Manager) copyAll(ctx context.Context, conn *pgx.Conn, sc *Scenario, tables []*planned) (string, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return "", err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapID, snap string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot(), pg_current_snapshot()::text`).Scan(&snapID, &snap); err != nil {
		return "", fmt.Errorf("export a snapshot: %w", err)
	}
	m.logf("copying %d table(s) under snapshot %s, %d at a time", len(tables), snap, m.opts.Parallel)
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *planned)
	var mu sync.Mutex
	for w := 0; w < min(m.opts.Parallel, len(tables)); w++ {
		g.Go(func() error {
			wc, err := m.connect(gctx)
			if err != nil {
				return err
			}
			defer wc.Close(context.Background())
			for p := range work {
				var rows int64
				err := m.exec.Retry(gctx, func() error {
					var err error
					rows, err = m.copyTable(gctx, wc, sc, p, snapID, snap)
					return err
				}, nil)
				if err != nil {
					return fmt.Errorf("scenario create %s: copy %s: %w", sc.Name, p.info.Name, err)
				}
				mu.Lock()
				m.logf("copied %s: %d rows", p.info.Name, rows)
				mu.Unlock()
				if m.opts.AfterCopy != nil {
					m.opts.AfterCopy(p.info.Name)
				}
			}
			return nil
		})
	}
	go func() {
		defer close(work)
		for _, p := range tables {
			select {
			case work <- p:
			case <-gctx.Done():
				return
			}
		}
	}()
	if err := g.Wait(); err != nil {
		return "", err
	}
	return snap, nil
}

// setLocal is the settings of strata's own transactions.
func (m *Manager) setLocal() string { return strings.Join(m.setLocalSQL(), "; ") }

// setLocalSQL is setLocal's statements, one by one.
func (m *Manager) setLocalSQL() []string {
	return []string{"SET LOCAL lock_timeout = '" + pgexec.Millis(m.exec.LockTimeout) + "'", "SET LOCAL statement_timeout = 0",
		"SET LOCAL idle_in_transaction_session_timeout = 0", "SET LOCAL search_path = " + pgquery.Ident(m.opts.Schema)}
}

// copyTable creates one copy, fills it under the snapshot, builds its
// indexes and records it, in one transaction.
func (m *Manager) copyTable(ctx context.Context, conn *pgx.Conn, sc *Scenario, p *planned, snapID, snap string) (int64, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if snapID != "" {
		if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+pgquery.Literal(snapID)); err != nil {
			return 0, fmt.Errorf("import the snapshot: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, m.setLocal()); err != nil {
		return 0, err
	}
	rows, err := m.fill(ctx, tx, sc, p, true)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+m.st("scenario_table")+` (scenario, table_name, position, filter, via, log_table, rows_copied, copy_snapshot)
		VALUES ($1, $2, $8, $3, nullif($4, ''), $5, $6, $7)`,
		sc.Name, p.info.Name, p.filter, p.via, p.log, rows, snap, p.pos); err != nil {
		return 0, fmt.Errorf("record the copy: %w", err)
	}
	return rows, tx.Commit(ctx)
}

// fill creates (when create) and fills the copy of p, then builds its
// indexes and sets its sequences past the copied and the base values.
func (m *Manager) fill(ctx context.Context, tx pgx.Tx, sc *Scenario, p *planned, create bool) (int64, error) {
	t := p.info
	if create {
		if _, err := tx.Exec(ctx, strings.Join(m.createCopySQL(sc, t), ";\n")); err != nil {
			return 0, fmt.Errorf("create the copy: %w", err)
		}
	}
	tag, err := tx.Exec(ctx, m.copySQL(sc, p))
	if err != nil {
		return 0, fmt.Errorf("copy the rows: %w", err)
	}
	if create && len(t.Indexes) > 0 {
		if _, err := tx.Exec(ctx, strings.Join(m.indexSQL(sc, t), ";\n")); err != nil {
			return 0, fmt.Errorf("build the indexes: %w", err)
		}
	}
	if err := m.setSequences(ctx, tx, sc, t); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// createCopySQL creates the (empty) copy of t, with its own sequences for
// serial columns.
func (m *Manager) createCopySQL(sc *Scenario, t *tableInfo) []string {
	base := pgquery.Qual(sc.BaseSchema, t.Name)
	cp := pgquery.Qual(sc.Schema, t.Name)
	unlogged := "UNLOGGED "
	if sc.Logged {
		unlogged = ""
	}
	stmts := []string{"CREATE " + unlogged + "TABLE " + cp + " (LIKE " + base + " INCLUDING ALL EXCLUDING INDEXES)"}
	for _, c := range t.Cols {
		if c.SerialSeq != "" {
			seq := pgquery.Qual(sc.Schema, c.SeqName)
			stmts = append(stmts, "CREATE SEQUENCE "+seq+" OWNED BY "+cp+"."+pgquery.Ident(c.Name),
				"ALTER TABLE "+cp+" ALTER COLUMN "+pgquery.Ident(c.Name)+" SET DEFAULT nextval("+pgquery.Literal(seq)+"::regclass)")
		}
	}
	return stmts
}

// copySQL copies the rows of p's filter into its copy.
func (m *Manager) copySQL(sc *Scenario, p *planned) string {
	t := p.info
	cols := pgquery.IdentList(t.writable())
	ins := "INSERT INTO " + pgquery.Qual(sc.Schema, t.Name) + " (" + cols + ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM " + pgquery.Qual(sc.BaseSchema, t.Name)
	if p.filter != nil {
		ins += " WHERE (" + *p.filter + ")"
	}
	return ins
}

// indexSQL builds the indexes (and the constraints they back) of t's copy.
func (m *Manager) indexSQL(sc *Scenario, t *tableInfo) []string {
	cp := pgquery.Qual(sc.Schema, t.Name)
	idx := make([]string, len(t.Indexes))
	for i, f := range t.Indexes {
		idx[i] = fmt.Sprintf(f, cp)
	}
	return idx
}

// setSequences moves the copy's sequences past the copied maximum and the
// base sequence's value.
func (m *Manager) setSequences(ctx context.Context, tx pgx.Tx, sc *Scenario, t *tableInfo) error {
	for _, c := range t.Cols {
		if !c.Identity && c.SerialSeq == "" {
			continue
		}
		q, args := m.sequenceSQL(sc, t, c)
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("set the sequence of %s.%s: %w", t.Name, c.Name, err)
		}
	}
	return nil
}

// sequenceSQL moves the sequence of column c of t's copy past the copied
// maximum and the base sequence's value.
func (m *Manager) sequenceSQL(sc *Scenario, t *tableInfo, c column) (string, []any) {
	base := pgquery.Qual(sc.BaseSchema, t.Name)
	cp := pgquery.Qual(sc.Schema, t.Name)
	return `SELECT setval(pg_get_serial_sequence($1::text, $2::text), greatest(
				coalesce((SELECT max(` + pgquery.Ident(c.Name) + `)::bigint FROM ` + cp + `), 0),
				coalesce(pg_sequence_last_value(pg_get_serial_sequence($3::text, $2::text)::regclass), 0), 1))`,
		[]any{cp, c.Name, base}
}

// finish adds the foreign keys, the change logs and the grants, and marks
// the scenario ready, in one transaction.
func (m *Manager) finish(ctx context.Context, conn *pgx.Conn, sc *Scenario, tables []*planned, cat *catalog, versionSchema string) error {
	copied := map[string]bool{}
	for _, p := range tables {
		copied[p.info.Name] = true
	}
	return m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		return m.finishTx(ctx, tx, sc, tables, cat, copied, true)
	})
}

// finishTx is finish's work in tx; markReady also sets the state.
func (m *Manager) finishTx(ctx context.Context, tx pgx.Tx, sc *Scenario, tables []*planned, cat *catalog, copied map[string]bool, markReady bool) error {
	for i, p := range tables {
		var more []string
		if i == len(tables)-1 {
			more = m.grantBaseSQL(sc, copied)
		}
		if err := m.attach(ctx, tx, sc, p, cat, copied, more); err != nil {
			return err
		}
	}
	if !markReady {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE `+m.st("scenario")+` SET state = 'ready', copy_snapshot = $2 WHERE name = $1`, sc.Name, sc.CopyXID)
	return err
}

// attach gives a filled copy its foreign keys, its change log and the
// scenario role's privileges, in one batch with the statements more.
func (m *Manager) attach(ctx context.Context, tx pgx.Tx, sc *Scenario, p *planned, cat *catalog, copied map[string]bool, more []string) error {
	if _, err := tx.Exec(ctx, strings.Join(m.attachSQL(sc, p, cat, copied, more), ";\n")); err != nil {
		return fmt.Errorf("scenario %s: foreign keys, change log and privileges of %s: %w", sc.Name, p.info.Name, err)
	}
	return nil
}

// attachSQL is attach's statements.
func (m *Manager) attachSQL(sc *Scenario, p *planned, cat *catalog, copied map[string]bool, more []string) []string {
	t := p.info
	cp := pgquery.Qual(sc.Schema, t.Name)
	var stmts []string
	for _, f := range cat.byChild[t.Name] {
		parent := pgquery.Qual(sc.BaseSchema, f.Parent)
		if copied[f.Parent] {
			parent = pgquery.Qual(sc.Schema, f.Parent)
		}
		stmts = append(stmts, fkSQL(f, cp, parent))
	}
	stmts = append(stmts, m.logSQL(sc, t, p.log)...)
	role := pgquery.Ident(sc.Role)
	stmts = append(stmts, "GRANT SELECT, INSERT, UPDATE, DELETE ON "+cp+" TO "+role)
	for _, c := range t.Cols {
		if c.Identity || c.SerialSeq != "" {
			stmts = append(stmts, "DO $strata$ BEGIN EXECUTE 'GRANT USAGE, SELECT, UPDATE ON SEQUENCE ' || pg_get_serial_sequence("+
				pgquery.Literal(cp)+", "+pgquery.Literal(c.Name)+") || ' TO ' || "+pgquery.Literal(role)+"; END $strata$")
		}
	}
	return append(stmts, more...)
}

// logSQL makes the change log of one copy: a table of the keys changed in
// the scenario with, for a row that was in the copy, its copied values, and
// the trigger that fills it. The trigger function is SECURITY DEFINER, so
// the scenario role writes the log without any privilege on it.
func (m *Manager) logSQL(sc *Scenario, t *tableInfo, logName string) []string {
	log := pgquery.Qual(sc.Schema, logName)
	unlogged := "UNLOGGED "
	if sc.Logged {
		unlogged = ""
	}
	keys := pgquery.IdentList(t.Key)
	oldKeys, newKeys := make([]string, len(t.Key)), make([]string, len(t.Key))
	for i, k := range t.Key {
		oldKeys[i] = "OLD." + pgquery.Ident(k)
		newKeys[i] = "NEW." + pgquery.Ident(k)
	}
	keyEqOld := make([]string, len(t.Key))
	for i, k := range t.Key {
		keyEqOld[i] = pgquery.Ident(k) + " = OLD." + pgquery.Ident(k)
	}
	// The log row of a key: whether the key was in the copy, the copied
	// row (first change) and the row now (NULL: not in the copy now).
	// An update that keeps the key (the usual one) writes one log row
	// version: the copied row and the row now at once on its first change,
	// the row now on a later one.
	body := `BEGIN
	IF TG_OP = 'UPDATE' AND ROW(` + strings.Join(oldKeys, ", ") + `) IS NOT DISTINCT FROM ROW(` + strings.Join(newKeys, ", ") + `) THEN
		INSERT INTO ` + log + ` (` + keys + `, _strata_existed, _strata_orig, _strata_new) VALUES (` + strings.Join(oldKeys, ", ") + `, true, ` + t.textArray("OLD") + `, ` + t.textArray("NEW") + `)
			ON CONFLICT (` + keys + `) DO UPDATE SET _strata_new = EXCLUDED._strata_new;
		RETURN NULL;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		INSERT INTO ` + log + ` (` + keys + `, _strata_existed, _strata_orig) VALUES (` + strings.Join(oldKeys, ", ") + `, true, ` + t.textArray("OLD") + `) ON CONFLICT DO NOTHING;
		IF TG_OP = 'DELETE' OR ROW(` + strings.Join(oldKeys, ", ") + `) IS DISTINCT FROM ROW(` + strings.Join(newKeys, ", ") + `) THEN
			UPDATE ` + log + ` SET _strata_new = NULL WHERE ` + strings.Join(keyEqOld, " AND ") + `;
		END IF;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		INSERT INTO ` + log + ` (` + keys + `, _strata_new) VALUES (` + strings.Join(newKeys, ", ") + `, ` + t.textArray("NEW") + `)
			ON CONFLICT (` + keys + `) DO UPDATE SET _strata_new = EXCLUDED._strata_new;
	END IF;
	RETURN NULL;
END`
	return []string{
		"CREATE " + unlogged + "TABLE " + log + " AS SELECT " + keys + " FROM " + pgquery.Qual(sc.BaseSchema, t.Name) + " WITH NO DATA",
		"ALTER TABLE " + log + " ADD COLUMN _strata_existed boolean NOT NULL DEFAULT false, ADD COLUMN _strata_orig text[], ADD COLUMN _strata_new text[], ADD PRIMARY KEY (" + keys + ")",
		"CREATE FUNCTION " + log + "() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $strata$" + body + "$strata$",
		"REVOKE ALL ON FUNCTION " + log + "() FROM PUBLIC",
		"CREATE TRIGGER _strata_log AFTER INSERT OR UPDATE OR DELETE ON " + pgquery.Qual(sc.Schema, t.Name) + " FOR EACH ROW EXECUTE FUNCTION " + log + "()",
	}
}

// grantBaseSQL lets the scenario role read the base tables (and views) it
// did not copy: SELECT on every table of the base schema (tables, views,
// materialized views, foreign tables), then none on the copied ones.
func (m *Manager) grantBaseSQL(sc *Scenario, copied map[string]bool) []string {
	role := pgquery.Ident(sc.Role)
	out := []string{"GRANT SELECT ON ALL TABLES IN SCHEMA " + pgquery.Ident(sc.BaseSchema) + " TO " + role}
	names := make([]string, 0, len(copied))
	for n := range copied {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, "REVOKE ALL ON "+pgquery.Qual(sc.BaseSchema, n)+" FROM "+role)
	}
	return out
}

// undo removes what a failed create made and returns cause.
func (m *Manager) undo(ctx context.Context, conn *pgx.Conn, sc *Scenario, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if conn.IsClosed() || conn.PgConn().IsBusy() {
		c, err := m.connect(ctx)
		if err != nil {
			return errors.Join(cause, fmt.Errorf("scenario %s is left half-made (state creating): %w\nhint: run strata scenario drop %s", sc.Name, err, sc.Name))
		}
		defer c.Close(ctx)
		conn = c
	}
	if err := m.dropObjects(ctx, conn, sc); err != nil {
		return errors.Join(cause, fmt.Errorf("scenario %s is left half-made (state creating): %w\nhint: run strata scenario drop %s", sc.Name, err, sc.Name))
	}
	m.logf("removed the half-made scenario %s", sc.Name)
	return cause
}
