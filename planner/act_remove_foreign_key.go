package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// removeForeignKey drops a foreign key at complete, in the contract
// transaction (brief locks on both tables, no scan).
func (p *planner) removeForeignKey(ctx context.Context, a *migration.RemoveForeignKey) error {
	return p.removeConstraint(ctx, ".foreign_key", a.Table, a.ForeignKey, kFK, "f")
}
