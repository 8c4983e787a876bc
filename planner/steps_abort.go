package planner

import (
	"fmt"
	"sort"

	"github.com/stratapg/strata/plan"
)

// abortSteps renders abort: the new version schema goes first, then the
// custom actions' abort SQL (in reverse), the objects start created, the
// multi-table triggers, NOT NULL put back where a multi-table link relaxed
// it, and one transaction that drops the sync triggers, the new columns and
// tables and the new enum types.
func (p *planner) abortSteps() []plan.Step {
	var out []plan.Step
	out = append(out, plan.Step{
		ID: "drop-version-schema", Kind: plan.KindSQL, Tx: true,
		Desc: fmt.Sprintf("drop version schema %s", p.version),
		SQL:  append(p.dropVersionSchemaSQL(p.version, "abort"), p.dropGoneSQL()...),
	})
	for i := len(p.abortCustom) - 1; i >= 0; i-- {
		out = append(out, p.abortCustom[i])
	}
	out = append(out, p.objectAbortSteps()...)
	undo := p.undoSQL()
	if drop := p.crossDrop(); len(drop) > 0 {
		out = append(out, plan.Step{
			ID: "drop-cross-triggers", Kind: plan.KindSQL, Tx: true,
			Desc: "drop the cross-table sync triggers",
			SQL:  drop,
		})
	}
	out = append(out, p.crossRestore()...)
	if len(undo) > 0 {
		out = append(out, plan.Step{
			ID: "undo-expand", Kind: plan.KindSQL, Tx: true,
			Desc: "drop sync triggers, new columns and new tables",
			SQL:  undo,
		})
	}
	var prevViews []string
	for _, t := range sortedTables(p.old.Tables) {
		if p.oldDiffers(t.Phys) {
			prevViews = append(prevViews, t.Name)
		}
	}
	if p.prev != "" && len(prevViews) > 0 {
		out = append(out, plan.Step{
			ID: "drop-previous-views", Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("drop the views start created in %s (identical to their tables again)", p.prev),
			// Old clients lock a view before its table: take all the
			// views first, without holding one while waiting for another.
			SQL: []string{lockAllOrNone(p.prev, prevViews), dropMarkedViewsSQL(p.prev, prevViewComment(p.version))},
		})
	}
	return out
}

// undoSQL renders abort's undo transaction: sync triggers and functions,
// NOT NULL checks, new columns, new tables, then new enum types.
func (p *planner) undoSQL() []string {
	var undo []string
	for _, phys := range p.order {
		if pt := p.cat.Tables[phys]; pt != nil {
			undo = append(undo, "DROP TRIGGER IF EXISTS _strata_sync ON "+qual(p.schema, phys))
		}
		undo = append(undo, "DROP FUNCTION IF EXISTS "+p.syncFunc(phys)+"()")
	}
	for _, x := range p.notNulls() {
		undo = append(undo, "ALTER TABLE "+qual(p.schema, x.table)+" DROP CONSTRAINT IF EXISTS "+ident(x.check))
	}
	tables := make([]string, 0, len(p.added))
	for phys := range p.added {
		tables = append(tables, phys)
	}
	sort.Strings(tables)
	for _, phys := range tables {
		if p.isCreated(phys) {
			continue
		}
		for _, a := range p.added[phys] {
			undo = append(undo, "ALTER TABLE "+qual(p.schema, phys)+" DROP COLUMN IF EXISTS "+ident(a.Name))
			if a.Identity != nil {
				// Dropping the column dropped the sequence it owns.
				undo = append(undo, "DROP SEQUENCE IF EXISTS "+qual(p.schema, a.Identity.Temp))
			}
		}
	}
	for i := len(p.created) - 1; i >= 0; i-- {
		undo = append(undo, "DROP TABLE IF EXISTS "+qual(p.schema, p.created[i]))
	}
	return append(undo, p.objectUndo()...)
}

// objectAbortSteps drop what start created: constraints first (a new
// foreign key may use a new unique index), then indexes CONCURRENTLY.
// Objects on tables created in this phase go with their table.
func (p *planner) objectAbortSteps() []plan.Step {
	var cons, idx []string
	for i := len(p.objs.pending) - 1; i >= 0; i-- {
		o := p.objs.pending[i]
		if p.onCreated(o) {
			continue
		}
		switch o.Kind {
		case kIndex, kUnique, kPKey:
			idx = append(idx, "DROP INDEX CONCURRENTLY IF EXISTS "+qual(o.Schema, o.Temp))
		case kStats:
			cons = append(cons, "DROP STATISTICS IF EXISTS "+qual(o.Schema, o.Temp))
		default:
			cons = append(cons, "ALTER TABLE "+qual(o.Schema, o.Table)+" DROP CONSTRAINT IF EXISTS "+ident(o.Temp))
		}
	}
	var out []plan.Step
	if len(cons) > 0 {
		out = append(out, plan.Step{ID: "drop-new-constraints", Kind: plan.KindSQL, Tx: true,
			Desc: "drop the constraints and statistics start added", SQL: cons,
		})
	}
	if len(idx) > 0 {
		out = append(out, plan.Step{ID: "drop-new-indexes", Kind: plan.KindSQL,
			Desc: "drop the indexes start built, concurrently", SQL: idx,
		})
	}
	return out
}

// objectUndo is the part of abort's undo transaction that drops the enum
// types created in this phase (after the tables and columns using them).
func (p *planner) objectUndo() []string {
	var out []string
	for i := len(p.objs.created) - 1; i >= 0; i-- {
		out = append(out, "DROP TYPE IF EXISTS "+qual(p.schema, p.objs.created[i]))
	}
	return out
}
