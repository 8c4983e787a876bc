package lint

var ruleUnclosedTransaction = rule{
	Rule: Rule{
		Code:     "SA028",
		Name:     "unclosed-transaction",
		Group:    GroupTransaction,
		Severity: SeverityError,
		Message:  "BEGIN without a matching COMMIT",
		Why: "A transaction still open at the end of the file is rolled back when the session ends (psql, most " +
			"runners), silently undoing the migration, or stays open holding its locks until something ends it.",
		SafeWay: "End every BEGIN with COMMIT in the same file.",
	},
	finish: finishUnclosedTransaction,
}

func finishUnclosedTransaction(p *pass) {
	b := p.st.Begin()
	if b == nil || !p.st.InTransaction() {
		return
	}
	p.report(p.stmts[b.Index], b.Pos.Offset, "the transaction opened here is still open at the end of the file")
}
