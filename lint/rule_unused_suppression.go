package lint

var ruleUnusedSuppression = rule{
	Rule: Rule{
		Code:     codeUnusedSuppression,
		Name:     "unused-suppression",
		Group:    GroupMeta,
		Severity: SeverityWarning,
		Message:  "a suppression comment silences nothing",
		Why: "A suppression that no longer matches a finding (the statement changed, or the comment is not next to " +
			"the statement) would silently hide a future finding, and misleads reviewers.",
		SafeWay: "Remove the comment, or move it onto the statement's line or the line directly above the statement.",
	},
}
