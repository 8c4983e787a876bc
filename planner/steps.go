package planner

import (
	"context"
	"fmt"

	"github.com/stratapg/strata/plan"
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
// turned into SET NOT NULL at complete; abort drops the check. On
// PostgreSQL 18 and later it is a NOT VALID NOT NULL constraint instead
// (notNullSQL), validated the same way and renamed at complete.
type notNull struct {
	table, col, check string
	final             string // the column's name once complete has run (a shadow column is renamed)
}

// notNullConstraints reports whether the server can add NOT NULL as a NOT
// VALID constraint and validate it later (PostgreSQL 18), which spares the
// check-constraint detour: the validated constraint is the column's NOT
// NULL itself.
func (p *planner) notNullConstraints() bool { return p.cat.PGMajor >= 18 }

// notNullDesc picks a step description for x by the form in use.
func (p *planner) notNullDesc(check, constraint string, x notNull) string {
	if p.notNullConstraints() {
		return fmt.Sprintf(constraint, x.table, x.col)
	}
	return fmt.Sprintf(check, x.table, x.col)
}

// addNotNullSQL renders the NOT VALID constraint that makes col NOT NULL
// for new rows, named name: a NOT NULL constraint on PostgreSQL 18, a
// check before.
func (p *planner) addNotNullSQL(table, col, name string) string {
	if p.notNullConstraints() {
		return "ALTER TABLE " + qual(p.schema, table) + " ADD CONSTRAINT " + ident(name) + " NOT NULL " + ident(col) + " NOT VALID"
	}
	return "ALTER TABLE " + qual(p.schema, table) + " ADD CONSTRAINT " + ident(name) + " CHECK (" + ident(col) + " IS NOT NULL) NOT VALID"
}

// finishNotNullSQL renders what turns the validated check name into the
// column's NOT NULL before PostgreSQL 18: SET NOT NULL (no scan: the check
// proves it) and the check dropped. (On 18 the validated constraint already
// is the column's NOT NULL; the contract names it, notNullNamesSQL.)
func (p *planner) finishNotNullSQL(table, col, name string) []string {
	tq := qual(p.schema, table)
	return []string{"ALTER TABLE " + tq + " ALTER COLUMN " + ident(col) + " SET NOT NULL", "ALTER TABLE " + tq + " DROP CONSTRAINT IF EXISTS " + ident(name)}
}

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
			out = append(out, notNull{t.Phys, a.Name, internalName("_strata_nn_", a.Name), c.Name})
		}
	}
	return append(out, p.objs.pkNotNull...)
}
