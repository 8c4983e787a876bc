package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// removeIndex drops an index at complete, after the contract, with DROP
// INDEX CONCURRENTLY: the old version keeps using it until then. An index
// added earlier in the same phase is simply not built. An index that backs
// a constraint (primary key, unique, exclusion) is refused.
func (p *planner) removeIndex(ctx context.Context, a *migration.RemoveIndex) error {
	if o := p.pendingIndex(a.Index); o != nil {
		if o.Kind != kIndex {
			return p.errf(".index", "index %q backs the %s %q of table %q; it cannot be removed on its own", a.Index, o.Kind, o.Name, o.Table)
		}
		// A new index is not built; a carried one is not rebuilt (its
		// original goes with the replaced column).
		p.forget(o)
		return nil
	}
	for _, r := range p.objs.removedIdx {
		if r == a.Index {
			return p.errf(".index", "index %q is already removed in this phase", a.Index)
		}
	}
	ix, err := p.catalogIndex(ctx, a.Index)
	if err != nil {
		return err
	}
	if ix == nil {
		return p.errf(".index", "index %q does not exist in schema %q", a.Index, p.schema)
	}
	if ix.Constraint != "" {
		return p.errf(".index", "index %q backs constraint %q of table %q; it cannot be removed on its own", a.Index, ix.Constraint, ix.Table)
	}
	p.objs.removedIdx = append(p.objs.removedIdx, a.Index)
	return nil
}
