package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleEnumValueWithoutPosition = rule{
	Rule: Rule{
		Code:     "SA106",
		Name:     "enum-value-without-position",
		Group:    GroupHygiene,
		Severity: SeverityInfo,
		Message:  "ALTER TYPE ... ADD VALUE without BEFORE or AFTER",
		Why: "Enum values sort in declaration order, and ORDER BY and comparisons on the column follow it. Appending " +
			"a value at the end may put it in the wrong place in that order, which is then hard to change (values " +
			"cannot be reordered or removed without recreating the type).",
		SafeWay: "Say where the value belongs: ALTER TYPE t ADD VALUE 'new' BEFORE 'x' (or AFTER 'y'), even when it " +
			"goes last. Note that a value added in a transaction cannot be used until that transaction commits.",
	},
	check: checkEnumValueWithoutPosition,
}

func checkEnumValueWithoutPosition(p *pass, s *stmtCtx) {
	ae := s.Node.GetAlterEnumStmt()
	if ae == nil || ae.OldVal != "" || ae.NewValNeighbor != "" {
		return
	}
	p.report(s, s.Pos.Offset, "adding value %s to enum %s without BEFORE or AFTER appends it last in the sort order",
		quote(ae.NewVal), quote(pgquery.Qualified(ae.TypeName)))
}
