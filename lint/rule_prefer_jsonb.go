package lint

import "github.com/stratapg/strata/internal/pgquery"

var rulePreferJsonb = rule{
	Rule: Rule{
		Code:     "SA104",
		Name:     "prefer-jsonb",
		Group:    GroupHygiene,
		Severity: SeverityInfo,
		Message:  "json column: use jsonb",
		Why: "json stores the text as written and reparses it on every access; it has no equality operator (so no " +
			"DISTINCT, GROUP BY or unique index) and cannot be indexed with GIN. Converting later rewrites the table.",
		SafeWay: "Use jsonb, unless key order and duplicate keys must be preserved exactly.",
	},
	check: checkPreferJsonb,
}

func checkPreferJsonb(p *pass, s *stmtCtx) {
	for _, c := range columnDefs(s) {
		if pgquery.CanonicalType(c.typ) == "json" {
			p.report(s, c.offset, "column %s of %s is json: use jsonb", quote(c.name), quote(c.table))
		}
	}
}
