package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleAddingForeignKeyWithoutNotValid = rule{
	Rule: Rule{
		Code:     "SA007",
		Name:     "adding-foreign-key-without-not-valid",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ADD FOREIGN KEY without NOT VALID blocks writes to both tables during validation",
		Why: "Adding a FOREIGN KEY checks every existing row against the referenced table while holding SHARE ROW " +
			"EXCLUSIVE locks on both tables: INSERT, UPDATE and DELETE on both wait for the whole validation.",
		SafeWay: "Add the constraint with NOT VALID (a brief lock; new rows are checked from then on), then run VALIDATE " +
			"CONSTRAINT in a later transaction: it takes SHARE UPDATE EXCLUSIVE on the table and ROW SHARE on the " +
			"referenced table, which block neither reads nor writes. For a new column with REFERENCES, add the column " +
			"first and the constraint separately.",
	},
	check: checkAddingForeignKeyWithoutNotValid,
}

func checkAddingForeignKeyWithoutNotValid(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		switch cmd.Subtype {
		case pgquery.AlterTableType_AT_AddConstraint:
			con := cmd.Def.GetConstraint()
			if con == nil || con.Contype != pgquery.ConstrType_CONSTR_FOREIGN || con.SkipValidation {
				continue
			}
			p.report(s, s.Offset(con.Location), "adding a foreign key from %s to %s without NOT VALID blocks writes to both tables (SHARE ROW EXCLUSIVE) while every row is checked",
				quote(table), quote(pgquery.RelName(con.Pktable)))
		case pgquery.AlterTableType_AT_AddColumn:
			cd := cmd.Def.GetColumnDef()
			if cd == nil {
				continue
			}
			for _, con := range pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_FOREIGN) {
				p.report(s, s.Offset(con.Location), "adding column %s with REFERENCES %s validates the foreign key over table %s under SHARE ROW EXCLUSIVE locks on both tables",
					quote(cd.Colname), quote(pgquery.RelName(con.Pktable)), quote(table))
			}
		}
	}
}
