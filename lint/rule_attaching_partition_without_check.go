package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleAttachingPartitionWithoutCheck = rule{
	Rule: Rule{
		Code:     "SA024",
		Name:     "attaching-partition-without-check",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ATTACH PARTITION scans the partition unless a validated CHECK constraint proves its bounds",
		Why: "ATTACH PARTITION checks that every row of the new partition fits the partition bounds, scanning it while " +
			"holding an ACCESS EXCLUSIVE lock on it (and SHARE UPDATE EXCLUSIVE on the parent; ACCESS EXCLUSIVE " +
			"before PostgreSQL 12). If the parent has a DEFAULT partition, that one is scanned too, under ACCESS " +
			"EXCLUSIVE. A valid CHECK constraint on the partition that implies the bounds lets PostgreSQL skip the scan.",
		SafeWay: "Before attaching: ALTER TABLE part ADD CONSTRAINT bounds CHECK (<the partition bounds, with IS NOT NULL " +
			"on the key>) NOT VALID; ALTER TABLE part VALIDATE CONSTRAINT bounds; then ATTACH PARTITION (no scan), and " +
			"drop the now redundant constraint. (The linter checks that some CHECK on the partition was validated " +
			"earlier in the file, not that it implies the bounds.)",
	},
	check: checkAttachingPartitionWithoutCheck,
}

func checkAttachingPartitionWithoutCheck(p *pass, s *stmtCtx) {
	at, cmds := alterTable(s)
	if at == nil || at.Objtype != pgquery.ObjectType_OBJECT_TABLE {
		return
	}
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_AttachPartition {
			continue
		}
		part := pgquery.RelName(cmd.Def.GetPartitionCmd().GetName())
		if part == "" || !p.existing(part) || p.st.HasValidatedCheck(part) {
			continue
		}
		p.report(s, s.Pos.Offset, "attaching partition %s to %s scans it under an ACCESS EXCLUSIVE lock: no validated CHECK constraint on %s earlier in the file",
			quote(part), quote(pgquery.RelName(at.Relation)), quote(part))
	}
}
