package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/plan"
)

// startSteps renders start: the actions' own steps, the sync triggers (in
// their backfill form while a backfill may run), the multi-table triggers,
// the backfills, the steady-state sync triggers, the NOT NULL checks of new
// columns, the pending objects and the new version schema.
func (p *planner) startSteps(ctx context.Context) ([]plan.Step, error) {
	var out []plan.Step
	prevViews, err := p.previousViewsSQL()
	if err != nil {
		return nil, err
	}
	if len(prevViews) > 0 {
		out = append(out, plan.Step{
			ID: "previous-version-views", Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("create the views of %s for the tables this phase changes, before changing them", p.prev),
			SQL:  prevViews,
		})
	}
	out = append(out, p.expand...)
	// While a backfill may run, the sync triggers carry the backfill's
	// bypass; once the backfills are done they are replaced by their
	// cheaper steady-state form.
	cross := p.crossBackfills()
	backfills := len(cross) > 0
	for _, phys := range p.order {
		backfills = backfills || p.syncs[phys].Backfill
	}
	var synced []string
	for _, phys := range p.order {
		s := p.syncs[phys]
		if len(s.Up) == 0 && len(s.Down) == 0 {
			continue
		}
		synced = append(synced, phys)
		out = append(out, plan.Step{
			ID: "sync-trigger:" + phys, Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("install the sync trigger on %s", phys),
			SQL:  p.triggerSQL(s, backfills),
		})
	}
	out = append(out, p.crossExpand()...)
	for _, phys := range p.order {
		s := p.syncs[phys]
		if !s.Backfill {
			continue
		}
		st, err := p.backfillStep(s)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	out = append(out, cross...)
	if backfills {
		for _, phys := range synced {
			out = append(out, plan.Step{
				ID: "sync-trigger-steady:" + phys, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("replace the sync trigger on %s by its steady-state form (backfill bypass removed)", phys),
				SQL:  p.triggerSQL(p.syncs[phys], false),
			})
		}
	}
	for _, x := range p.notNulls() {
		out = append(out,
			plan.Step{ID: "not-null-check:" + x.table + "." + x.col, Kind: plan.KindSQL, Tx: true,
				Desc: p.notNullDesc("add NOT VALID check %s.%s IS NOT NULL", "add NOT VALID NOT NULL constraint on %s.%s", x),
				SQL:  []string{p.addNotNullSQL(x.table, x.col, x.check)}},
			plan.Step{ID: "validate:" + x.table + "." + x.col, Kind: plan.KindSQL, Tx: true,
				Desc: p.notNullDesc("validate the NOT NULL check on %s.%s", "validate the NOT NULL constraint on %s.%s", x),

				SQL: []string{"ALTER TABLE " + qual(p.schema, x.table) + " VALIDATE CONSTRAINT " + ident(x.check)}})
	}
	objStart, err := p.objectSteps(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, objStart...)
	views, err := p.viewsSQL()
	if err != nil {
		return nil, err
	}
	what := "views of the tables whose shape differs"
	if p.reshape() {
		what = "reshape style: a view of every table"
	}
	out = append(out, plan.Step{
		ID: "version-schema", Kind: plan.KindSQL, Tx: true,
		Desc: fmt.Sprintf("create version schema %s (%s)", p.version, what),
		SQL:  views,
	})
	return out, nil
}

// backfillStep renders the backfill of one table's new columns.
func (p *planner) backfillStep(s *tableSync) (plan.Step, error) {
	phys := s.Phys
	pt := p.cat.Tables[phys]
	if pt == nil || (len(pt.Key) == 0 && p.cat.PGMajor < 14) {
		return plan.Step{}, &PlanError{Where: p.mig.File, Msg: fmt.Sprintf("table %q has no primary key or unique index over NOT NULL columns; before PostgreSQL 14 strata needs one to backfill it in batches", phys)}
	}
	var types []string
	for _, k := range pt.Key {
		types = append(types, p.cat.column(phys, k).Type)
	}
	set, direct := p.directSet(s)
	if !direct {
		set = s.Set
		if len(set) == 0 {
			// A no-op assignment that fires the sync trigger.
			target := s.Up[0].Target
			set = []string{ident(target) + " = " + ident(target)}
		}
	}
	return plan.Step{
		ID: "backfill:" + phys, Kind: plan.KindBackfill,
		Desc: fmt.Sprintf("backfill the new columns of %s in batches", phys),

		Backfill: &plan.BackfillSpec{Schema: p.schema, Table: phys, Key: pt.Key, KeyTypes: types,
			Set: strings.Join(set, ", "), Direct: direct},
	}, nil
}

// objectSteps are start's steps for the pending objects, run after the
// backfills: indexes first (a foreign key may need a new unique index),
// then exclusion constraints and statistics, then checks and foreign keys
// NOT VALID, each validated in its own transaction.
func (p *planner) objectSteps(ctx context.Context) ([]plan.Step, error) {
	p.prunePending()
	if err := p.probeObjects(ctx); err != nil {
		return nil, err
	}
	var out, cons []plan.Step
	for _, o := range p.objs.pending {
		tq := qual(o.Schema, o.Table)
		switch o.Kind {
		case kIndex, kUnique, kPKey:
			what := "build index " + o.Temp + " on " + o.Table
			if o.Carried != nil {
				what = fmt.Sprintf("build index %s on %s, carrying %s %s to the new column", o.Temp, o.Table, o.Carried.Kind, o.Carried.Name)
			}
			out = append(out, plan.Step{
				ID: "index:" + o.Schema + "." + o.Temp, Kind: plan.KindIndex, Desc: what,
				SQL:   []string{o.render()},
				Index: &plan.IndexSpec{Schema: o.Schema, Table: o.Table, Name: o.Temp},
			})
		case kExclude:
			out = append(out, plan.Step{
				ID: "exclusion:" + o.Table + "." + o.Temp, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("add exclusion constraint %s on %s, carrying %s (builds its index under ACCESS EXCLUSIVE: PostgreSQL cannot build it concurrently)", o.Temp, o.Table, o.Name),
				SQL:  []string{o.render()},
			})
		case kStats:
			out = append(out, plan.Step{
				ID: "statistics:" + o.Schema + "." + o.Temp, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("create statistics %s on %s", o.Temp, o.Table),
				SQL:  []string{o.render()},
			})
		case kCheck, kFK:
			cons = append(cons, plan.Step{
				ID: "constraint:" + o.Table + "." + o.Temp, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("add %s %s on %s NOT VALID", o.Kind, o.Temp, o.Table),
				SQL:  []string{o.render()},
			})
			if !o.NotValid {
				cons = append(cons, plan.Step{
					ID: "validate-constraint:" + o.Table + "." + o.Temp, Kind: plan.KindSQL, Tx: true,
					Desc: fmt.Sprintf("validate %s %s on %s", o.Kind, o.Temp, o.Table),
					SQL:  []string{"ALTER TABLE " + tq + " VALIDATE CONSTRAINT " + ident(o.Temp)},
				})
			}
		}
	}
	out = append(out, cons...)
	// Enum values renamed in an enum the phase created: only the new
	// version uses it, so now.
	return out, nil
}

// directSet renders the backfill's SET list computing every new column in
// the UPDATE itself, which is much faster than going through the sync
// trigger. It is possible when each up expression reads only columns the
// table had before the phase, under their own names (an expression that
// reads a column computed by an earlier action needs the trigger's order).
func (p *planner) directSet(s *tableSync) ([]string, bool) {
	var set []string
	for _, f := range s.Up {
		lower := strings.ToLower(f.Expr)
		for _, c := range f.View.Columns {
			if !strings.Contains(lower, strings.ToLower(c.Name)) {
				continue
			}
			if c.Name != c.Phys || p.cat.column(f.Phys, c.Phys) == nil {
				return nil, false
			}
		}
		set = append(set, ident(f.Target)+" = ("+f.Expr+")")
	}
	return append(set, s.Set...), true
}
