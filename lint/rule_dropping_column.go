package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleDroppingColumn = rule{
	Rule: Rule{
		Code:     "SA018",
		Name:     "dropping-column",
		Group:    GroupCompat,
		Severity: SeverityWarning,
		Message:  "dropping a column breaks the application version still running, and loses its data",
		Why: "The running application version may still read or write the column (ORMs often select every column " +
			"they know): its queries fail once the column is gone. The column's data is lost.",
		SafeWay: "First deploy an application version that no longer uses the column (tell the ORM to ignore it), " +
			"then drop it in a later migration; keep a backup of the data if it may be needed.",
	},
	check: checkDroppingColumn,
}

func checkDroppingColumn(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype == pgquery.AlterTableType_AT_DropColumn {
			p.report(s, s.Pos.Offset, "dropping column %s of table %s breaks the running application version if it still uses the column",
				quote(cmd.Name), quote(table))
		}
	}
}
