package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// renameConstraint renames a constraint at complete, in the contract
// transaction (brief ACCESS EXCLUSIVE, no scan); renaming a unique, primary
// key or exclusion constraint renames its index too. The old version keeps
// the old name while it runs (its ON CONFLICT ON CONSTRAINT and its
// matching of error messages keep working); the new version sees the new
// name after complete. Abort has nothing to undo. The constraint may be one
// of the catalog or one added earlier in the phase; later actions of the
// phase still name it by its old name.
func (p *planner) renameConstraint(ctx context.Context, a *migration.RenameConstraint) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	if p.renamedConstraint(t.Phys, a.Constraint) {
		return p.errf(".constraint", "constraint %q of table %q is already renamed in this phase", a.Constraint, a.Table)
	}
	for _, d := range p.objs.dropped {
		if d.Schema == p.schema && d.Table == t.Phys && d.Name == a.Constraint && d.Kind != kIndex && d.Kind != kStats {
			return p.errf(".constraint", "constraint %q of table %q is removed in this phase", a.Constraint, a.Table)
		}
	}
	indexed := false
	if o := p.pendingConstraint(t.Phys, a.Constraint); o != nil {
		indexed = o.Kind.isIndex() || o.Kind == kExclude
	} else {
		typ, err := p.catalogConstraint(ctx, t.Phys, a.Constraint)
		if err != nil {
			return err
		}
		switch typ {
		case "":
			return p.errf(".constraint", "table %q has no constraint %q", a.Table, a.Constraint)
		case "p", "u", "x":
			indexed = true
		}
	}
	for _, r := range p.objs.renamedCons {
		if r.Table == t.Phys && r.To == a.NewName {
			return p.errf(".new_name", "constraint %q of table %q is already renamed to %q in this phase", r.From, a.Table, a.NewName)
		}
	}
	if indexed {
		if err := p.freeIndexName(ctx, ".new_name", t, a.NewName); err != nil {
			return err
		}
	} else if err := p.freeConstraint(ctx, ".new_name", t, a.NewName); err != nil {
		return err
	}
	p.objs.renamedCons = append(p.objs.renamedCons, &consRename{Table: t.Phys, From: a.Constraint, To: a.NewName})
	return nil
}

// renamedConstraint reports whether rename_constraint renames the
// constraint name of table (physical) in this phase.
func (p *planner) renamedConstraint(table, name string) bool {
	for _, r := range p.objs.renamedCons {
		if r.Table == table && r.From == name {
			return true
		}
	}
	return false
}
