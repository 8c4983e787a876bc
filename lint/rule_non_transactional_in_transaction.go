package lint

import (
	"fmt"

	"github.com/stratapg/strata/pglock"
)

var ruleNonTransactionalInTransaction = rule{
	Rule: Rule{
		Code:     "SA013",
		Name:     "non-transactional-in-transaction",
		Group:    GroupTransaction,
		Severity: SeverityError,
		Message:  "a statement that cannot run in a transaction block runs in one",
		Why: "PostgreSQL refuses to run CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, " +
			"DETACH PARTITION CONCURRENTLY, VACUUM, CREATE/DROP DATABASE and ALTER SYSTEM (and, before PostgreSQL 12, " +
			"ALTER TYPE ... ADD VALUE) inside a transaction block: the migration fails with \"cannot run inside a " +
			"transaction block\".",
		SafeWay: "Run the statement outside any transaction: put it in a migration file marked -- strata:no-transaction, " +
			"with no BEGIN/COMMIT around it (and no other statement that must be atomic with it).",
	},
	check: checkNonTransactionalInTransaction,
}

func checkNonTransactionalInTransaction(p *pass, s *stmtCtx) {
	if !p.st.InTransaction() {
		return
	}
	noTx, what := pglock.CannotRunInTransaction(s.Statement, p.cfg.PGVersion)
	if !noTx {
		return
	}
	where := "the file runs in a transaction (add -- strata:no-transaction)"
	if p.st.Begin() != nil {
		where = fmt.Sprintf("inside the transaction opened on line %d", p.st.Begin().Pos.Line)
	}
	p.report(s, s.Pos.Offset, "%s cannot run inside a transaction block: %s", what, where)
}
