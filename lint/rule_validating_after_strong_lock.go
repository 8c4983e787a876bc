package lint

import (
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/pglock"
)

var ruleValidatingAfterStrongLock = rule{
	Rule: Rule{
		Code:     "SA008",
		Name:     "validating-after-strong-lock",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "VALIDATE CONSTRAINT runs in a transaction that already holds a strong lock",
		Why: "VALIDATE CONSTRAINT is the slow step (it scans the table) and is safe only because it takes SHARE UPDATE " +
			"EXCLUSIVE. Locks are held until the transaction ends, so if an earlier statement of the same transaction " +
			"took a lock that blocks writes or reads (typically the ACCESS EXCLUSIVE of the ADD CONSTRAINT ... NOT " +
			"VALID), that lock is still held during the whole scan and blocks the application.",
		SafeWay: "Commit before validating: ADD CONSTRAINT ... NOT VALID in one transaction, VALIDATE CONSTRAINT in a " +
			"later one (another migration, or a file marked -- strata:no-transaction with its own short transactions).",
	},
	check: checkValidatingAfterStrongLock,
}

func checkValidatingAfterStrongLock(p *pass, s *stmtCtx) {
	if !p.st.InTransaction() {
		return
	}
	at, cmds := alterTable(s)
	if at == nil {
		return
	}
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_ValidateConstraint {
			continue
		}
		var worst *pglock.HeldLock
		for _, h := range p.st.HeldLocks() {
			if h.Mode.BlocksWrites() && (worst == nil || h.Mode > worst.Mode ||
				h.Mode == worst.Mode && h.Stmt.Pos.Offset < worst.Stmt.Pos.Offset) {
				h := h
				worst = &h
			}
		}
		if worst == nil {
			continue
		}
		p.report(s, s.Pos.Offset, "VALIDATE CONSTRAINT %s scans table %s while this transaction still holds %s on %s (taken on line %d)",
			quote(cmd.Name), quote(pgquery.RelName(at.Relation)), worst.Mode, quote(worst.Relation), worst.Stmt.Pos.Line)
	}
}
