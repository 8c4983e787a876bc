package lint

import (
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/pglock"
)

var ruleAddingVolatileDefault = rule{
	Rule: Rule{
		Code:     "SA001",
		Name:     "adding-volatile-default",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE",
		Why: "A column default that is volatile (random(), clock_timestamp(), gen_random_uuid(), nextval(), or a " +
			"function not known to be stable) must be computed for every existing row, so PostgreSQL rewrites the " +
			"whole table and its indexes while holding an ACCESS EXCLUSIVE lock: every read and write of the table " +
			"waits until it is done. Since PostgreSQL 11 a non-volatile default (a constant, now()) is stored once " +
			"in the catalog and the column is added instantly; before 11 any non-null default rewrote the table.",
		SafeWay: "Add the column without a default (or with a constant one), then SET DEFAULT for new rows with " +
			"ALTER COLUMN ... SET DEFAULT (catalog only), and backfill existing rows in small batches, each batch " +
			"in its own transaction.",
	},
	check: checkAddingVolatileDefault,
}

func checkAddingVolatileDefault(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_AddColumn {
			continue
		}
		cd := cmd.Def.GetColumnDef()
		if cd == nil {
			continue
		}
		eff := pglock.AddColumnEffect(cd, p.cfg.PGVersion)
		if !eff.Rewrite || eff.Kind != "default" {
			continue
		}
		if p.cfg.PGVersion < 11 {
			p.report(s, s.Offset(cd.Location), "adding column %s with a default rewrites table %s under an ACCESS EXCLUSIVE lock: %s",
				quote(cd.Colname), quote(table), eff.Why)
			continue
		}
		p.report(s, s.Offset(cd.Location), "adding column %s with a volatile default rewrites table %s under an ACCESS EXCLUSIVE lock: %s",
			quote(cd.Colname), quote(table), eff.Why)
	}
}
