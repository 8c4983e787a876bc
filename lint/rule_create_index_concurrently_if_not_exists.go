package lint

var ruleCreateIndexConcurrentlyIfNotExists = rule{
	Rule: Rule{
		Code:     "SA014",
		Name:     "create-index-concurrently-if-not-exists",
		Group:    GroupCorrectness,
		Severity: SeverityWarning,
		Message:  "CREATE INDEX CONCURRENTLY IF NOT EXISTS keeps an INVALID index on re-run",
		Why: "When CREATE INDEX CONCURRENTLY fails or is interrupted (deadlock, unique violation, cancelled migration) " +
			"it leaves an INVALID index behind. A re-run with IF NOT EXISTS sees the name taken and does nothing: the " +
			"migration succeeds, but the index is never used by queries and is still maintained on every write.",
		SafeWay: "Drop a leftover first, then build: DROP INDEX CONCURRENTLY IF EXISTS name; CREATE INDEX CONCURRENTLY " +
			"name ... (without IF NOT EXISTS). Or check pg_index.indisvalid after the build.",
	},
	check: checkCreateIndexConcurrentlyIfNotExists,
}

func checkCreateIndexConcurrentlyIfNotExists(p *pass, s *stmtCtx) {
	is := s.Node.GetIndexStmt()
	if is == nil || !is.Concurrent || !is.IfNotExists {
		return
	}
	p.report(s, s.Pos.Offset, "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s skips an INVALID index left by a failed run instead of rebuilding it",
		quote(is.Idxname))
}
