package planner

import (
	"context"
	"strings"

	"github.com/stratapg/strata/migration"
)

// alterColumn changes a column. A rename, a default or a comment only change
// what the new version's view shows until complete applies them. A type or
// nullability change goes through a shadow column: the new version reads and
// writes the shadow, the sync trigger keeps both in step with `up` and
// `down`, the backfill fills the shadow for existing rows, and complete swaps
// it in. No statement holds ACCESS EXCLUSIVE while scanning or rewriting.
// A data transform (up and down, the type stays: Reshape's form) takes the
// same path as a type change to the same type.
func (p *planner) alterColumn(ctx context.Context, a *migration.AlterColumn) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	c := t.col(a.Column)
	if c == nil {
		return p.errf(".column", "column %q does not exist in table %q%s", a.Column, a.Table, t.colHint(a.Column))
	}
	ch, err := p.resolveColumnChange(ctx, t, c, a)
	if err != nil {
		return err
	}
	if t.Created {
		return p.alterNewTableColumn(ctx, t, c, ch, a.Up)
	}
	if p.addedIdentity(t.Phys, c.Phys) != nil && (ch.typeChange || ch.nullChange || !sameExpr(ch.def, c.Default)) {
		return p.errf(".column", "column %q becomes an identity column at the complete of this phase; change its type, nullability or default in a later migration", a.Column)
	}
	if c.Generated && c.Identity == "" && ch.transform {
		return p.errf(".up", "column %q is a generated column: its value is computed, so up and down cannot transform it", a.Column)
	}
	if c.Generated && c.Identity == "" && (ch.typeChange || ch.nullChange) {
		return p.errf(".column", "column %q is a generated column; changing its type or nullability would rewrite the table under an ACCESS EXCLUSIVE lock and is not supported", a.Column)
	}
	if c.Identity != "" && !ch.notNull {
		return p.errf(".changes.nullable", "column %q is an identity column, which is always NOT NULL", a.Column)
	}
	if ch.typeChange || ch.nullChange || ch.transform {
		return p.replaceColumn(ctx, t, c, ch, a)
	}
	// A rename, a default or a comment: only the new version's view
	// changes until complete applies them.
	c.Name = ch.newName
	c.Default = ch.def
	c.Comment = ch.comment
	return nil
}

// columnChange is what an alter_column action makes of a column.
type columnChange struct {
	newName, newType    string
	typeChange          bool
	notNull, nullChange bool
	// transform: up and down rewrite the values, the type stays.
	transform    bool
	def, comment *string
}

// resolveColumnChange resolves and checks the changes of an alter_column action
// to column c of table t.
func (p *planner) resolveColumnChange(ctx context.Context, t *vTable, c *vColumn, a *migration.AlterColumn) (*columnChange, error) {
	ch := a.Changes
	newName := c.Name
	if ch.Name != nil && *ch.Name != c.Name {
		if t.col(*ch.Name) != nil {
			return nil, p.errf(".changes.name", "column %q already exists in table %q", *ch.Name, a.Table)
		}
		newName = *ch.Name
	}
	newType := c.Type
	typeChange := false
	if ch.Type != nil {
		if err := p.checkType(ctx, ".changes.type", *ch.Type); err != nil {
			return nil, err
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
				return nil, p.errf(".changes.type", "the column's default %s does not fit type %s; set changes.default", *def, newType)
			}
			return nil, err
		}
	}
	comment := c.Comment
	if ch.Comment != nil {
		cm := *ch.Comment
		comment = &cm
	}
	return &columnChange{newName: newName, newType: newType, typeChange: typeChange, notNull: notNull,
		nullChange: nullChange, transform: a.IsTransform(), def: def, comment: comment}, nil
}
