package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleChangingColumnType = rule{
	Rule: Rule{
		Code:     "SA004",
		Name:     "changing-column-type",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ALTER COLUMN ... TYPE rewrites the table under ACCESS EXCLUSIVE",
		Why: "Changing a column's type rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock, " +
			"blocking every read and write for as long as the copy takes, unless the old type is binary coercible " +
			"to the new one: varchar(n) to varchar(m >= n), varchar or text; text to varchar; varchar/text to citext " +
			"and back; numeric(p,s) to numeric(q >= p, s) or numeric; bit to varbit; varbit(n) to varbit(m >= n); " +
			"cidr to inet; xml to text; a wider (or removed) precision of timestamp, timestamptz, time, timetz and " +
			"interval; and timestamp to timestamptz (or back) on PostgreSQL 12+ when the session TimeZone is UTC. " +
			"A USING expression other than the column itself always rewrites. Even without a rewrite the lock is " +
			"ACCESS EXCLUSIVE and indexes on the column may be rebuilt.",
		SafeWay: "Expand and contract: add a new column of the new type, keep it in sync with a trigger, backfill it " +
			"in batches, move the application to it, then drop the old column (strata's alter_column action does " +
			"this). To limit a length, prefer text with a CHECK (length(col) <= n) constraint added NOT VALID and " +
			"validated separately. For timestamp to timestamptz, SET TIME ZONE 'UTC' first (PostgreSQL 12+).",
	},
	check: checkChangingColumnType,
}

func checkChangingColumnType(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_AlterColumnType {
			continue
		}
		rewrite, reason := p.st.AlterTypeRewrites(table, cmd)
		if !rewrite {
			continue
		}
		cd := cmd.Def.GetColumnDef()
		off := s.Pos.Offset
		to := "a new type"
		if cd != nil {
			off = s.Offset(cd.Location)
			to = pgquery.TypeString(cd.TypeName)
		}
		if p.st.ColumnType(table, cmd.Name) == nil && cmd.Def.GetColumnDef().GetRawDefault() == nil {
			p.report(s, off, "changing the type of column %s of table %s to %s may rewrite the table under an ACCESS EXCLUSIVE lock: %s",
				quote(cmd.Name), quote(table), to, reason)
			continue
		}
		p.report(s, off, "changing the type of column %s of table %s to %s rewrites the table under an ACCESS EXCLUSIVE lock: %s",
			quote(cmd.Name), quote(table), to, reason)
	}
}
