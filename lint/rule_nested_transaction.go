package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleNestedTransaction = rule{
	Rule: Rule{
		Code:     "SA027",
		Name:     "nested-transaction",
		Group:    GroupTransaction,
		Severity: SeverityError,
		Message:  "BEGIN inside a transaction",
		Why: "PostgreSQL has no nested transactions: a BEGIN inside a transaction only warns, and the first COMMIT " +
			"ends the outer transaction, so the statements after it run outside any transaction and are no longer " +
			"atomic with the rest. In a file the runner wraps in a transaction, the file's own COMMIT commits the " +
			"runner's transaction early.",
		SafeWay: "Let the runner own the transaction and remove BEGIN/COMMIT from the file, or mark the file " +
			"-- strata:no-transaction and manage transactions yourself; use SAVEPOINT for nested units of work.",
	},
	check: checkNestedTransaction,
}

// isBegin reports whether n is BEGIN or START TRANSACTION.
func isBegin(n *pgquery.Node) bool {
	ts := n.GetTransactionStmt()
	return ts != nil && (ts.Kind == pgquery.TransactionStmtKind_TRANS_STMT_BEGIN || ts.Kind == pgquery.TransactionStmtKind_TRANS_STMT_START)
}

// isEnd reports whether n is COMMIT, END, ROLLBACK, ABORT or PREPARE TRANSACTION.
func isEnd(n *pgquery.Node) bool {
	ts := n.GetTransactionStmt()
	return ts != nil && (ts.Kind == pgquery.TransactionStmtKind_TRANS_STMT_COMMIT ||
		ts.Kind == pgquery.TransactionStmtKind_TRANS_STMT_ROLLBACK || ts.Kind == pgquery.TransactionStmtKind_TRANS_STMT_PREPARE)
}

func checkNestedTransaction(p *pass, s *stmtCtx) {
	if !isBegin(s.Node) || !p.st.InTransaction() {
		return
	}
	if p.st.Begin() != nil {
		p.report(s, s.Pos.Offset, "BEGIN inside the transaction opened on line %d: PostgreSQL ignores it and the first COMMIT ends both",
			p.st.Begin().Pos.Line)
		return
	}
	p.report(s, s.Pos.Offset, "BEGIN in a file that runs in a transaction: the file's COMMIT would end the runner's transaction (mark the file -- strata:no-transaction to manage transactions yourself)")
}
