package lint

var ruleCommitWithoutBegin = rule{
	Rule: Rule{
		Code:     "SA029",
		Name:     "commit-without-begin",
		Group:    GroupTransaction,
		Severity: SeverityWarning,
		Message:  "COMMIT or ROLLBACK without a BEGIN in the file",
		Why: "Outside a transaction, COMMIT and ROLLBACK only warn that no transaction is in progress: the file's " +
			"author probably expected the statements before to be atomic. In a file the runner wraps in a " +
			"transaction, they end the runner's transaction: the statements after them run outside it.",
		SafeWay: "Remove the stray COMMIT/ROLLBACK, or add the missing BEGIN (and mark the file -- strata:no-transaction " +
			"if it manages its own transactions).",
	},
	check: checkCommitWithoutBegin,
}

func checkCommitWithoutBegin(p *pass, s *stmtCtx) {
	if !isEnd(s.Node) || p.st.Begin() != nil {
		return
	}
	if p.st.InTransaction() {
		p.report(s, s.Pos.Offset, "COMMIT/ROLLBACK without BEGIN ends the transaction the runner opened for this file: later statements run outside it")
		return
	}
	p.report(s, s.Pos.Offset, "COMMIT/ROLLBACK without BEGIN: there is no transaction in progress")
}
