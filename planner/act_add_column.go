package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// addColumn adds the column to the physical table at start; only the new
// version's view shows it. Existing rows and rows the old version writes get
// their value from `up` (through the sync trigger and the backfill) or from
// the default. NOT NULL is enforced by a NOT VALID check validated after the
// backfill and turned into SET NOT NULL at complete.
func (p *planner) addColumn(ctx context.Context, a *migration.AddColumn) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	c := a.Column
	if t.col(c.Name) != nil {
		return p.errf(".column.name", "column %q already exists in table %q", c.Name, a.Table)
	}
	// A serial column: its sequence is created for the rest of planning
	// (the default is checked against it), and at start before the column.
	seqPre, seq, err := p.serialColumn(ctx, t.Phys, &c)
	if err != nil {
		return err
	}
	for _, s := range seqPre {
		if err := p.pr.Apply(ctx, s); err != nil {
			return p.errf(".column.type", "%s", pgMessage(err))
		}
	}
	if err := p.checkType(ctx, ".column.type", c.Type); err != nil {
		return err
	}
	tq := qual(p.schema, t.Phys)
	if t.Created {
		return p.addColumnToNewTable(t, c, seqPre, p.ownedBy(seq, t.Phys, c.Name))
	}
	if c.Generated != "" {
		spec, err := p.parseGenerated(c.Generated)
		if err != nil {
			return err
		}
		if spec.Kind == "" {
			return p.refuseStored(c, spec)
		}
		return p.addIdentityColumn(ctx, t, c, spec)
	}
	phys := p.freeColumn(t.Phys, c.Name)
	add := &addedCol{Name: phys, Type: c.Type, NotNull: false, Comment: c.Comment, ActionNo: p.seq}
	def := "ALTER TABLE " + tq + " ADD COLUMN IF NOT EXISTS " + ident(phys) + " " + c.Type
	sqls := append([]string(nil), seqPre...)
	s := p.sync(t.Phys)
	if c.Default != nil {
		fast, err := p.fastDefault(ctx, ".column.default", c.Type, *c.Default)
		if err != nil {
			return err
		}
		add.Default = c.Default
		if fast {
			// Instant: existing rows read the stored default.
			sqls = append(sqls, def+" DEFAULT "+*c.Default)
		} else {
			// A volatile default would rewrite the table: add the column
			// bare, set the default for new rows and backfill the rest.
			sqls = append(sqls, def, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(phys)+" SET DEFAULT "+*c.Default)
			if a.Up == nil {
				s.Backfill = true
				s.Set = append(s.Set, ident(phys)+" = COALESCE("+ident(phys)+", "+*c.Default+")")
			}
		}
	} else {
		sqls = append(sqls, def)
	}
	sqls = append(sqls, p.ownedBy(seq, t.Phys, phys)...)
	if c.Comment != nil {
		sqls = append(sqls, "COMMENT ON COLUMN "+tq+"."+ident(phys)+" IS "+literal(*c.Comment))
	}
	before := t.clone()
	if a.Up.MultiTable() {
		vc := &vColumn{Name: c.Name, Phys: phys, Type: c.Type}
		if err := p.linkColumn(true, before, vc, a.Up, ".up", false); err != nil {
			return err
		}
	} else if a.Up != nil {
		s.Up = append(s.Up, fragment{Target: phys, Expr: a.Up.Expr, View: before, Phys: t.Phys, Schema: p.schema,
			Type: c.Type, Mig: p.mig, Idx: p.idx, Key: ".up"})
		s.Backfill = true
	}
	p.expand = append(p.expand, plan.Step{
		ID: fmt.Sprintf("add-column:%s.%s", t.Phys, phys), Kind: plan.KindSQL, Tx: true,
		Desc: fmt.Sprintf("add column %s to %s", phys, t.Phys),
		SQL:  sqls,
	})
	p.added[t.Phys] = append(p.added[t.Phys], add)
	t.Columns = append(t.Columns, &vColumn{Name: c.Name, Phys: phys, Type: c.Type, NotNull: !c.Nullable,
		Default: c.Default, Comment: c.Comment})
	return nil
}

// addColumnToNewTable adds a column to a table created in this phase: no
// app version has written to it yet, so plain DDL is safe.
func (p *planner) addColumnToNewTable(t *vTable, c migration.Column, seqPre, seqPost []string) error {
	tq := qual(p.schema, t.Phys)
	d := "ALTER TABLE " + tq + " ADD COLUMN " + ident(c.Name) + " " + c.Type
	if c.Generated != "" {
		d += " GENERATED " + c.Generated
	}
	if c.Default != nil {
		d += " DEFAULT " + *c.Default
	}
	if !c.Nullable {
		d += " NOT NULL"
	}
	sqls := append(append(append([]string(nil), seqPre...), d), seqPost...)
	if c.Comment != nil {
		sqls = append(sqls, "COMMENT ON COLUMN "+tq+"."+ident(c.Name)+" IS "+literal(*c.Comment))
	}
	p.expand = append(p.expand, plan.Step{
		ID: fmt.Sprintf("add-column:%s.%s", t.Phys, c.Name), Kind: plan.KindSQL, Tx: true,
		Desc: fmt.Sprintf("add column %s to new table %s", c.Name, t.Phys),
		SQL:  sqls,
	})
	p.added[t.Phys] = append(p.added[t.Phys], &addedCol{Name: c.Name, Type: c.Type, Default: c.Default, Comment: c.Comment, NotNull: !c.Nullable, ActionNo: p.seq})
	t.Columns = append(t.Columns, &vColumn{Name: c.Name, Phys: c.Name, Type: c.Type, NotNull: !c.Nullable,
		Default: c.Default, Comment: c.Comment, Generated: strings.Contains(strings.ToUpper(c.Generated), "ALWAYS")})
	return nil
}
