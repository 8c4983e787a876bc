package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// removeAnyConstraint drops a constraint of any kind but a primary key
// (check, foreign key, unique, exclusion) at complete, in the contract
// transaction: the old version's writes keep satisfying it until then. A
// unique or exclusion constraint goes with its index. One added earlier in
// the phase is not added at all.
func (p *planner) removeAnyConstraint(ctx context.Context, a *migration.RemoveConstraint) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	var kind objKind
	var contype string
	if o := p.pendingConstraint(t.Phys, a.Constraint); o != nil {
		kind = o.Kind
	} else {
		contype, err = p.catalogConstraint(ctx, t.Phys, a.Constraint)
		if err != nil {
			return err
		}
		switch contype {
		case "":
			return p.errf(".constraint", "table %q has no constraint %q", a.Table, a.Constraint)
		case "c":
			kind = kCheck
		case "f":
			kind = kFK
		case "u":
			kind = kUnique
		case "x":
			kind = kExclude
		case "p":
			kind = kPKey
		default:
			return p.errf(".constraint", "constraint %q of table %q is not a check, foreign key, unique or exclusion constraint", a.Constraint, a.Table)
		}
	}
	if kind == kPKey {
		return p.errf(".constraint", "constraint %q of table %q is its primary key: strata needs a key to backfill and sync rows", a.Constraint, a.Table)
	}
	return p.removeConstraint(ctx, ".constraint", a.Table, a.Constraint, kind, contype)
}
