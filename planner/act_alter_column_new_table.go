package planner

import "fmt"

// alterNewTableColumn changes a column of a table created in this phase
// directly: no app version has written to it yet.
func (p *planner) alterNewTableColumn(t *vTable, c *vColumn, ch *columnChange) error {
	newName, newType, notNull, def, comment := ch.newName, ch.newType, ch.notNull, ch.def, ch.comment
	tq := qual(p.schema, t.Phys)
	var sqls []string
	if ch.typeChange {
		sqls = append(sqls, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" TYPE "+newType)
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
		p.expand = append(p.expand, Step{
			ID: fmt.Sprintf("alter-new-column:%s.%s:%d", t.Phys, c.Phys, p.seq), Kind: KindSQL, Tx: true,
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
