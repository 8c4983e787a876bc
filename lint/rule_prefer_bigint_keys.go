package lint

import "github.com/stratapg/strata/internal/pgquery"

var rulePreferBigintKeys = rule{
	Rule: Rule{
		Code:     "SA101",
		Name:     "prefer-bigint-keys",
		Group:    GroupHygiene,
		Severity: SeverityInfo,
		Message:  "integer or smallint key column: use bigint",
		Why: "A serial/integer primary key or identity column runs out at 2^31-1 (smallint at 32767). Widening it later " +
			"is a full table rewrite of the table and of every referencing column, under ACCESS EXCLUSIVE locks.",
		SafeWay: "Declare keys as bigint (bigint GENERATED ALWAYS AS IDENTITY, or bigserial) from the start.",
	},
	check: checkPreferBigintKeys,
}

func checkPreferBigintKeys(p *pass, s *stmtCtx) {
	for _, c := range columnDefs(s) {
		if c.def == nil {
			continue
		}
		base := pgquery.CanonicalType(c.typ)
		if serial, ok := pgquery.SerialType(base); ok {
			base = serial
		} else if !c.pkCols[c.name] && len(pgquery.ColumnConstraints(c.def, pgquery.ConstrType_CONSTR_PRIMARY)) == 0 &&
			len(pgquery.ColumnConstraints(c.def, pgquery.ConstrType_CONSTR_IDENTITY)) == 0 && c.def.Identity == "" {
			continue
		}
		if (base == "int4" || base == "int2") && len(c.typ.ArrayBounds) == 0 {
			p.report(s, c.offset, "key column %s of %s is %s: use bigint", quote(c.name), quote(c.table), pgquery.TypeString(c.typ))
		}
	}
}
