package lint

import (
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/pglock"
)

var ruleAddingGeneratedColumn = rule{
	Rule: Rule{
		Code:     "SA002",
		Name:     "adding-generated-column",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ADD COLUMN of a serial, identity or stored generated column rewrites the table",
		Why: "A serial or identity column is filled from a sequence for every existing row, and a stored generated " +
			"column is computed and written for every existing row: PostgreSQL rewrites the table and all its " +
			"indexes while holding an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite.",
		SafeWay: "Add a plain nullable column (bigint), give it a DEFAULT nextval(...) from a new sequence for new " +
			"rows, backfill existing rows in batches, add NOT NULL through a validated CHECK constraint, and only then " +
			"turn it into an identity with ALTER COLUMN ... ADD GENERATED ... AS IDENTITY (no rewrite). For a computed " +
			"value, fill a plain column from a trigger and backfill in batches. strata's add_column does all of this for an " +
			"identity column (generated = \"ALWAYS AS IDENTITY\" or \"BY DEFAULT AS IDENTITY\").",
	},
	check: checkAddingGeneratedColumn,
}

func checkAddingGeneratedColumn(p *pass, s *stmtCtx) {
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
		if !eff.Rewrite || eff.Kind == "default" {
			continue
		}
		kind := map[string]string{"serial": pgquery.TypeBase(cd.TypeName), "identity": "identity", "generated": "stored generated"}[eff.Kind]
		p.report(s, s.Offset(cd.Location), "adding %s column %s rewrites table %s under an ACCESS EXCLUSIVE lock: %s",
			kind, quote(cd.Colname), quote(table), eff.Why)
	}
}
