package planner

import (
	"context"
	"fmt"

	"github.com/stratapg/strata/plan"
)

// alterNewTableColumn changes a column of a table created in this phase
// directly: no app version has written to it yet. A type change converts
// the rows a create_table.up or a custom action put there with up (the
// new version's names of the table's columns) as its USING expression,
// as on an existing table; PostgreSQL judges the statement now, on the
// table as the phase has created it, so that nothing fails half-way
// through start.
func (p *planner) alterNewTableColumn(ctx context.Context, t *vTable, c *vColumn, ch *columnChange, up string) error {
	newName, newType, notNull, def, comment := ch.newName, ch.newType, ch.notNull, ch.def, ch.comment
	tq := qual(p.schema, t.Phys)
	var sqls []string
	if ch.typeChange || ch.transform {
		// A data transform rewrites the rows with up as a change to the
		// same type.
		alter := "ALTER TABLE " + tq + " ALTER COLUMN " + ident(c.Phys) + " TYPE " + newType
		key := ".changes.type"
		if up != "" {
			stmt, err := p.parseStmt(".up", alter+" USING ("+up+")")
			if err != nil {
				return err
			}
			if err := p.toPhysical(".up", stmt, t); err != nil {
				return err
			}
			alter, key = deparse(stmt), ".up"
		}
		if err := p.try(ctx, alter); err != nil {
			return p.errf(key, "changing the type of column %q of new table %q to %s: %s", c.Name, t.Name, newType, pgMessage(err))
		}
		if err := p.pr.Apply(ctx, alter); err != nil {
			return p.errf(key, "changing the type of column %q of new table %q to %s: %s", c.Name, t.Name, newType, pgMessage(err))
		}
		sqls = append(sqls, alter)
	}
	if ch.nullChange {
		if notNull {
			sqls = append(sqls, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" SET NOT NULL")
		} else {
			sqls = append(sqls, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" DROP NOT NULL")
		}
	}
	if !sameExpr(def, c.Default) {
		if def == nil {
			sqls = append(sqls, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" DROP DEFAULT")
		} else {
			sqls = append(sqls, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" SET DEFAULT "+*def)
		}
	}
	if len(sqls) > 0 {
		p.expand = append(p.expand, plan.Step{
			ID: fmt.Sprintf("alter-new-column:%s.%s:%d", t.Phys, c.Phys, p.seq), Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("alter column %s of new table %s", c.Phys, t.Phys),
			SQL:  sqls,
		})
	}
	for _, ac := range p.added[t.Phys] {
		if ac.Name == c.Phys {
			ac.Type, ac.NotNull, ac.Default = newType, notNull, def
		}
	}
	c.Name, c.Type, c.NotNull, c.Default, c.Comment = newName, newType, notNull, def, comment
	return nil
}
