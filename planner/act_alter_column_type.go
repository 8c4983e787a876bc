package planner

import (
	"context"
	"fmt"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// replaceColumn makes a type or nullability change through a shadow
// column: the new version reads and writes the shadow, the sync trigger
// keeps both in step with `up` and `down`, the backfill fills the shadow for
// existing rows, and complete swaps it in. Everything that depends on the
// column is carried to the shadow column (carry.go).
func (p *planner) replaceColumn(ctx context.Context, t *vTable, c *vColumn, ch *columnChange, a *migration.AlterColumn) error {
	newName, newType, notNull, def, comment := ch.newName, ch.newType, ch.notNull, ch.def, ch.comment
	before := t.clone()
	key := ".changes.nullable"
	switch {
	case ch.typeChange:
		key = ".changes.type"
	case ch.transform && !ch.nullChange:
		key = ".up"
	}
	up, down := a.Up, a.Down
	if up == "" {
		up = ident(c.Name)
	}
	if down == "" {
		down = ident(newName)
	}
	shadow := internalName(fmt.Sprintf("_strata_%d_", p.seq), newName)
	tq := qual(p.schema, t.Phys)
	oldPhys := c.Phys
	oldType := c.Type
	c.Phys = shadow
	// Everything that depends on the column is carried to the shadow
	// column, or the action is refused naming what cannot be.
	extra, collate, err := p.carryColumn(ctx, t, c, oldPhys, shadow, newType, key)
	if err != nil {
		return err
	}
	p.expand = append(p.expand, plan.Step{
		ID: fmt.Sprintf("add-shadow:%s.%s", t.Phys, shadow), Kind: plan.KindSQL, Tx: true,
		Desc: fmt.Sprintf("add shadow column %s for %s.%s", shadow, t.Phys, oldPhys),
		SQL:  append([]string{"ALTER TABLE " + tq + " ADD COLUMN IF NOT EXISTS " + ident(shadow) + " " + newType + collate}, extra...),
	})
	p.added[t.Phys] = append(p.added[t.Phys], &addedCol{Name: shadow, Type: newType, ActionNo: p.seq})
	if c.IdentitySeq != "" {
		// A plain column until complete makes it the identity column;
		// inserts of the new version take their values from the
		// identity's sequence.
		c.Generated = false
	}
	c.Type = newType
	c.NotNull = notNull
	c.Name = newName
	c.Default = def
	c.Comment = comment
	after := t.clone()
	s := p.sync(t.Phys)
	s.Up = append(s.Up, fragment{Target: shadow, Expr: up, View: before, Phys: t.Phys, Schema: p.schema,
		Type: newType, Mig: p.mig, Idx: p.idx, Key: ".up"})
	s.Down = append(s.Down, fragment{Target: oldPhys, Expr: down, View: after, Phys: t.Phys, Schema: p.schema,
		Type: oldType, Mig: p.mig, Idx: p.idx, Key: ".down"})
	s.Backfill = true
	return nil
}
