package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/planner"
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
var errPlanned = errors.New("plan built")

// plan builds the plan in a transaction that is always rolled back. Reading
// the catalog locks the tables briefly (ACCESS SHARE), so a session holding
// a conflicting lock makes it time out: like every statement, it is retried
// within the lock deadline.
func (m *Migrator) plan(ctx context.Context, conn *pgx.Conn, pend []*migration.Migration, prev string) (*Plan, error) {
	var p *Plan
	opts := planner.Options{Schema: m.opts.Schema, StateSchema: m.opts.StateSchema, PreviousSchema: prev,
		VersionStyle: m.opts.VersionSchemaStyle}
	err := m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		var err error
		if ok, err := m.store.Installed(ctx, tx); err != nil {
			return err
		} else if ok {
			if opts.EnumValuesLeft, err = m.store.EnumValuesLeft(ctx, tx, m.opts.Schema); err != nil {
				return err
			}
		}
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

// PhasePlan is the plan of the phase in progress, as start stored it, with
// how far each of its step lists has run.
type PhasePlan struct {
	Migrations    []string
	State         string // starting, started, completing, aborting
	VersionSchema string
	Plan          *Plan
	// StartDone, CompleteDone and AbortDone count the recorded steps of
	// each list.
	StartDone, CompleteDone, AbortDone int
}

// PhasePlan returns the stored plan of the phase in progress, nil when no
// phase is in progress. It takes no lock and changes nothing.
func (m *Migrator) PhasePlan(ctx context.Context) (*PhasePlan, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	ph, err := m.phase(ctx, conn)
	if err != nil || ph == nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(ph.Plan, &p); err != nil {
		return nil, fmt.Errorf("decode stored plan: %w", err)
	}
	return &PhasePlan{Migrations: ph.Names(), State: ph.State, VersionSchema: ph.VersionSchema, Plan: &p,
		StartDone: ph.StartCursor, CompleteDone: ph.CompleteCursor, AbortDone: ph.AbortCursor}, nil
}
