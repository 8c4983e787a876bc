package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleRefreshingMatviewNonConcurrently = rule{
	Rule: Rule{
		Code:     "SA023",
		Name:     "refreshing-matview-non-concurrently",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view",
		Why: "REFRESH MATERIALIZED VIEW without CONCURRENTLY holds an ACCESS EXCLUSIVE lock on the view while its " +
			"query runs and the result is written: every read of the view waits.",
		SafeWay: "Give the materialized view a unique index (on plain columns, without WHERE) and use REFRESH " +
			"MATERIALIZED VIEW CONCURRENTLY, which takes an EXCLUSIVE lock that lets reads go on. (The first refresh " +
			"of a view created WITH NO DATA cannot be concurrent.)",
	},
	check: checkRefreshingMatviewNonConcurrently,
}

func checkRefreshingMatviewNonConcurrently(p *pass, s *stmtCtx) {
	rm := s.Node.GetRefreshMatViewStmt()
	if rm == nil || rm.Concurrent {
		return
	}
	rel := pgquery.RelName(rm.Relation)
	if !p.existing(rel) {
		return
	}
	p.report(s, s.Pos.Offset, "refreshing materialized view %s without CONCURRENTLY blocks its reads (ACCESS EXCLUSIVE) until the refresh ends", quote(rel))
}
