package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleRenamingTable = rule{
	Rule: Rule{
		Code:     "SA017",
		Name:     "renaming-table",
		Group:    GroupCompat,
		Severity: SeverityWarning,
		Message:  "renaming a table (or moving it to another schema) breaks the application version still running",
		Why: "The application version still running refers to the table (or view) by its old name or schema: its " +
			"queries fail as soon as the rename commits.",
		SafeWay: "Rename in steps: rename the table and create a view with the old name (simple views are updatable) " +
			"in the same transaction, move the application to the new name, then drop the view. strata's " +
			"rename_table action does this.",
	},
	check: checkRenamingTable,
}

var relationKinds = map[pgquery.ObjectType]string{
	pgquery.ObjectType_OBJECT_TABLE:         "table",
	pgquery.ObjectType_OBJECT_VIEW:          "view",
	pgquery.ObjectType_OBJECT_MATVIEW:       "materialized view",
	pgquery.ObjectType_OBJECT_FOREIGN_TABLE: "foreign table",
}

func checkRenamingTable(p *pass, s *stmtCtx) {
	if rs := s.Node.GetRenameStmt(); rs != nil && relationKinds[rs.RenameType] != "" {
		rel := pgquery.RelName(rs.Relation)
		if p.existing(rel) {
			p.report(s, s.Pos.Offset, "renaming %s %s to %s breaks queries of the running application version",
				relationKinds[rs.RenameType], quote(rel), quote(rs.Newname))
		}
	}
	if as := s.Node.GetAlterObjectSchemaStmt(); as != nil && relationKinds[as.ObjectType] != "" && as.Relation != nil {
		rel := pgquery.RelName(as.Relation)
		if p.existing(rel) {
			p.report(s, s.Pos.Offset, "moving %s %s to schema %s breaks queries of the running application version",
				relationKinds[as.ObjectType], quote(rel), quote(as.Newschema))
		}
	}
}
