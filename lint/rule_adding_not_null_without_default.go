package lint

import (
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/pglock"
)

var ruleAddingNotNullWithoutDefault = rule{
	Rule: Rule{
		Code:     "SA003",
		Name:     "adding-not-null-without-default",
		Group:    GroupCorrectness,
		Severity: SeverityError,
		Message:  "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table with rows",
		Why: "A NOT NULL column without a DEFAULT has no value for the rows already in the table, so the ALTER fails " +
			"with \"column contains null values\" as soon as the table has a row: it passes on an empty development " +
			"database and fails in production. (The old application version would also fail to insert rows, since it " +
			"does not know the column.)",
		SafeWay: "Add the column nullable, or with a constant DEFAULT (instant since PostgreSQL 11). To make it NOT NULL " +
			"later: backfill in batches, ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, " +
			"then SET NOT NULL (PostgreSQL 12+ skips the scan thanks to the validated check) and drop the check.",
	},
	check: checkAddingNotNullWithoutDefault,
}

func checkAddingNotNullWithoutDefault(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_AddColumn {
			continue
		}
		cd := cmd.Def.GetColumnDef()
		if cd == nil {
			continue
		}
		notNull := cd.IsNotNull || len(pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_NOTNULL)) > 0 ||
			len(pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_PRIMARY)) > 0
		if !notNull {
			continue
		}
		if def := pgquery.ColumnDefault(cd); def != nil && !pgquery.IsNullConst(def) {
			continue
		}
		if eff := pglock.AddColumnEffect(cd, p.cfg.PGVersion); eff.Rewrite {
			continue // serial, identity and generated columns get values
		}
		p.report(s, s.Offset(cd.Location), "adding NOT NULL column %s without a DEFAULT to table %s fails if the table has rows",
			quote(cd.Colname), quote(table))
	}
}
