package lint

import "github.com/stratapg/strata/pglock"

var ruleMissingLockTimeout = rule{
	Rule: Rule{
		Code:     "SA015",
		Name:     "missing-lock-timeout",
		Group:    GroupTimeout,
		Severity: SeverityWarning,
		Message:  "a statement needing a lock that blocks reads or writes runs without lock_timeout",
		Why: "A statement that needs a lock conflicting with the application's (SHARE and stronger block writes, " +
			"ACCESS EXCLUSIVE also blocks reads) waits for every running transaction that touched the table, and " +
			"while it waits every later query on the table queues behind it. Without lock_timeout, one long-running " +
			"query turns a millisecond catalog change into an outage.",
		SafeWay: "SET lock_timeout = '2s' (or SET LOCAL inside the transaction) before the statement, and retry the " +
			"migration when it times out. strata's own runner sets it, and so may yours: then tell the linter " +
			"(Config.AssumeLockTimeout).",
	},
	check: checkMissingLockTimeout,
}

func checkMissingLockTimeout(p *pass, s *stmtCtx) {
	if p.cfg.AssumeLockTimeout || p.st.LockTimeout() {
		return
	}
	var need []pglock.Lock
	for _, l := range s.locks {
		if !l.Mode.BlocksWrites() || !p.existing(l.Relation) {
			continue
		}
		if h, ok := p.st.Held(l.Relation); ok && p.st.InTransaction() && h.Mode >= l.Mode {
			continue // already held by this transaction: no new wait
		}
		need = append(need, l)
	}
	if len(need) == 0 {
		return
	}
	p.report(s, s.Pos.Offset, "statement takes %s with no lock_timeout set: while it waits for the lock, queries on the table queue behind it",
		describeLocks(need))
}
