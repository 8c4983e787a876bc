package planner

import (
	"context"
	"slices"
	"strings"

	"github.com/stratapg/strata/migration"
)

// setReplicaIdentity sets what the table's updates and deletes write to the
// WAL for logical decoding. It is a property of the table, not of a
// version, so it changes once, at complete, in the contract transaction
// (ALTER TABLE ... REPLICA IDENTITY, a brief ACCESS EXCLUSIVE lock, no
// scan), after the indexes of the phase are built and named; abort has
// nothing to undo: the table keeps its replica identity. With identity
// "index", the index must be unique, not partial, not deferrable, without
// expressions, over NOT NULL columns: an existing index or one the phase
// adds.
func (p *planner) setReplicaIdentity(ctx context.Context, a *migration.SetReplicaIdentity) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	sql := "ALTER TABLE " + qual(p.schema, t.Phys) + " REPLICA IDENTITY "
	if a.Identity != "index" {
		p.objs.replIdent = append(p.objs.replIdent, sql+strings.ToUpper(a.Identity))
		return nil
	}
	var cols []string
	if o := p.pendingIndex(a.Index); o != nil && o.Carried == nil {
		is := o.Stmt.GetIndexStmt()
		if o.Table != t.Phys {
			return p.errf(".index", "index %q is on table %q, not %q", a.Index, o.Table, t.Phys)
		}
		if !is.Unique || is.WhereClause != nil || o.Deferrable {
			return p.errf(".index", "index %q cannot be a replica identity: it must be unique, not partial and not deferrable", a.Index)
		}
		for _, e := range is.IndexParams {
			ie := e.GetIndexElem()
			if ie == nil || ie.Name == "" {
				return p.errf(".index", "index %q cannot be a replica identity: it has an expression column", a.Index)
			}
			cols = append(cols, ie.Name)
		}
	} else {
		ix, err := p.catalogIndex(ctx, a.Index)
		if err != nil {
			return err
		}
		switch {
		case ix == nil:
			return p.errf(".index", "index %q does not exist in schema %q", a.Index, p.schema)
		case ix.Table != t.Phys:
			return p.errf(".index", "index %q is on table %q, not %q", a.Index, ix.Table, t.Phys)
		case slices.Contains(p.objs.removedIdx, a.Index):
			return p.errf(".index", "index %q is removed in this phase", a.Index)
		case !ix.Unique || ix.Partial || ix.Deferrable:
			return p.errf(".index", "index %q cannot be a replica identity: it must be unique, not partial and not deferrable", a.Index)
		case ix.Exprs:
			return p.errf(".index", "index %q cannot be a replica identity: it has an expression column", a.Index)
		}
		cols = ix.Columns
	}
	for _, phys := range cols {
		if c := colByPhys(t, phys); c != nil && !c.NotNull {
			return p.errf(".index", "index %q cannot be a replica identity: its column %q is nullable", a.Index, c.Name)
		}
	}
	p.objs.replIdent = append(p.objs.replIdent, sql+"USING INDEX "+ident(a.Index))
	return nil
}
