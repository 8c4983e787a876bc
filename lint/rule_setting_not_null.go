package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleSettingNotNull = rule{
	Rule: Rule{
		Code:     "SA005",
		Name:     "setting-not-null",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "SET NOT NULL scans the table under ACCESS EXCLUSIVE",
		Why: "ALTER COLUMN ... SET NOT NULL checks every row while holding an ACCESS EXCLUSIVE lock, blocking reads " +
			"and writes for the whole scan. Since PostgreSQL 12 the scan is skipped when a validated CHECK constraint " +
			"already proves the column is not null.",
		SafeWay: "In earlier steps: ADD CONSTRAINT name CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT name " +
			"(in a later transaction; it does not block reads or writes). Then SET NOT NULL is a catalog change " +
			"(PostgreSQL 12+), after which the CHECK constraint can be dropped.",
	},
	check: checkSettingNotNull,
}

func checkSettingNotNull(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_SetNotNull {
			continue
		}
		if p.cfg.PGVersion < 12 {
			p.report(s, s.Pos.Offset, "SET NOT NULL on column %s scans table %s under an ACCESS EXCLUSIVE lock (before PostgreSQL 12 no constraint avoids the scan)",
				quote(cmd.Name), quote(table))
			continue
		}
		if p.st.ProvenNotNull(table, cmd.Name) {
			continue
		}
		p.report(s, s.Pos.Offset, "SET NOT NULL on column %s scans table %s under an ACCESS EXCLUSIVE lock: no validated CHECK (%s IS NOT NULL) constraint earlier in the file",
			quote(cmd.Name), quote(table), cmd.Name)
	}
}
