package engine_test

import (
	"errors"
	"testing"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/plan"
)

func TestStepError(t *testing.T) {
	inner := errors.New("boom")
	var err error = &engine.StepError{Phase: plan.Complete, Step: "contract", Err: inner}
	if got, want := err.Error(), "complete step \"contract\" failed: boom; hint: run `strata complete` again to resume, or `strata abort`"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("errors.Is(StepError, its Err) = false")
	}
	var se *engine.StepError
	if !errors.As(err, &se) || se.Phase != plan.Complete {
		t.Errorf("errors.As: %v", se)
	}
	var pe error = &engine.PlanError{Where: "f.toml:1", Msg: "bad"}
	if !errors.Is(pe, engine.ErrInvalid) {
		t.Error("PlanError is not ErrInvalid")
	}
}
