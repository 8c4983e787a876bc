package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// removeCheck drops a CHECK constraint at complete, in the contract
// transaction (brief ACCESS EXCLUSIVE, no scan): the old version's rows
// keep satisfying it until then.
func (p *planner) removeCheck(ctx context.Context, a *migration.RemoveCheck) error {
	return p.removeConstraint(ctx, ".check", a.Table, a.Check, kCheck, "c")
}
