package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleDroppingNotNull = rule{
	Rule: Rule{
		Code:     "SA020",
		Name:     "dropping-not-null",
		Group:    GroupCompat,
		Severity: SeverityWarning,
		Message:  "DROP NOT NULL lets new rows break the application version still running",
		Why: "The running application version assumes the column is never NULL. Once the new version (or a backfill) " +
			"writes NULLs, the old version reading those rows can fail, and it may still insert rows without the " +
			"value the new version expects.",
		SafeWay: "Make sure every running application version handles NULL in the column before dropping NOT NULL, " +
			"or add a DEFAULT so that writers that omit the column keep working.",
	},
	check: checkDroppingNotNull,
}

func checkDroppingNotNull(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype == pgquery.AlterTableType_AT_DropNotNull {
			p.report(s, s.Pos.Offset, "dropping NOT NULL on column %s of table %s lets NULLs reach the running application version",
				quote(cmd.Name), quote(table))
		}
	}
}
