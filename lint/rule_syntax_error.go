package lint

var ruleSyntaxError = rule{
	Rule: Rule{
		Code:     codeSyntax,
		Name:     "syntax-error",
		Group:    GroupMeta,
		Severity: SeverityError,
		Message:  "the statement does not parse",
		Why: "PostgreSQL rejects the statement, so the migration fails when it gets there; " +
			"the linter cannot check it either. The parser is PostgreSQL's own grammar (PostgreSQL 17, via pg_query).",
		SafeWay: "Fix the syntax. psql meta-commands (\\set, \\connect, \\i) are not SQL: migration files must not use them.",
	},
}
