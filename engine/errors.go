package engine

import (
	"errors"

	"github.com/strata-db/strata/internal/pgexec"
	"github.com/strata-db/strata/planner"
)

// Sentinel errors callers branch on (with errors.Is).
var (
	ErrPhaseInProgress = errors.New("engine: a migration phase is already in progress")
	ErrNoPhase         = errors.New("engine: no migration phase is in progress")
	ErrNothingPending  = errors.New("engine: no pending migrations")
	ErrBusy            = pgexec.ErrBusy
)

// ErrInvalid is matched (errors.Is) by errors about a migration that cannot
// be applied to this database, found before anything was changed.
var ErrInvalid = planner.ErrInvalid

// PlanError locates a problem in a migration file.
type PlanError = planner.PlanError
