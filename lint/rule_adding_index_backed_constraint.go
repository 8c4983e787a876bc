package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleAddingIndexBackedConstraint = rule{
	Rule: Rule{
		Code:     "SA009",
		Name:     "adding-index-backed-constraint",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ADD PRIMARY KEY / UNIQUE / EXCLUDE builds an index under ACCESS EXCLUSIVE",
		Why: "Adding a PRIMARY KEY, UNIQUE or EXCLUDE constraint (or a column declared PRIMARY KEY or UNIQUE) builds " +
			"the constraint's index while holding an ACCESS EXCLUSIVE lock on the table: reads and writes are blocked " +
			"for the whole build.",
		SafeWay: "Build the index first with CREATE UNIQUE INDEX CONCURRENTLY (in a file marked -- strata:no-transaction), " +
			"then attach it: ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX idx, or PRIMARY KEY USING INDEX idx " +
			"(make the columns NOT NULL first, through a validated CHECK, or PRIMARY KEY scans to check them). " +
			"An EXCLUDE constraint cannot use an existing index: create it with the table, or accept the lock in a " +
			"maintenance window.",
	},
	check: checkAddingIndexBackedConstraint,
}

var constraintKinds = map[pgquery.ConstrType]string{
	pgquery.ConstrType_CONSTR_PRIMARY:   "PRIMARY KEY",
	pgquery.ConstrType_CONSTR_UNIQUE:    "UNIQUE",
	pgquery.ConstrType_CONSTR_EXCLUSION: "EXCLUDE",
}

func checkAddingIndexBackedConstraint(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		switch cmd.Subtype {
		case pgquery.AlterTableType_AT_AddConstraint:
			con := cmd.Def.GetConstraint()
			if con == nil || constraintKinds[con.Contype] == "" || con.Indexname != "" {
				continue
			}
			p.report(s, s.Offset(con.Location), "adding a %s constraint to table %s builds its index under an ACCESS EXCLUSIVE lock",
				constraintKinds[con.Contype], quote(table))
		case pgquery.AlterTableType_AT_AddColumn:
			cd := cmd.Def.GetColumnDef()
			if cd == nil {
				continue
			}
			for _, n := range cd.Constraints {
				con := n.GetConstraint()
				if con == nil || constraintKinds[con.Contype] == "" {
					continue
				}
				p.report(s, s.Offset(con.Location), "adding column %s as %s builds an index on table %s under an ACCESS EXCLUSIVE lock",
					quote(cd.Colname), constraintKinds[con.Contype], quote(table))
			}
		}
	}
}
