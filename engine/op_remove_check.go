package engine

import "github.com/strata-db/strata/migration"

// removeCheck drops a CHECK constraint at complete, in the contract
// transaction (brief ACCESS EXCLUSIVE, no scan): the old version's rows
// keep satisfying it until then.
func (p *planner) removeCheck(a *migration.RemoveCheck) error {
	return p.removeConstraint(".check", a.Table, a.Check, kCheck, "c")
}
