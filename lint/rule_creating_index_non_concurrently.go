package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleCreatingIndexNonConcurrently = rule{
	Rule: Rule{
		Code:     "SA010",
		Name:     "creating-index-non-concurrently",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "CREATE INDEX without CONCURRENTLY blocks writes while the index is built",
		Why: "CREATE INDEX holds a SHARE lock on the table for the whole build: reads go on, but every INSERT, UPDATE " +
			"and DELETE waits, for minutes on a large table. (A table created earlier in the same file is not in use " +
			"yet, so indexing it is fine.)",
		SafeWay: "Use CREATE INDEX CONCURRENTLY, outside a transaction block (a file marked -- strata:no-transaction). " +
			"It takes SHARE UPDATE EXCLUSIVE, which does not block writes. If it fails it leaves an INVALID index: " +
			"DROP INDEX CONCURRENTLY it before retrying. On a partitioned table, CREATE INDEX ON ONLY the parent, " +
			"create each partition's index CONCURRENTLY, then ALTER INDEX ... ATTACH PARTITION each one.",
	},
	check: checkCreatingIndexNonConcurrently,
}

func checkCreatingIndexNonConcurrently(p *pass, s *stmtCtx) {
	is := s.Node.GetIndexStmt()
	if is == nil || is.Concurrent || !is.Relation.Inh {
		return
	}
	table := pgquery.RelName(is.Relation)
	if !p.existing(table) {
		return
	}
	name := "an index"
	if is.Idxname != "" {
		name = "index " + quote(is.Idxname)
	}
	p.report(s, s.Pos.Offset, "creating %s on table %s without CONCURRENTLY blocks writes (SHARE lock) while the index is built",
		name, quote(table))
}
