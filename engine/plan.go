package engine

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/migration"
	"github.com/strata-db/strata/plan"
	"github.com/strata-db/strata/planner"
)

// PlanVersion is the layout version of a stored plan.
const PlanVersion = plan.Version

// Plan, Step and the step kinds are package plan's; these names keep the
// engine's API readable.
type (
	Plan         = plan.Plan
	Step         = plan.Step
	BackfillSpec = plan.BackfillSpec
	IndexSpec    = plan.IndexSpec
)

// Step kinds (see package plan).
const (
	KindSQL      = plan.KindSQL
	KindBackfill = plan.KindBackfill
	KindIndex    = plan.KindIndex
)

// errPlanned rolls back the planning transaction once the plan is built.
var errPlanned = errors.New("engine: plan built")

// plan builds the plan in a transaction that is always rolled back. Reading
// the catalog locks the tables briefly (ACCESS SHARE), so a session holding
// a conflicting lock makes it time out: like every statement, it is retried
// within the lock deadline.
func (m *Migrator) plan(ctx context.Context, conn *pgx.Conn, pend []*migration.Migration, prev string) (*Plan, error) {
	var p *Plan
	opts := planner.Options{Schema: m.opts.Schema, StateSchema: m.opts.StateSchema, PreviousSchema: prev}
	err := m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		var err error
		if p, err = planner.Build(ctx, planner.NewTxProber(tx), opts, pend); err != nil {
			return err
		}
		return errPlanned
	})
	if errors.Is(err, errPlanned) {
		return p, nil
	}
	return nil, err
}
