package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// createTable creates the table at start. Only the new version sees it, so
// it needs no sync trigger; abort drops it.
func (p *planner) createTable(ctx context.Context, a *migration.CreateTable) error {
	if err := p.freeTableName(ctx, ".name", a.Name); err != nil {
		return err
	}
	tq := qual(p.schema, a.Name)
	var defs, pre, post []string
	t := &vTable{Name: a.Name, Phys: a.Name, Created: true}
	cols := append([]migration.Column(nil), a.Columns...)
	for i := range cols {
		key := fmt.Sprintf(".columns[%d]", i)
		sp, seq, err := p.serialColumn(ctx, a.Name, &cols[i])
		if err != nil {
			return err
		}
		pre, post = append(pre, sp...), append(post, p.ownedBy(seq, a.Name, cols[i].Name)...)
		c := cols[i]
		if err := p.checkType(ctx, key+".type", c.Type); err != nil {
			return err
		}
		d := ident(c.Name) + " " + c.Type
		if c.Generated != "" {
			d += " GENERATED " + c.Generated
		}
		if c.Default != nil {
			d += " DEFAULT " + *c.Default
		}
		if !c.Nullable {
			d += " NOT NULL"
		}
		defs = append(defs, d)
		t.Columns = append(t.Columns, &vColumn{Name: c.Name, Phys: c.Name, Type: c.Type, NotNull: !c.Nullable,
			Default: c.Default, Comment: c.Comment,
			Generated: strings.Contains(strings.ToUpper(c.Generated), "ALWAYS")})
		p.added[a.Name] = append(p.added[a.Name], &addedCol{Name: c.Name, Type: c.Type, Default: c.Default, Comment: c.Comment, NotNull: !c.Nullable, ActionNo: p.seq})
	}
	if len(a.PrimaryKey) > 0 {
		d := "PRIMARY KEY (" + identList(a.PrimaryKey) + ")"
		if a.PrimaryKeyName != "" {
			d = "CONSTRAINT " + ident(a.PrimaryKeyName) + " " + d
		}
		defs = append(defs, d)
		t.Key = append([]string(nil), a.PrimaryKey...)
	}
	for i, u := range a.Unique {
		d := "UNIQUE"
		if u.NullsNotDistinct {
			if err := p.needPG15(fmt.Sprintf(".unique[%d].nulls_not_distinct", i), "nulls_not_distinct"); err != nil {
				return err
			}
			d += " NULLS NOT DISTINCT"
		}
		d += " (" + identList(u.Columns) + ")" + indexTail(u.Include, false, u.StorageParameters) +
			deferrableSQL(u.Deferrable, u.InitiallyDeferred)
		if u.Name != "" {
			d = "CONSTRAINT " + ident(u.Name) + " " + d
		}
		defs = append(defs, d)
	}
	for _, x := range a.Exclude {
		defs = append(defs, excludeSQL(x))
	}
	for _, c := range a.Checks {
		d := "CHECK (" + c.Expression + ")"
		if c.NoInherit {
			d += " NO INHERIT"
		}
		if c.Name != "" {
			d = "CONSTRAINT " + ident(c.Name) + " " + d
		}
		defs = append(defs, d)
	}
	for i, fk := range a.ForeignKeys {
		key := fmt.Sprintf(".foreign_keys[%d]", i)
		ref := p.cur.table(fk.ReferencedTable)
		if ref == nil && fk.ReferencedTable != a.Name {
			return p.errf(key+".referenced_table", "table %q does not exist in schema %q", fk.ReferencedTable, p.schema)
		}
		refPhys := a.Name
		refCols := fk.ReferencedColumns
		if ref != nil {
			refPhys = ref.Phys
			refCols = nil
			for _, rc := range fk.ReferencedColumns {
				c := ref.col(rc)
				if c == nil {
					return p.errf(key+".referenced_columns", "column %q does not exist in table %q", rc, fk.ReferencedTable)
				}
				refCols = append(refCols, c.Phys)
			}
		}
		d := "FOREIGN KEY (" + identList(fk.Columns) + ") REFERENCES " + qual(p.schema, refPhys) + " (" + identList(refCols) + ")"
		d += fkOptions(fk)
		if fk.Name != "" {
			d = "CONSTRAINT " + ident(fk.Name) + " " + d
		}
		defs = append(defs, d)
	}
	sqls := append(pre, "CREATE TABLE "+tq+" (\n  "+strings.Join(defs, ",\n  ")+"\n)")
	sqls = append(sqls, post...)
	if a.Comment != nil {
		sqls = append(sqls, "COMMENT ON TABLE "+tq+" IS "+literal(*a.Comment))
	}
	for _, c := range cols {
		if c.Comment != nil {
			sqls = append(sqls, "COMMENT ON COLUMN "+tq+"."+ident(c.Name)+" IS "+literal(*c.Comment))
		}
	}
	// Let PostgreSQL judge the whole definition now, inside a rolled-back
	// savepoint, so that a bad column or constraint is reported before start.
	err := p.try(ctx, sqls...)
	if err != nil {
		return p.errf("", "create_table %q: %s", a.Name, pgMessage(err))
	}
	// Create it for the rest of planning too, so that later actions of
	// the phase can refer to it (a foreign key of another new table).
	for _, s := range sqls {
		if err := p.pr.Apply(ctx, s); err != nil {
			return p.errf("", "create_table %q: %s", a.Name, pgMessage(err))
		}
	}
	p.expand = append(p.expand, plan.Step{
		ID: fmt.Sprintf("create-table:%s", a.Name), Kind: plan.KindSQL, Tx: true,
		Desc: "create table " + a.Name,
		SQL:  sqls,
	})
	if a.Up != nil {
		if err := p.fillFrom(a, t); err != nil {
			return err
		}
	}
	p.created = append(p.created, a.Name)
	p.cur.Tables = append(p.cur.Tables, t)
	return nil
}

