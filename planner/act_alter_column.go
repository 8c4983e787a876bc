package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/strata-db/strata/migration"
)

// alterColumn changes a column. A rename, a default or a comment only change
// what the new version's view shows until complete applies them. A type or
// nullability change goes through a shadow column: the new version reads and
// writes the shadow, the sync trigger keeps both in step with `up` and
// `down`, the backfill fills the shadow for existing rows, and complete swaps
// it in. No statement holds ACCESS EXCLUSIVE while scanning or rewriting.
func (p *planner) alterColumn(ctx context.Context, a *migration.AlterColumn) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	c := t.col(a.Column)
	if c == nil {
		return p.errf(".column", "column %q does not exist in table %q", a.Column, a.Table)
	}
	ch := a.Changes
	newName := c.Name
	if ch.Name != nil && *ch.Name != c.Name {
		if t.col(*ch.Name) != nil {
			return p.errf(".changes.name", "column %q already exists in table %q", *ch.Name, a.Table)
		}
		newName = *ch.Name
	}
	newType := c.Type
	typeChange := false
	if ch.Type != nil {
		if err := p.checkType(ctx, ".changes.type", *ch.Type); err != nil {
			return err
		}
		newType = *ch.Type
		typeChange = true
	}
	notNull := c.NotNull
	if ch.Nullable != nil {
		notNull = !*ch.Nullable
	}
	nullChange := notNull != c.NotNull
	def := c.Default
	if ch.Default != nil {
		if strings.EqualFold(strings.TrimSpace(*ch.Default), "NULL") {
			def = nil
		} else {
			d := *ch.Default
			def = &d
		}
	}
	if def != nil && (typeChange || ch.Default != nil) {
		// Checked as a column default (assignment cast), as it will be used.
		if _, err := p.fastDefault(ctx, ".changes.default", newType, *def); err != nil {
			if ch.Default == nil {
				return p.errf(".changes.type", "the column's default %s does not fit type %s; set changes.default", *def, newType)
			}
			return err
		}
	}
	comment := c.Comment
	if ch.Comment != nil {
		cm := *ch.Comment
		comment = &cm
	}
	if t.Created {
		return p.alterNewTableColumn(t, c, newName, newType, typeChange, notNull, nullChange, def, comment, a)
	}
	if c.Generated && c.Identity == "" && (typeChange || nullChange) {
		return p.errf(".column", "column %q is a generated column; changing its type or nullability would rewrite the table under an ACCESS EXCLUSIVE lock and is not supported", a.Column)
	}
	if c.Identity != "" && !notNull {
		return p.errf(".changes.nullable", "column %q is an identity column, which is always NOT NULL", a.Column)
	}
	before := t.clone()
	if typeChange || nullChange {
		key := ".changes.nullable"
		if typeChange {
			key = ".changes.type"
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
		p.expand = append(p.expand, Step{
			ID: fmt.Sprintf("add-shadow:%s.%s", t.Phys, shadow), Kind: KindSQL, Tx: true,
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
	c.Name = newName
	c.Default = def
	c.Comment = comment
	return nil
}

// alterNewTableColumn changes a column of a table created in this phase
// directly: no app version has written to it yet.
func (p *planner) alterNewTableColumn(t *vTable, c *vColumn, newName, newType string, typeChange, notNull, nullChange bool, def, comment *string, a *migration.AlterColumn) error {
	tq := qual(p.schema, t.Phys)
	var sqls []string
	if typeChange {
		sqls = append(sqls, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" TYPE "+newType)
	}
	if nullChange {
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

// columnDependents lists what depends on a physical column, other than
// strata's own objects.
func (p *planner) columnDependents(ctx context.Context, table, col string) ([]string, error) {
	deps, err := p.pr.ColumnDependents(ctx, p.schema, table, col)
	if err != nil {
		return nil, fmt.Errorf("engine: read dependents of %s.%s: %w", table, col, err)
	}
	var out []string
	for _, d := range deps {
		if p.prev != "" && d.ViewSchema == p.prev {
			continue
		}
		out = append(out, d.What)
	}
	return out, nil
}
