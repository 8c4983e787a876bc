package lint

var ruleInvalidSuppression = rule{
	Rule: Rule{
		Code:     codeInvalidSuppression,
		Name:     "invalid-suppression",
		Group:    GroupMeta,
		Severity: SeverityError,
		Message:  "a strata: comment directive is malformed",
		Why: "A suppression must name the rules it silences and say why the statement is safe anyway, so that " +
			"reviewers can judge it; one without a reason, or naming an unknown rule, suppresses nothing.",
		SafeWay: "Write `-- strata:ignore SA001 reason` (several codes: SA001,SA015) on the statement's line or on the " +
			"line(s) directly above it; the only other directive is `-- strata:no-transaction`.",
	},
}
