package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleDroppingTable = rule{
	Rule: Rule{
		Code:     "SA019",
		Name:     "dropping-table",
		Group:    GroupCompat,
		Severity: SeverityWarning,
		Message:  "dropping a table breaks the application version still running, and loses its data",
		Why: "The running application version may still use the table (or view): its queries fail once it is gone, " +
			"and the data is lost. DROP TABLE also takes ACCESS EXCLUSIVE locks on the tables its foreign keys " +
			"reference.",
		SafeWay: "Deploy an application version that no longer uses the table first, then drop it in a later " +
			"migration (or rename it aside and drop it after a grace period).",
	},
	check: checkDroppingTable,
}

func checkDroppingTable(p *pass, s *stmtCtx) {
	ds := s.Node.GetDropStmt()
	if ds == nil || relationKinds[ds.RemoveType] == "" {
		return
	}
	for _, o := range ds.Objects {
		rel := pgquery.Qualified(pgquery.ListItems(o))
		if p.existing(rel) {
			p.report(s, s.Pos.Offset, "dropping %s %s breaks the running application version if it still uses it",
				relationKinds[ds.RemoveType], quote(rel))
		}
	}
}
