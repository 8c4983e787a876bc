package lint

import (
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/pglock"
)

// Codes of the meta rules the engine reports itself.
const (
	codeSyntax             = "SA000"
	codeInvalidSuppression = "SA901"
	codeUnusedSuppression  = "SA902"
)

// alterTable returns the ALTER TABLE statement s is and its subcommands, or
// nil when s is something else.
func alterTable(s *stmtCtx) (*pgquery.AlterTableStmt, []*pgquery.AlterTableCmd) {
	at := s.Node.GetAlterTableStmt()
	if at == nil {
		return nil, nil
	}
	cmds := make([]*pgquery.AlterTableCmd, 0, len(at.Cmds))
	for _, c := range at.Cmds {
		if cmd := c.GetAlterTableCmd(); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	return at, cmds
}

// alterExistingTable returns the subcommands of an ALTER TABLE on a table
// that existed before the file, and the table's name.
func (p *pass) alterExistingTable(s *stmtCtx) (string, []*pgquery.AlterTableCmd) {
	at, cmds := alterTable(s)
	if at == nil || at.Objtype != pgquery.ObjectType_OBJECT_TABLE {
		return "", nil
	}
	table := pgquery.RelName(at.Relation)
	if !p.existing(table) {
		return "", nil
	}
	return table, cmds
}

// quote renders an identifier for messages.
func quote(name string) string { return fmt.Sprintf("%q", name) }

// describeLocks renders locks as `ACCESS EXCLUSIVE on "t"`, joined by "and".
func describeLocks(locks []pglock.Lock) string {
	parts := make([]string, len(locks))
	for i, l := range locks {
		parts[i] = l.Mode.String() + " on " + quote(l.Relation)
	}
	return strings.Join(parts, " and ")
}

// colDef is a column definition met in CREATE TABLE, ADD COLUMN or ALTER
// COLUMN TYPE.
type colDef struct {
	table  string
	name   string
	typ    *pgquery.TypeName
	def    *pgquery.ColumnDef // nil for ALTER COLUMN TYPE
	offset int
	pkCols map[string]bool // columns of a table-level PRIMARY KEY of the same CREATE TABLE
}

// columnDefs returns the column definitions of s.
func columnDefs(s *stmtCtx) []colDef {
	var out []colDef
	n := s.Node
	switch {
	case n.GetCreateStmt() != nil:
		cs := n.GetCreateStmt()
		pk := map[string]bool{}
		for _, e := range cs.TableElts {
			if c := e.GetConstraint(); c != nil && c.Contype == pgquery.ConstrType_CONSTR_PRIMARY {
				for _, k := range pgquery.Strs(c.Keys) {
					pk[k] = true
				}
			}
		}
		for _, e := range cs.TableElts {
			if cd := e.GetColumnDef(); cd != nil {
				out = append(out, colDef{pgquery.RelName(cs.Relation), cd.Colname, cd.TypeName, cd, s.Offset(cd.Location), pk})
			}
		}
	case n.GetAlterTableStmt() != nil:
		at, cmds := alterTable(s)
		for _, cmd := range cmds {
			cd := cmd.Def.GetColumnDef()
			if cd == nil {
				continue
			}
			switch cmd.Subtype {
			case pgquery.AlterTableType_AT_AddColumn:
				out = append(out, colDef{pgquery.RelName(at.Relation), cd.Colname, cd.TypeName, cd, s.Offset(cd.Location), nil})
			case pgquery.AlterTableType_AT_AlterColumnType:
				out = append(out, colDef{pgquery.RelName(at.Relation), cmd.Name, cd.TypeName, nil, s.Offset(cd.Location), nil})
			}
		}
	}
	return out
}
