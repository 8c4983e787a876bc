package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleAddingCheckWithoutNotValid = rule{
	Rule: Rule{
		Code:     "SA006",
		Name:     "adding-check-without-not-valid",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ADD CONSTRAINT ... CHECK without NOT VALID scans the table under ACCESS EXCLUSIVE",
		Why: "Adding a CHECK constraint verifies every existing row while holding an ACCESS EXCLUSIVE lock, so reads " +
			"and writes wait for the whole scan.",
		SafeWay: "Add it with NOT VALID (instant; new and updated rows are checked from then on), then run ALTER TABLE ... " +
			"VALIDATE CONSTRAINT in a later transaction: it scans under SHARE UPDATE EXCLUSIVE, which lets reads and " +
			"writes go on. For a CHECK on a new column, add the column first and the constraint separately.",
	},
	check: checkAddingCheckWithoutNotValid,
}

func checkAddingCheckWithoutNotValid(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		switch cmd.Subtype {
		case pgquery.AlterTableType_AT_AddConstraint:
			con := cmd.Def.GetConstraint()
			if con == nil || con.Contype != pgquery.ConstrType_CONSTR_CHECK || con.SkipValidation {
				continue
			}
			name := con.Conname
			if name == "" {
				name = "(unnamed)"
			}
			p.report(s, s.Offset(con.Location), "adding CHECK constraint %s to table %s without NOT VALID scans the table under an ACCESS EXCLUSIVE lock",
				name, quote(table))
		case pgquery.AlterTableType_AT_AddColumn:
			cd := cmd.Def.GetColumnDef()
			if cd == nil {
				continue
			}
			for _, con := range pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_CHECK) {
				p.report(s, s.Offset(con.Location), "adding column %s with a CHECK constraint scans table %s under an ACCESS EXCLUSIVE lock",
					quote(cd.Colname), quote(table))
			}
		}
	}
}
