package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleRenamingColumn = rule{
	Rule: Rule{
		Code:     "SA016",
		Name:     "renaming-column",
		Group:    GroupCompat,
		Severity: SeverityWarning,
		Message:  "renaming a column breaks the application version still running",
		Why: "The application version running during and after the migration still uses the old name: its queries " +
			"fail as soon as the rename commits, until every instance runs the new version.",
		SafeWay: "Expand and contract: add the new column, keep both in sync (trigger or view), move the application " +
			"to the new name, and drop the old column once no running version uses it. strata's rename_column action " +
			"does this with versioned views.",
	},
	check: checkRenamingColumn,
}

func checkRenamingColumn(p *pass, s *stmtCtx) {
	rs := s.Node.GetRenameStmt()
	if rs == nil || rs.RenameType != pgquery.ObjectType_OBJECT_COLUMN {
		return
	}
	rel := pgquery.RelName(rs.Relation)
	if !p.existing(rel) {
		return
	}
	p.report(s, s.Pos.Offset, "renaming column %s of %s to %s breaks queries of the running application version",
		quote(rs.Subname), quote(rel), quote(rs.Newname))
}
