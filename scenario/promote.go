package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

// PromoteResult counts what promote applied (or would apply, DryRun).
type PromoteResult struct {
	Scenario string         `json:"scenario"`
	DryRun   bool           `json:"dry_run"`
	Tables   []TableSummary `json:"tables"`
}

var errDryRun = errors.New("dry run")

// tableSet resolves --table against the scenario's tables (all when
// empty), in foreign-key order.
func tableSet(sc *Scenario, cat *catalog, only []string) ([]string, error) {
	var names []string
	for _, t := range sc.Tables {
		names = append(names, t.Name)
		if cat.tables[t.Name] == nil {
			return nil, fmt.Errorf("scenario %s: table %q is gone from schema %s", sc.Name, t.Name, sc.BaseSchema)
		}
	}
	if len(only) > 0 {
		for _, n := range only {
			if _, ok := findTable(sc, n); !ok {
				return nil, &InputError{Flag: "--table", Msg: fmt.Sprintf("scenario %s holds no copy of table %q", sc.Name, n), Hint: "strata scenario show " + sc.Name + " lists its tables"}
			}
		}
		names = only
	}
	return fkOrder(names, cat), nil
}

// Promote applies the scenario's changes to the base tables in one
// transaction (lock_timeout, retried): deletes children first, then inserts
// and updates parents first. A base row changed, deleted or inserted since
// the copy for a key the scenario changed is a conflict: then nothing is
// changed and a *ConflictError lists them. Afterwards the change logs of
// the promoted tables are empty (the copies equal the base for those rows).
func (m *Manager) Promote(ctx context.Context, name string, tables []string, dryRun bool) (*PromoteResult, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var res *PromoteResult
	err = m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		res = &PromoteResult{Scenario: name, DryRun: dryRun, Tables: []TableSummary{}}
		sc, err := m.mustLoad(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := ready(sc); err != nil {
			return err
		}
		cat, err := m.readCatalog(ctx, tx)
		if err != nil {
			return err
		}
		order, err := tableSet(sc, cat, tables)
		if err != nil {
			return err
		}
		// The scenario waits while it is promoted.
		var locks []string
		for _, n := range order {
			t, _ := findTable(sc, n)
			locks = append(locks, pgquery.Qual(sc.Schema, n), pgquery.Qual(sc.Schema, t.logTable))
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(locks, ", ")+" IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		var conflicts []Conflict
		for _, n := range order {
			t, _ := findTable(sc, n)
			c, err := m.conflicts(ctx, tx, sc, t, cat.tables[n])
			if err != nil {
				return fmt.Errorf("scenario promote %s: table %s: %w", name, n, err)
			}
			conflicts = append(conflicts, c...)
		}
		if len(conflicts) > 0 {
			return &ConflictError{Scenario: name, Conflicts: conflicts}
		}
		sums := map[string]*TableSummary{}
		for _, n := range order {
			sums[n] = &TableSummary{Table: n}
		}
		for i := len(order) - 1; i >= 0; i-- {
			n := order[i]
			t, _ := findTable(sc, n)
			tag, err := tx.Exec(ctx, m.deleteSQL(sc, t, cat.tables[n]))
			if err != nil {
				return fmt.Errorf("scenario promote %s: delete from %s: %w", name, n, err)
			}
			sums[n].Deleted = int(tag.RowsAffected())
		}
		for _, n := range order {
			t, _ := findTable(sc, n)
			info := cat.tables[n]
			if q := m.updateSQL(sc, t, info); q != "" {
				tag, err := tx.Exec(ctx, q)
				if err != nil {
					return fmt.Errorf("scenario promote %s: update %s: %w", name, n, err)
				}
				sums[n].Updated = int(tag.RowsAffected())
			}
			tag, err := tx.Exec(ctx, m.insertSQL(sc, t, info))
			if err != nil {
				return fmt.Errorf("scenario promote %s: insert into %s: %w", name, n, err)
			}
			sums[n].Inserted = int(tag.RowsAffected())
			if sums[n].Inserted > 0 {
				if err := bumpBaseSequences(ctx, tx, sc, info); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, "DELETE FROM "+pgquery.Qual(sc.Schema, t.logTable)); err != nil {
				return err
			}
			res.Tables = append(res.Tables, *sums[n])
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// changed is true for a logged key whose copy row differs from what was
// copied (l: the log, c: the copy).
func changed(t *tableInfo) string {
	c0 := "c." + pgquery.Ident(t.Key[0])
	return "(CASE WHEN l._strata_existed THEN " + c0 + " IS NULL OR " + t.textArray("c") + " IS DISTINCT FROM l._strata_orig ELSE " + c0 + " IS NOT NULL END)"
}

func (m *Manager) conflicts(ctx context.Context, tx pgx.Tx, sc *Scenario, t Table, info *tableInfo) ([]Conflict, error) {
	base, cp, log := pgquery.Qual(sc.BaseSchema, t.Name), pgquery.Qual(sc.Schema, t.Name), pgquery.Qual(sc.Schema, t.logTable)
	keys := pgquery.IdentList(info.Key)
	// Lock the base rows promote will write.
	if _, err := tx.Exec(ctx, "SELECT FROM "+base+" WHERE ("+keys+") IN (SELECT "+keys+" FROM "+log+") FOR UPDATE"); err != nil {
		return nil, err
	}
	b0 := "b." + pgquery.Ident(info.Key[0])
	keyText := make([]string, len(info.Key))
	for i, k := range info.Key {
		keyText[i] = "l." + pgquery.Ident(k) + "::text"
	}
	rows, err := tx.Query(ctx, `SELECT ARRAY[`+strings.Join(keyText, ", ")+`],
			CASE WHEN l._strata_existed AND `+b0+` IS NULL THEN 'deleted in the base since the copy'
				WHEN l._strata_existed THEN 'changed in the base since the copy'
				ELSE 'a base row with this key exists (inserted since the copy, or outside the filter)' END
		FROM `+log+` l LEFT JOIN `+base+` b ON `+info.keyEq("b", "l")+` LEFT JOIN `+cp+` c ON `+info.keyEq("c", "l")+`
		WHERE `+changed(info)+` AND CASE WHEN l._strata_existed THEN `+b0+` IS NULL OR `+info.textArray("b")+` IS DISTINCT FROM l._strata_orig
			ELSE `+b0+` IS NOT NULL END
		ORDER BY `+strings.Replace(strings.Join(keyText, ", "), "::text", "", -1))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var key []string
		var reason string
		if err := rows.Scan(&key, &reason); err != nil {
			return nil, err
		}
		c := Conflict{Table: t.Name, Key: map[string]string{}, Reason: reason}
		for i, k := range info.Key {
			c.Key[k] = key[i]
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (m *Manager) deleteSQL(sc *Scenario, t Table, info *tableInfo) string {
	base, cp, log := pgquery.Qual(sc.BaseSchema, t.Name), pgquery.Qual(sc.Schema, t.Name), pgquery.Qual(sc.Schema, t.logTable)
	return "DELETE FROM " + base + " b USING " + log + " l WHERE " + info.keyEq("b", "l") +
		" AND l._strata_existed AND NOT EXISTS (SELECT FROM " + cp + " c WHERE " + info.keyEq("c", "l") + ")"
}

func (m *Manager) updateSQL(sc *Scenario, t Table, info *tableInfo) string {
	base, cp, log := pgquery.Qual(sc.BaseSchema, t.Name), pgquery.Qual(sc.Schema, t.Name), pgquery.Qual(sc.Schema, t.logTable)
	var sets []string
	for _, c := range info.writable() {
		if !info.isKey(c) {
			sets = append(sets, pgquery.Ident(c)+" = c."+pgquery.Ident(c))
		}
	}
	if len(sets) == 0 {
		return ""
	}
	return "UPDATE " + base + " b SET " + strings.Join(sets, ", ") + " FROM " + cp + " c JOIN " + log + " l ON " + info.keyEq("c", "l") +
		" WHERE " + info.keyEq("b", "c") + " AND l._strata_existed AND " + info.textArray("c") + " IS DISTINCT FROM l._strata_orig"
}

func (m *Manager) insertSQL(sc *Scenario, t Table, info *tableInfo) string {
	base, cp, log := pgquery.Qual(sc.BaseSchema, t.Name), pgquery.Qual(sc.Schema, t.Name), pgquery.Qual(sc.Schema, t.logTable)
	cols := info.writable()
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "c." + pgquery.Ident(c)
	}
	return "INSERT INTO " + base + " (" + pgquery.IdentList(cols) + ") OVERRIDING SYSTEM VALUE SELECT " + strings.Join(sel, ", ") +
		" FROM " + cp + " c JOIN " + log + " l ON " + info.keyEq("c", "l") + " WHERE NOT l._strata_existed"
}

// bumpBaseSequences moves the base table's sequences past the promoted
// rows.
func bumpBaseSequences(ctx context.Context, tx pgx.Tx, sc *Scenario, info *tableInfo) error {
	base := pgquery.Qual(sc.BaseSchema, info.Name)
	for _, c := range info.Cols {
		if !c.Identity && c.SerialSeq == "" {
			continue
		}
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), x.m)
			FROM (SELECT max(`+pgquery.Ident(c.Name)+`)::bigint AS m FROM `+base+`) x
			WHERE x.m > coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass), 0)`, base, c.Name)
		if err != nil {
			return fmt.Errorf("move the sequence of %s.%s: %w", info.Name, c.Name, err)
		}
	}
	return nil
}

// Reset copies the base data again under one snapshot, throwing the
// scenario's changes away, in one transaction.
func (m *Manager) Reset(ctx context.Context, name string) (*Scenario, error) {
	err := m.inReadyTx(ctx, name, func(tx pgx.Tx, sc *Scenario) error {
		cat, err := m.readCatalog(ctx, tx)
		if err != nil {
			return err
		}
		var copies []string
		for _, t := range sc.Tables {
			if cat.tables[t.Name] == nil {
				return fmt.Errorf("scenario %s: table %q is gone from schema %s", name, t.Name, sc.BaseSchema)
			}
			copies = append(copies, pgquery.Qual(sc.Schema, t.Name), pgquery.Qual(sc.Schema, t.logTable))
		}
		stmts := []string{"LOCK TABLE " + strings.Join(copies, ", ") + " IN ACCESS EXCLUSIVE MODE"}
		for _, t := range sc.Tables {
			stmts = append(stmts, "ALTER TABLE "+pgquery.Qual(sc.Schema, t.Name)+" DISABLE TRIGGER _strata_log")
		}
		stmts = append(stmts, "TRUNCATE "+strings.Join(copies, ", "))
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("scenario reset %s: %w", name, err)
			}
		}
		var snap string
		if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snap); err != nil {
			return err
		}
		for _, t := range sc.Tables {
			p := &planned{info: cat.tables[t.Name], filter: t.Filter}
			rows, err := m.fill(ctx, tx, sc, p, false)
			if err != nil {
				return fmt.Errorf("scenario reset %s: copy %s: %w", name, t.Name, err)
			}
			if _, err := tx.Exec(ctx, "ALTER TABLE "+pgquery.Qual(sc.Schema, t.Name)+" ENABLE TRIGGER _strata_log"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+m.st("scenario_table")+` SET rows_copied = $3, copy_snapshot = $4, copied_at = now()
				WHERE scenario = $1 AND table_name = $2`, name, t.Name, rows, snap); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE `+m.st("scenario")+` SET copy_snapshot = $2 WHERE name = $1`, name, snap); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m.Show(ctx, name)
}

// Copy adds a table to an existing scenario, in one transaction (its own
// snapshot). where "" uses the scenario's --where.
func (m *Manager) Copy(ctx context.Context, name, table, where string) (*Scenario, error) {
	err := m.inReadyTx(ctx, name, func(tx pgx.Tx, sc *Scenario) error {
		if ph, err := m.phaseInProgress(ctx, tx); err != nil {
			return err
		} else if ph != "" {
			return fmt.Errorf("scenario copy %s: a migration phase is in progress in schema %s (%s)\nhint: run strata complete or strata abort first", name, m.opts.Schema, ph)
		}
		cat, err := m.readCatalog(ctx, tx)
		if err != nil {
			return err
		}
		info := cat.tables[table]
		switch {
		case info == nil:
			return &InputError{Flag: "--table", Msg: fmt.Sprintf("no table %q in schema %q", table, sc.BaseSchema), Hint: "name a table of the managed schema"}
		case len(info.Key) == 0:
			return &InputError{Flag: "--table", Msg: fmt.Sprintf("table %q has no primary key", table), Hint: "a scenario compares and promotes rows by primary key; add one first"}
		}
		if _, ok := findTable(sc, table); ok {
			return &InputError{Flag: "--table", Msg: fmt.Sprintf("scenario %s holds a copy of %q already", name, table), Hint: "strata scenario reset " + name + " copies the base data again"}
		}
		p := &planned{info: info, pos: len(sc.Tables)}
		p.log = pgquery.InternalName(fmt.Sprintf("_strata_log%d_", p.pos), table)
		flag := "--where"
		if where == "" && sc.Where != nil {
			where, flag = *sc.Where, "--where (the scenario's)"
		}
		if where != "" {
			if err := m.checkFilter(ctx, tx, flag, table, where); err != nil {
				return err
			}
			p.filter = &where
		}
		var snap string
		if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snap); err != nil {
			return err
		}
		rows, err := m.fill(ctx, tx, sc, p, true)
		if err != nil {
			return fmt.Errorf("scenario copy %s: %s: %w", name, table, err)
		}
		copied := map[string]bool{table: true}
		for _, t := range sc.Tables {
			copied[t.Name] = true
		}
		if err := m.attach(ctx, tx, sc, p, cat, copied, nil); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "REVOKE SELECT ON "+pgquery.Qual(sc.BaseSchema, table)+" FROM "+pgquery.Ident(sc.Role)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+m.st("scenario_table")+` (scenario, table_name, position, filter, log_table, rows_copied, copy_snapshot)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, name, table, p.pos, p.filter, p.log, rows, snap); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m.Show(ctx, name)
}

// inReadyTx runs fn in one repeatable-read transaction with strata's
// settings, on a connection of its own, over the ready scenario name,
// retrying the whole transaction on lock timeouts; it commits when fn
// succeeds.
func (m *Manager) inReadyTx(ctx context.Context, name string, fn func(pgx.Tx, *Scenario) error) error {
	conn, err := m.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return m.exec.Retry(ctx, func() error {
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if _, err := tx.Exec(ctx, m.setLocal()); err != nil {
			return err
		}
		sc, err := m.mustLoad(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := ready(sc); err != nil {
			return err
		}
		if err := fn(tx, sc); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}, nil)
}
