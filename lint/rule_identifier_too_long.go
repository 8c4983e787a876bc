package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleIdentifierTooLong = rule{
	Rule: Rule{
		Code:     "SA105",
		Name:     "identifier-too-long",
		Group:    GroupHygiene,
		Severity: SeverityInfo,
		Message:  "identifier longer than 63 bytes is truncated",
		Why: "PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1) with only a NOTICE: the object gets a " +
			"different name than the one written, two long names can collide after truncation, and tools that look " +
			"the object up by its full name do not find it.",
		SafeWay: "Keep table, column, index and constraint names within 63 bytes (multi-byte characters count for more than one).",
	},
	check: checkIdentifierTooLong,
}

// maxIdentifierBytes is NAMEDATALEN - 1.
const maxIdentifierBytes = 63

func checkIdentifierTooLong(p *pass, s *stmtCtx) {
	n := s.Node
	switch {
	case n.GetCreateStmt() != nil, n.GetIndexStmt() != nil, n.GetAlterTableStmt() != nil, n.GetRenameStmt() != nil,
		n.GetViewStmt() != nil, n.GetCreateTableAsStmt() != nil, n.GetCreateSeqStmt() != nil, n.GetCreateTrigStmt() != nil,
		n.GetCreatePolicyStmt() != nil, n.GetCreateDomainStmt() != nil, n.GetCreateEnumStmt() != nil:
	default:
		return
	}
	if !mayHaveLongIdentifier(s.Text) {
		return
	}
	ids, err := pgquery.Identifiers(s.Text)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if len(id.Name) > maxIdentifierBytes && !seen[id.Name] {
			seen[id.Name] = true
			p.report(s, s.Pos.Offset+id.Offset, "identifier %s is %d bytes long: PostgreSQL truncates it to 63", quote(id.Name), len(id.Name))
		}
	}
}

// mayHaveLongIdentifier is a quick filter before scanning: whether text has a
// run of more than 63 bytes without white space or punctuation, or a quoted
// identifier that long.
func mayHaveLongIdentifier(text string) bool {
	run := 0
	quoted := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			quoted = !quoted
			run = 0
		case quoted:
			run++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '(' || c == ')' || c == ';' ||
			c == '.' || c == '=' || c == '\'' || c == ':' || c == '+' || c == '-' || c == '*' || c == '/' ||
			c == '<' || c == '>':
			run = 0
		default:
			run++
		}
		if run > maxIdentifierBytes {
			return true
		}
	}
	return false
}
