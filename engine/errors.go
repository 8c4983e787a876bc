package engine

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/internal/pgexec"
	"github.com/strata-db/strata/plan"
	"github.com/strata-db/strata/planner"
)

// Sentinel errors callers branch on (with errors.Is).
var (
	// ErrPhaseInProgress is returned by Start and Migrate when a phase is
	// already in progress (other than an interrupted start of the same
	// migrations, which they resume), and by Complete when the phase's
	// start or abort has not finished.
	ErrPhaseInProgress = errors.New("engine: a migration phase is already in progress")
	// ErrNoPhase is returned by Complete and Abort when no phase is in
	// progress.
	ErrNoPhase = errors.New("engine: no migration phase is in progress")
	// ErrNothingPending is returned by Plan, Start and Migrate when every
	// migration is already completed.
	ErrNothingPending = errors.New("engine: no pending migrations")
	// ErrBusy is matched by the error of Init, Start, Complete, Abort and
	// Migrate when another strata process holds the state schema's
	// advisory lock (after Options.LockWait): a *BusyError naming it.
	ErrBusy = pgexec.ErrBusy
)

// ErrInvalid is matched (errors.Is) by errors about a migration that cannot
// be applied to this database, found before anything was changed: Plan,
// Start and Migrate return them, as a *PlanError.
var ErrInvalid = planner.ErrInvalid

// PlanError locates a problem in a migration file (see ErrInvalid).
type PlanError = planner.PlanError

// StepError is returned by Start, Complete, Abort and Migrate when a step
// of a phase failed: the phase is left in progress, its cursor at the
// failed step, and running the same command again resumes it (or Abort
// undoes it). Err is the step's error.
type StepError struct {
	Phase plan.Phase // the phase whose step failed
	Step  string     // the step's ID
	Err   error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("engine: %s step %q failed: %v", e.Phase, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrTransactionPooler is matched (errors.Is) by the error of Start,
// Complete, Abort and Migrate when strata's connections go through a
// transaction pooler and the work needs a statement that cannot run in a
// transaction (a concurrent index build, a no-transaction .sql file): a
// pooler may send the settings strata makes before such a statement to
// another server connection. Nothing was changed.
var ErrTransactionPooler = errors.New("engine: a statement that cannot run in a transaction, through a transaction pooler")
