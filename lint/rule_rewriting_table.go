package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleRewritingTable = rule{
	Rule: Rule{
		Code:     "SA022",
		Name:     "rewriting-table",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "VACUUM FULL, CLUSTER, SET TABLESPACE, SET LOGGED/UNLOGGED or SET ACCESS METHOD rewrites the table",
		Why: "These commands copy the whole table (and rebuild its indexes) while holding an ACCESS EXCLUSIVE lock: " +
			"every read and write waits until the copy is done, and the disk temporarily needs room for two copies.",
		SafeWay: "Do not run them on live tables in a migration: reclaim space online with pg_repack or pg_squeeze, " +
			"move data to another tablespace or access method by building a new table and switching to it, and keep " +
			"VACUUM FULL and CLUSTER for maintenance windows.",
	},
	check: checkRewritingTable,
}

var rewritingSubcommands = map[pgquery.AlterTableType]string{
	pgquery.AlterTableType_AT_SetTableSpace:   "SET TABLESPACE",
	pgquery.AlterTableType_AT_SetLogged:       "SET LOGGED",
	pgquery.AlterTableType_AT_SetUnLogged:     "SET UNLOGGED",
	pgquery.AlterTableType_AT_SetAccessMethod: "SET ACCESS METHOD",
	pgquery.AlterTableType_AT_SetExpression:   "SET EXPRESSION",
}

func checkRewritingTable(p *pass, s *stmtCtx) {
	n := s.Node
	switch {
	case n.GetVacuumStmt() != nil:
		vs := n.GetVacuumStmt()
		if !vs.IsVacuumcmd || !pgquery.HasOption(vs.Options, "full") {
			return
		}
		if len(vs.Rels) == 0 {
			p.report(s, s.Pos.Offset, "VACUUM FULL rewrites every table of the database, each under an ACCESS EXCLUSIVE lock")
			return
		}
		for _, r := range vs.Rels {
			rel := pgquery.RelName(r.GetVacuumRelation().GetRelation())
			if p.existing(rel) {
				p.report(s, s.Pos.Offset, "VACUUM FULL rewrites table %s under an ACCESS EXCLUSIVE lock", quote(rel))
			}
		}
	case n.GetClusterStmt() != nil:
		cs := n.GetClusterStmt()
		if cs.Relation == nil {
			p.report(s, s.Pos.Offset, "CLUSTER rewrites every clustered table of the database, each under an ACCESS EXCLUSIVE lock")
			return
		}
		if rel := pgquery.RelName(cs.Relation); p.existing(rel) {
			p.report(s, s.Pos.Offset, "CLUSTER rewrites table %s under an ACCESS EXCLUSIVE lock", quote(rel))
		}
	case n.GetAlterTableStmt() != nil:
		at, cmds := alterTable(s)
		rel := pgquery.RelName(at.Relation)
		if !p.existing(rel) {
			return
		}
		kind := "table"
		if at.Objtype == pgquery.ObjectType_OBJECT_INDEX {
			kind = "index"
		} else if at.Objtype == pgquery.ObjectType_OBJECT_MATVIEW {
			kind = "materialized view"
		}
		for _, cmd := range cmds {
			if what := rewritingSubcommands[cmd.Subtype]; what != "" {
				p.report(s, s.Pos.Offset, "%s rewrites %s %s under an ACCESS EXCLUSIVE lock", what, kind, quote(rel))
			}
		}
	}
}
