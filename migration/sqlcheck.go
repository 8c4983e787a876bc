package migration

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// SQL fragments (expressions, types, custom SQL) are parsed with
// PostgreSQL's own grammar (through internal/pgquery), so that a syntax
// error is reported with the file and key before anything touches the
// database. Whether a fragment makes sense for the table (its columns, its
// types) is checked later, against the database, while planning.

// sqlFragments checks the SQL fragments of one action.
func (v *validator) sqlFragments(p string, a Action) {
	if a == nil {
		return
	}
	if at := lookupActionType(a.Type()); at != nil {
		at.sql(v, p, a)
	}
}

func (v *validator) columnSQL(p string, c *Column) {
	v.typ(p+".type", c.Type)
	if c.Default != nil {
		v.expr(p+".default", *c.Default)
	}
	if g := strings.TrimSpace(c.Generated); g != "" {
		if _, err := pgquery.ParseOne("CREATE TABLE t (c int GENERATED " + g + "\n)"); err != nil {
			msg := sqlMessage(err)
			var se *pgquery.SyntaxError
			if errors.As(err, &se) {
				msg = se.Message // its position is in strata's wrapping, not in the value
			}
			v.add(p+".generated", "invalid generated clause %q: %s (write what follows GENERATED, e.g. \"ALWAYS AS IDENTITY\" or \"ALWAYS AS (a + b) STORED\")", g, msg)
		}
	}
}

// indexSQL checks the expression columns and the where of an index.
func (v *validator) indexSQL(p string, x *Index) {
	for j, c := range x.Columns {
		switch {
		case c.Expression == "":
		case strings.HasPrefix(strings.TrimSpace(c.Expression), "("):
			// The string form, "(lower(email))".
			v.expr(joinIndex(p+".columns", j), c.Expression)
		default:
			v.expr(joinIndex(p+".columns", j)+".expression", c.Expression)
		}
	}
	v.expr(p+".where", x.Where)
}

func (v *validator) valueSQL(p string, val *Value) {
	switch {
	case val == nil:
	case val.MultiTable():
		v.expr(p+".value", val.Expr)
		v.expr(p+".where", val.Where)
	default:
		v.expr(p, val.Expr)
	}
}

// expr checks one SQL expression; an empty one is left to the other checks.
func (v *validator) expr(key, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if _, err := pgquery.ParseExpr(s); err != nil {
		v.add(key, "invalid SQL expression %s: %s", quoteFragment(s), sqlMessage(err))
	}
}

// typ checks an SQL type name.
func (v *validator) typ(key, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if err := pgquery.ParseType(s); err != nil {
		v.add(key, "invalid SQL type %s: %s", quoteFragment(s), sqlMessage(err))
	}
}

// statements checks custom SQL: any number of statements.
func (v *validator) statements(key, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if _, err := pgquery.Parse(s); err != nil {
		v.add(key, "invalid SQL: %s", sqlMessage(err))
	}
}

// sqlMessage renders a parse error: a syntax error with its place in the
// fragment.
func sqlMessage(err error) string {
	var se *pgquery.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (line %d, column %d of the SQL)", se.Message, se.Pos.Line, se.Pos.Column)
	}
	msg := strings.TrimPrefix(err.Error(), "pgquery: ")
	if rest, ok := strings.CutPrefix(msg, "not a single expression"); ok {
		return "must be one expression" + rest
	}
	if msg == "not a type" {
		return "not a type name"
	}
	return msg
}

// quoteFragment quotes a fragment for a message, shortened if long.
func quoteFragment(s string) string {
	const max = 60
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

// exprColumns returns the names of the columns an SQL expression refers to
// (the last part of each column reference); ok is false when s does not
// parse (reported elsewhere).
func exprColumns(s string) (map[string]bool, bool) {
	n, err := pgquery.ParseExpr(s)
	if err != nil {
		return nil, false
	}
	refs := map[string]bool{}
	pgquery.Walk(n, func(x *pgquery.Node) bool {
		if name, ok := pgquery.ColumnRefName(x); ok {
			refs[name] = true
		}
		return true
	})
	return refs, true
}
