package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleDetachingPartitionNonConcurrently = rule{
	Rule: Rule{
		Code:     "SA025",
		Name:     "detaching-partition-non-concurrently",
		Group:    GroupTimeout,
		Severity: SeverityWarning,
		Message:  "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned table",
		Why: "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: while it waits for running " +
			"queries, every query on the parent (all partitions) is blocked. Only checked for PostgreSQL 14 and later, " +
			"which have the alternative.",
		SafeWay: "Use ALTER TABLE parent DETACH PARTITION part CONCURRENTLY (PostgreSQL 14+), outside a transaction " +
			"block: it takes only SHARE UPDATE EXCLUSIVE on the parent (and, at the end, ACCESS EXCLUSIVE on the " +
			"partition alone, once no query reaches it through the parent). If it is interrupted, complete it with " +
			"DETACH PARTITION part FINALIZE.",
	},
	check: checkDetachingPartitionNonConcurrently,
}

func checkDetachingPartitionNonConcurrently(p *pass, s *stmtCtx) {
	if p.cfg.PGVersion < 14 {
		return
	}
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_DetachPartition {
			continue
		}
		pc := cmd.Def.GetPartitionCmd()
		if pc == nil || pc.Concurrent {
			continue
		}
		p.report(s, s.Pos.Offset, "detaching partition %s without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on %s",
			quote(pgquery.RelName(pc.Name)), quote(table))
	}
}
