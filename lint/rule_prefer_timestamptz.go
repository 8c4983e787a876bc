package lint

import "github.com/stratapg/strata/internal/pgquery"

var rulePreferTimestamptz = rule{
	Rule: Rule{
		Code:     "SA103",
		Name:     "prefer-timestamptz",
		Group:    GroupHygiene,
		Severity: SeverityInfo,
		Message:  "timestamp without time zone column: use timestamptz",
		Why: "timestamp without time zone stores a wall-clock reading with no zone: the same instant written by " +
			"sessions or servers in different time zones gets different values, and daylight-saving changes make " +
			"values ambiguous. timestamptz stores an instant (in UTC) and costs the same 8 bytes.",
		SafeWay: "Use timestamptz (timestamp with time zone).",
	},
	check: checkPreferTimestamptz,
}

func checkPreferTimestamptz(p *pass, s *stmtCtx) {
	for _, c := range columnDefs(s) {
		if pgquery.CanonicalType(c.typ) == "timestamp" {
			p.report(s, c.offset, "column %s of %s is timestamp without time zone: use timestamptz", quote(c.name), quote(c.table))
		}
	}
}
