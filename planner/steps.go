package planner

import (
	"context"

	"github.com/strata-db/strata/plan"
)

// The step builders. Actions register what they need in the planner's model
// (new columns, sync fragments, pending objects, multi-table syncs, custom
// SQL); once every action has run, finish checks what could only be checked
// with the final shape and renders the three phases from the model and from
// the difference between the final model and the physical tables:
// steps_start.go, steps_complete.go and steps_abort.go.

// finish assembles the start, complete and abort steps.
func (p *planner) finish(ctx context.Context) (*plan.Plan, error) {
	if err := p.checkFragments(ctx); err != nil {
		return nil, err
	}
	if err := p.crossCheck(ctx); err != nil {
		return nil, err
	}
	if err := p.checkNames(ctx); err != nil {
		return nil, err
	}
	out := &plan.Plan{Version: plan.Version, PGMajor: p.cat.PGMajor, Schema: p.schema, VersionSchema: p.version, PreviousSchema: p.prev, VersionStyle: p.style}
	var err error
	if out.Start, err = p.startSteps(ctx); err != nil {
		return nil, err
	}
	out.Complete = p.completeSteps()
	out.Abort = p.abortSteps()
	return out, nil
}

// checkFragments checks the sync expressions, which can only be checked
// now that the final shape is known.
func (p *planner) checkFragments(ctx context.Context) error {
	for _, phys := range p.order {
		s := p.syncs[phys]
		for i := range s.Up {
			if err := p.scope(ctx, &s.Up[i], p.old); err != nil {
				return err
			}
		}
		for i := range s.Down {
			if err := p.scope(ctx, &s.Down[i], p.cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// notNull is NOT NULL on a column added in this phase to an existing
// table: a NOT VALID check at start, validated without blocking writers,
// turned into SET NOT NULL at complete; abort drops the check.
type notNull struct{ table, col, check string }

func (p *planner) notNulls() []notNull {
	var out []notNull
	for _, t := range p.cur.Tables {
		if t.Created {
			continue
		}
		for _, a := range p.added[t.Phys] {
			c := colByPhys(t, a.Name)
			if c == nil || !c.NotNull || a.NotNull {
				continue
			}
			out = append(out, notNull{t.Phys, a.Name, internalName("_strata_nn_", a.Name)})
		}
	}
	return append(out, p.objs.pkNotNull...)
}
