package engine

import (
	"errors"
	"fmt"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/planner"
)

// Sentinel errors callers branch on (with errors.Is).
var (
	// ErrPhaseInProgress is returned by Start and Migrate when a phase is
	// already in progress (other than an interrupted start of the same
	// migrations, which they resume), and by Complete when the phase's
	// start or abort has not finished.
	ErrPhaseInProgress = errors.New("a migration phase is already in progress")
	// ErrNoPhase is returned by Complete and Abort when no phase is in
	// progress.
	ErrNoPhase = errors.New("no migration phase is in progress")
	// ErrNothingPending is returned by Plan, Start and Migrate when every
	// migration is already completed.
	ErrNothingPending = errors.New("no pending migrations")
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
// of a phase failed. Err is the step's error.
//
// When a start step fails on an error about the work itself (data that
// violates a new constraint, a cast or an expression that fails on a row, a
// duplicate for a new unique index: see pgexec.Interrupted), start undoes
// what it did by running the abort steps of the stored plan, as strata
// abort would: Undone is then set and no phase is in progress. When that
// undo fails too, UndoErr says why and the phase is left aborting.
//
// Any other failure (the context ended, a connection broke, locks were not
// available within the deadline) leaves the phase in progress, its cursor at
// the failed step: running the same command again resumes it, or Abort
// undoes it.
type StepError struct {
	Phase   plan.Phase // the phase whose step failed
	Step    string     // the step's ID
	Err     error
	Undone  bool  // start undid what it had done
	UndoErr error // undoing the failed start failed
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("%s step %q failed: %v", e.Phase, e.Step, e.Err)
	switch {
	case e.UndoErr != nil:
		return msg + fmt.Sprintf("; undoing the start failed too: %v; hint: run `strata abort`", e.UndoErr)
	case e.Undone:
		return msg + "; start was undone (the database is as it was before start); hint: fix the data or the migration, then run `strata start` again"
	}
	switch e.Phase {
	case plan.Start:
		return msg + "; the start is interrupted, not undone; hint: run `strata start` again to resume, or `strata abort`"
	case plan.Complete:
		return msg + "; hint: run `strata complete` again to resume, or `strata abort`"
	case plan.Abort:
		return msg + "; hint: run `strata abort` again to resume it"
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrTransactionPooler is matched (errors.Is) by the error of Start,
// Complete, Abort and Migrate when strata's connections go through a
// transaction pooler and the work needs a statement that cannot run in a
// transaction (a concurrent index build, a no-transaction .sql file): a
// pooler may send the settings strata makes before such a statement to
// another server connection. Nothing was changed.
var ErrTransactionPooler = errors.New("a statement that cannot run in a transaction, through a transaction pooler")
