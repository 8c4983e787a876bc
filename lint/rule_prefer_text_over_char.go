package lint

import "github.com/stratapg/strata/internal/pgquery"

var rulePreferTextOverChar = rule{
	Rule: Rule{
		Code:     "SA102",
		Name:     "prefer-text-over-char",
		Group:    GroupHygiene,
		Severity: SeverityInfo,
		Message:  "char(n) column: use text or varchar",
		Why: "char(n) pads values with spaces to n characters, compares ignoring the padding and is no faster than " +
			"text or varchar; changing its length later rewrites the table.",
		SafeWay: "Use text (with a CHECK constraint on length if a limit is needed) or varchar.",
	},
	check: checkPreferTextOverChar,
}

func checkPreferTextOverChar(p *pass, s *stmtCtx) {
	for _, c := range columnDefs(s) {
		if pgquery.CanonicalType(c.typ) == "bpchar" {
			p.report(s, c.offset, "column %s of %s is %s: use text or varchar", quote(c.name), quote(c.table), pgquery.TypeString(c.typ))
		}
	}
}
