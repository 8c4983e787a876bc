package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleDroppingIndexNonConcurrently = rule{
	Rule: Rule{
		Code:     "SA011",
		Name:     "dropping-index-non-concurrently",
		Group:    GroupTimeout,
		Severity: SeverityWarning,
		Message:  "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
		Why: "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table. The drop itself is quick, but the lock " +
			"request waits behind every running query on the table and, while it waits, blocks every new read and " +
			"write of it.",
		SafeWay: "Use DROP INDEX CONCURRENTLY (outside a transaction block: a file marked -- strata:no-transaction), " +
			"which waits for running transactions without blocking new ones.",
	},
	check: checkDroppingIndexNonConcurrently,
}

func checkDroppingIndexNonConcurrently(p *pass, s *stmtCtx) {
	ds := s.Node.GetDropStmt()
	if ds == nil || ds.RemoveType != pgquery.ObjectType_OBJECT_INDEX || ds.Concurrent {
		return
	}
	for _, o := range ds.Objects {
		idx := pgquery.Qualified(pgquery.ListItems(o))
		if !p.existing(idx) {
			continue
		}
		p.report(s, s.Pos.Offset, "dropping index %s without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table", quote(idx))
	}
}
