package pgquery

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"
)

// ParseOne parses src, which must hold exactly one statement, and returns
// its parse tree. A syntax error is a *SyntaxError located in src.
func ParseOne(src string) (*Node, error) {
	f, err := Parse(src)
	if err != nil {
		return nil, err
	}
	switch len(f.Statements) {
	case 0:
		return nil, errors.New("no statement")
	case 1:
		return f.Statements[0].Node, nil
	default:
		return nil, fmt.Errorf("%d statements, want exactly one", len(f.Statements))
	}
}

// ParseExpr parses an SQL value expression (as written in a CHECK, a
// DEFAULT, an index's WHERE or a strata up/down) and returns its tree. The
// expression must stand alone: "1; DROP TABLE t" or "a) OR (b" are errors.
// Syntax error positions are relative to expr.
func ParseExpr(expr string) (*Node, error) {
	const prefix = "SELECT "
	src := prefix + expr
	tree, err := pg_query.Parse(src)
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			f := newFile(expr)
			off := len(expr)
			if pe.Cursorpos > len(prefix) {
				off = min(charOffset(src, pe.Cursorpos-1)-len(prefix), len(expr))
			}
			return nil, &SyntaxError{Message: pe.Message, Pos: f.Position(max(off, 0))}
		}
		return nil, err
	}
	if len(tree.Stmts) != 1 {
		return nil, errors.New("not a single expression: more than one statement")
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) == 0 {
		return nil, errors.New("not a single expression")
	}
	if len(sel.TargetList) > 1 {
		return nil, errors.New("not a single expression: a list")
	}
	if len(sel.FromClause) != 0 || sel.WhereClause != nil ||
		len(sel.GroupClause) != 0 || sel.HavingClause != nil || len(sel.SortClause) != 0 ||
		sel.LimitCount != nil || sel.LimitOffset != nil || len(sel.WindowClause) != 0 ||
		sel.Op != SetOperation_SETOP_NONE || len(sel.DistinctClause) != 0 || sel.WithClause != nil ||
		len(sel.LockingClause) != 0 || sel.IntoClause != nil {
		return nil, errors.New("not a single expression: a clause follows it")
	}
	rt := sel.TargetList[0].GetResTarget()
	if rt == nil || rt.Val == nil {
		return nil, errors.New("not a single expression")
	}
	if rt.Name != "" {
		return nil, fmt.Errorf("not a single expression: %q follows it", rt.Name)
	}
	return rt.Val, nil
}

// ParseType parses an SQL type name as written in a column definition
// ("numeric(12,2)", "timestamp with time zone", "text[]", "text COLLATE \"C\"").
func ParseType(typ string) error {
	const prefix = "CREATE TABLE t (c "
	src := prefix + typ + "\n)"
	tree, err := pg_query.Parse(src)
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			f := newFile(typ)
			off := len(typ)
			if pe.Cursorpos > len(prefix) {
				off = min(charOffset(src, pe.Cursorpos-1)-len(prefix), len(typ))
			}
			return &SyntaxError{Message: pe.Message, Pos: f.Position(max(off, 0))}
		}
		return err
	}
	if len(tree.Stmts) != 1 {
		return errors.New("not a type")
	}
	cs := tree.Stmts[0].Stmt.GetCreateStmt()
	if cs == nil || len(cs.TableElts) != 1 || cs.TableElts[0].GetColumnDef() == nil {
		return errors.New("not a type")
	}
	if cons := cs.TableElts[0].GetColumnDef().Constraints; len(cons) > 0 {
		// Only the first constraint is reported.
		con := cons[0].GetConstraint()
		if con == nil {
			return errors.New("not a type")
		}
		return fmt.Errorf("a type, not a column constraint (%s)", strings.ToLower(strings.TrimPrefix(con.Contype.String(), "CONSTR_")))
	}
	return nil
}

// Deparse renders statements' parse trees back to SQL, one statement per
// tree, separated by "; ".
func Deparse(stmts ...*Node) (string, error) {
	res := &pg_query.ParseResult{Version: parseVersion()}
	for _, s := range stmts {
		res.Stmts = append(res.Stmts, &pg_query.RawStmt{Stmt: s})
	}
	out, err := pg_query.Deparse(res)
	if err != nil {
		return "", fmt.Errorf("deparse: %w", err)
	}
	return out, nil
}

var (
	versionOnce sync.Once
	version     int32
)

// parseVersion is the parse-tree version of the embedded parser, which
// Deparse insists on.
func parseVersion() int32 {
	versionOnce.Do(func() {
		if tree, err := pg_query.Parse("SELECT 1"); err == nil {
			version = tree.Version
		}
	})
	return version
}

// DeparseExpr renders an expression's parse tree back to SQL.
func DeparseExpr(expr *Node) (string, error) {
	sel := &Node{Node: &Node_SelectStmt{SelectStmt: &SelectStmt{
		TargetList: []*Node{{Node: &Node_ResTarget{ResTarget: &ResTarget{Val: expr}}}},
	}}}
	out, err := Deparse(sel)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(out, "SELECT ") {
		return "", fmt.Errorf("deparse expression: unexpected %q", out)
	}
	return strings.TrimPrefix(out, "SELECT "), nil
}

// Clone deep-copies a parse tree.
func Clone(n *Node) *Node {
	if n == nil {
		return nil
	}
	return proto.Clone(n).(*Node)
}

// DeparseType renders a type name back to SQL, e.g. "numeric(12, 2)",
// "timestamp with time zone" or "text[]" ("integer" for int4, which the
// deparser spells "int").
func DeparseType(tn *TypeName) (string, error) {
	if tn == nil {
		return "", errors.New("no type")
	}
	cast := &Node{Node: &Node_TypeCast{TypeCast: &TypeCast{
		Arg:      &Node{Node: &Node_AConst{AConst: &A_Const{Isnull: true}}},
		TypeName: tn,
	}}}
	out, err := DeparseExpr(cast)
	if err != nil {
		return "", err
	}
	typ, ok := strings.CutPrefix(out, "NULL::")
	if !ok {
		return "", fmt.Errorf("deparse type: unexpected %q", out)
	}
	if rest, ok := strings.CutPrefix(typ, "int"); ok && (rest == "" || strings.HasPrefix(rest, "[")) {
		typ = "integer" + rest
	}
	return typ, nil
}