// freeTableName checks that no table of the new version and no relation in
// the managed schema is called name.
func (p *planner) freeTableName(ctx context.Context, key, name string) error {
	if p.cur.table(name) != nil {
		return p.errf(key, "table %q already exists in schema %q", name, p.schema)
	}
	exists, err := p.pr.RelationExists(ctx, p.schema, name)
	if err != nil {
		return err
	}
	if exists || p.isCreated(name) {
		return p.errf(key, "a relation named %q already exists in schema %q", name, p.schema)
	}
	return nil
}

// fkOptions renders what follows a foreign key's REFERENCES clause: MATCH,
// ON DELETE, ON UPDATE and DEFERRABLE.
func fkOptions(fk migration.ForeignKey) string {
	var d string
	if fk.Match != "" {
		d += " MATCH " + strings.ToUpper(fk.Match)
	}
	if fk.OnDelete != "" {
		d += " ON DELETE " + strings.ToUpper(fk.OnDelete)
	}
	if fk.OnUpdate != "" {
		d += " ON UPDATE " + strings.ToUpper(fk.OnUpdate)
	}
	return d + deferrableSQL(fk.Deferrable, fk.InitiallyDeferred)
}

// excludeSQL renders an exclusion constraint of create_table.
func excludeSQL(x migration.Exclude) string {
	var elems []string
	for _, e := range x.Elements {
		if e.Raw != "" {
			elems = append(elems, e.Raw+"\n")
			continue
		}
		elems = append(elems, indexColumnSQL(e.IndexColumn)+" WITH "+e.Operator)
	}
	d := "EXCLUDE"
	if x.Method != "" {
		d += " USING " + x.Method
	}
	d += " (" + strings.Join(elems, ", ") + ")" + indexTail(x.Include, false, x.StorageParameters)
	if x.Where != "" {
		d += " WHERE (" + x.Where + "\n)"
	}
	d += deferrableSQL(x.Deferrable, x.InitiallyDeferred)
	if x.Name != "" {
		d = "CONSTRAINT " + ident(x.Name) + " " + d
	}
	return d
}
