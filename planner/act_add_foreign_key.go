package planner

import (
	"context"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// addForeignKey adds a foreign key NOT VALID at start, after the backfills
// (SHARE ROW EXCLUSIVE on both tables, brief, no scan), then validates it
// in its own transaction (SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on
// the referenced one: reads and writes go on). Columns and the referenced
// table and columns are named as the new version names them. Abort drops it.
func (p *planner) addForeignKey(ctx context.Context, a *migration.AddForeignKey) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	fk := a.ForeignKey
	ref := p.cur.table(fk.ReferencedTable)
	if ref == nil {
		return p.errf(".foreign_key.referenced_table", "table %q does not exist in schema %q", fk.ReferencedTable, p.schema)
	}
	if err := p.freeConstraint(ctx, ".foreign_key.name", t, fk.Name); err != nil {
		return err
	}
	for i, c := range fk.Columns {
		if t.col(c) == nil {
			return p.errf(".foreign_key.columns["+itoa(i)+"]", "column %q does not exist in table %q%s", c, t.Name, t.colHint(c))
		}
	}
	var refPhys []string
	for i, c := range fk.ReferencedColumns {
		rc := ref.col(c)
		if rc == nil {
			return p.errf(".foreign_key.referenced_columns["+itoa(i)+"]", "column %q does not exist in table %q%s", c, ref.Name, ref.colHint(c))
		}
		refPhys = append(refPhys, rc.Phys)
	}
	sql := "ALTER TABLE " + qual(p.schema, t.Phys) + " ADD CONSTRAINT " + ident(fk.Name) + " FOREIGN KEY (" + identList(fk.Columns) +
		") REFERENCES " + qual(p.schema, ref.Phys) + " (" + identList(fk.ReferencedColumns) + ")"
	sql += fkOptions(fk)
	stmt, err := p.parseStmt(".foreign_key", sql+" NOT VALID")
	if err != nil {
		return err
	}
	// Names of both tables are mapped at once when the key references its
	// own table.
	pgquery.RenameColumns(stmt, p.schema, t.Phys, nil, versionMap(t), false)
	if ref.Phys != t.Phys {
		pgquery.RenameColumns(stmt, p.schema, ref.Phys, nil, versionMap(ref), false)
	}
	ok, err := p.hasUnique(ctx, p.schema, ref.Phys, refPhys)
	if err != nil {
		return err
	}
	if !ok {
		return p.errf(".foreign_key.referenced_columns", "table %q has no primary key, unique constraint or unique index over exactly (%s): a foreign key must reference one",
			ref.Name, strings.Join(fk.ReferencedColumns, ", "))
	}
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kFK, Schema: p.schema, Table: t.Phys, Name: fk.Name, Temp: fk.Name,
		Stmt: stmt, Mig: p.mig, Idx: p.idx, Key: ".foreign_key"})
	return nil
}
