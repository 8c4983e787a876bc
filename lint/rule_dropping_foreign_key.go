package lint

import (
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

var ruleDroppingForeignKey = rule{
	Rule: Rule{
		Code:     "SA021",
		Name:     "dropping-foreign-key",
		Group:    GroupTimeout,
		Severity: SeverityWarning,
		Message:  "dropping a foreign key takes ACCESS EXCLUSIVE on the referenced table too",
		Why: "Dropping a foreign key removes its triggers from both tables, so it takes an ACCESS EXCLUSIVE lock on " +
			"the referencing table and on the referenced table. The lock is brief, but waiting for it blocks all " +
			"queries on both tables, including a referenced table the migration does not otherwise touch.",
		SafeWay: "Drop the constraint in its own short transaction with a lock_timeout, and retry on timeout; avoid " +
			"busy hours for heavily used referenced tables.",
	},
	check: checkDroppingForeignKey,
}

func checkDroppingForeignKey(p *pass, s *stmtCtx) {
	table, cmds := p.alterExistingTable(s)
	for _, cmd := range cmds {
		if cmd.Subtype != pgquery.AlterTableType_AT_DropConstraint {
			continue
		}
		c, known := p.st.Constraint(table, cmd.Name)
		switch {
		case known && c.Kind == pgquery.ConstrType_CONSTR_FOREIGN:
			p.report(s, s.Pos.Offset, "dropping foreign key %s takes ACCESS EXCLUSIVE locks on %s and on the referenced table %s",
				quote(cmd.Name), quote(table), quote(c.RefTable))
		case !known && looksLikeForeignKey(cmd.Name):
			p.report(s, s.Pos.Offset, "dropping foreign key %s takes ACCESS EXCLUSIVE locks on %s and on the table it references",
				quote(cmd.Name), quote(table))
		}
	}
}

// looksLikeForeignKey guesses from its name whether a constraint the file did
// not create is a foreign key: PostgreSQL names them <table>_<cols>_fkey.
func looksLikeForeignKey(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, "_fkey") || strings.HasPrefix(n, "fk_") || strings.HasSuffix(n, "_fk")
}
