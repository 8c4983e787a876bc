package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleReindexingNonConcurrently = rule{
	Rule: Rule{
		Code:     "SA012",
		Name:     "reindexing-non-concurrently",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "REINDEX without CONCURRENTLY blocks writes, and reads using the index, during the rebuild",
		Why: "REINDEX without CONCURRENTLY rebuilds while holding a SHARE lock on the table (writes wait) and an ACCESS " +
			"EXCLUSIVE lock on each index being rebuilt (queries that would use it wait), for the whole rebuild.",
		SafeWay: "Use REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction block. Before 12: CREATE INDEX " +
			"CONCURRENTLY a replacement, DROP INDEX CONCURRENTLY the old one, and rename the new one.",
	},
	check: checkReindexingNonConcurrently,
}

func checkReindexingNonConcurrently(p *pass, s *stmtCtx) {
	rs := s.Node.GetReindexStmt()
	if rs == nil || pgquery.HasOption(rs.Params, "concurrently") || rs.Kind == pgquery.ReindexObjectType_REINDEX_OBJECT_SYSTEM {
		return
	}
	var what string
	switch rs.Kind {
	case pgquery.ReindexObjectType_REINDEX_OBJECT_INDEX:
		if !p.existing(pgquery.RelName(rs.Relation)) {
			return
		}
		what = "index " + quote(pgquery.RelName(rs.Relation))
	case pgquery.ReindexObjectType_REINDEX_OBJECT_TABLE:
		if !p.existing(pgquery.RelName(rs.Relation)) {
			return
		}
		what = "table " + quote(pgquery.RelName(rs.Relation))
	case pgquery.ReindexObjectType_REINDEX_OBJECT_SCHEMA:
		what = "schema " + quote(rs.Name)
	default:
		what = "the database"
	}
	p.report(s, s.Pos.Offset, "REINDEX of %s without CONCURRENTLY blocks writes and index use until the rebuild ends", what)
}
