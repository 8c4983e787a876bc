package migration

import (
	"errors"
	"fmt"
	"strings"

	"github.com/strata-db/strata/internal/pgquery"
)

// SQL fragments (expressions, types, custom SQL) are parsed with
// PostgreSQL's own grammar (through internal/pgquery), so that a syntax
// error is reported with the file and key before anything touches the
// database. Whether a fragment makes sense for the table (its columns, its
// types) is checked later, against the database, while planning.

// sqlFragments checks the SQL fragments of one action.
func (v *validator) sqlFragments(p string, a Action) {
	switch a := a.(type) {
	case *CreateTable:
		for j := range a.Columns {
			v.columnSQL(joinIndex(p+".columns", j), &a.Columns[j])
		}
		for j, c := range a.Checks {
			v.expr(joinIndex(p+".checks", j)+".expression", c.Expression)
		}
		if a.Up != nil {
			for _, cv := range a.Up.Values {
				v.expr(joinKey(p+".up.values", cv.Column), cv.Expr)
			}
			v.expr(p+".up.where", a.Up.Where)
		}
	case *AddColumn:
		v.columnSQL(p+".column", &a.Column)
		v.valueSQL(p+".up", a.Up)
	case *AlterColumn:
		if a.Changes.Type != nil {
			v.typ(p+".changes.type", *a.Changes.Type)
		}
		if a.Changes.Default != nil {
			v.expr(p+".changes.default", *a.Changes.Default)
		}
		v.expr(p+".up", a.Up)
		v.expr(p+".down", a.Down)
	case *RemoveColumn:
		v.valueSQL(p+".down", a.Down)
	case *AddIndex:
		for j, c := range a.Index.Columns {
			if strings.HasPrefix(strings.TrimSpace(c), "(") {
				v.expr(joinIndex(p+".index.columns", j), c)
			}
		}
		v.expr(p+".index.where", a.Index.Where)
	case *AddCheck:
		v.expr(p+".check.expression", a.Check.Expression)
	case *Custom:
		v.statements(p+".start", a.Start)
		v.statements(p+".complete", a.Complete)
		v.statements(p+".abort", a.Abort)
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
