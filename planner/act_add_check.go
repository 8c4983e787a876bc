package planner

import (
	"context"
	"fmt"

	"github.com/stratapg/strata/migration"
)

// addCheck adds a CHECK constraint NOT VALID at start, after the backfills
// (brief ACCESS EXCLUSIVE, no scan), then validates it in its own
// transaction (SHARE UPDATE EXCLUSIVE: reads and writes go on). From the
// moment it is added it holds for every row written by either version. The
// expression names columns as the new version does. Abort drops it.
func (p *planner) addCheck(ctx context.Context, a *migration.AddCheck) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	if err := p.freeConstraint(ctx, ".check.name", t, a.Check.Name); err != nil {
		return err
	}
	sql := "ALTER TABLE " + qual(p.schema, t.Phys) + " ADD CONSTRAINT " + ident(a.Check.Name) +
		" CHECK (" + a.Check.Expression + "\n)"
	if a.Check.NoInherit {
		sql += " NO INHERIT"
	}
	sql += " NOT VALID"
	stmt, err := p.parseStmt(".check.expression", sql)
	if err != nil {
		return err
	}
	if err := p.toPhysical(".check.expression", stmt, t); err != nil {
		return err
	}
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kCheck, Schema: p.schema, Table: t.Phys, Name: a.Check.Name,
		Temp: a.Check.Name, Stmt: stmt, Mig: p.mig, Idx: p.idx, Key: ".check.expression"})
	return nil
}

// freeConstraint checks that table t has no constraint called name, in the
// catalog (unless dropped in this phase) or pending.
func (p *planner) freeConstraint(ctx context.Context, key string, t *vTable, name string) error {
	if p.pendingConstraint(t.Phys, name) != nil {
		return p.errf(key, "constraint %q already exists on table %q", name, t.Name)
	}
	typ, err := p.catalogConstraint(ctx, t.Phys, name)
	if err != nil {
		return err
	}
	if typ != "" {
		return p.errf(key, "constraint %q already exists on table %q", name, t.Name)
	}
	return nil
}

// catalogConstraint returns the type (pg_constraint.contype) of the
// constraint called name on a table of the managed schema, "" if none.
func (p *planner) catalogConstraint(ctx context.Context, table, name string) (string, error) {
	typ, err := p.pr.ConstraintType(ctx, p.schema, table, name)
	if err != nil {
		return "", fmt.Errorf("look up constraint %s: %w", name, err)
	}
	return typ, nil
}

// removeConstraint drops a check or foreign key at complete (in the
// contract transaction); one added earlier in the phase is not added.
func (p *planner) removeConstraint(ctx context.Context, key, table, name string, kind objKind, contype string) error {
	t, err := p.table(".table", table)
	if err != nil {
		return err
	}
	if p.renamedConstraint(t.Phys, name) {
		return p.errf(key, "constraint %q of table %q is renamed in this phase; remove it in the next one", name, table)
	}
	if o := p.pendingConstraint(t.Phys, name); o != nil {
		if o.Kind != kind {
			return p.errf(key, "constraint %q of table %q is a %s, not a %s", name, table, o.Kind, kind)
		}
		// A new one is not added; a carried one is not rebuilt (its
		// original is dropped at complete already).
		p.forget(o)
		return nil
	}
	for _, d := range p.objs.dropped {
		if d.Schema == p.schema && d.Table == t.Phys && d.Name == name && d.Kind == kind {
			return p.errf(key, "%s %q of table %q is already removed in this phase", kind, name, table)
		}
	}
	typ, err := p.catalogConstraint(ctx, t.Phys, name)
	if err != nil {
		return err
	}
	if typ == "" {
		return p.errf(key, "table %q has no constraint %q", table, name)
	}
	if typ != contype {
		return p.errf(key, "constraint %q of table %q is not a %s", name, table, kind)
	}
	p.objs.dropped = append(p.objs.dropped, &catObj{Kind: kind, Schema: p.schema, Table: t.Phys, Name: name})
	return nil
}
