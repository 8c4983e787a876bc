package planner

import (
	"strings"

	"github.com/stratapg/strata/migration"
)

// The SQL of the index and constraint options of the file format: index
// columns with operator class, collation and order, storage parameters,
// INCLUDE, NULLS NOT DISTINCT and DEFERRABLE. Shared by add_index,
// create_table, add_unique and add_primary_key. Identifiers are quoted; the
// values of parameters are rendered as literals; expressions are the user's
// SQL.

// indexColumnSQL renders one key column of an index (or the element part
// of an exclusion constraint element).
func indexColumnSQL(c migration.IndexColumn) string {
	var s string
	switch e := strings.TrimSpace(c.Expression); {
	case c.Column != "":
		s = ident(c.Column)
	case strings.HasPrefix(e, "("):
		s = e
	default:
		s = "(" + e + "\n)"
	}
	if c.Collate != "" {
		s += " COLLATE " + qualName(c.Collate)
	}
	if c.Opclass != "" {
		s += " " + qualName(c.Opclass)
		if len(c.OpclassParameters) > 0 {
			s += " (" + paramList(c.OpclassParameters) + ")"
		}
	}
	if c.Sort != "" {
		s += " " + strings.ToUpper(c.Sort)
	}
	if c.Nulls != "" {
		s += " NULLS " + strings.ToUpper(c.Nulls)
	}
	return s
}

// qualName quotes a name written as name or schema.name (an operator class
// or a collation).
func qualName(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = ident(p)
	}
	return strings.Join(parts, ".")
}

// paramList renders storage parameters: name = value, ...
func paramList(ps []migration.Param) string {
	out := make([]string, len(ps))
	for i, x := range ps {
		v := x.Value
		if x.Quoted {
			v = literal(v)
		}
		out[i] = ident(x.Name) + " = " + v
	}
	return strings.Join(out, ", ")
}

// indexTail renders what follows the key columns of an index or an
// index-backed constraint: INCLUDE, NULLS NOT DISTINCT and WITH (storage
// parameters), in CREATE INDEX's order. (A UNIQUE constraint writes NULLS
// NOT DISTINCT before its columns: callers pass false there.)
func indexTail(include []string, nullsNotDistinct bool, params []migration.Param) string {
	var s string
	if len(include) > 0 {
		s += " INCLUDE (" + identList(include) + ")"
	}
	if nullsNotDistinct {
		s += " NULLS NOT DISTINCT"
	}
	if len(params) > 0 {
		s += " WITH (" + paramList(params) + ")"
	}
	return s
}

// deferrableSQL renders DEFERRABLE [INITIALLY DEFERRED].
func deferrableSQL(deferrable, deferred bool) string {
	switch {
	case deferrable && deferred:
		return " DEFERRABLE INITIALLY DEFERRED"
	case deferrable:
		return " DEFERRABLE"
	}
	return ""
}

// needPG15 refuses NULLS NOT DISTINCT on servers before PostgreSQL 15.
func (p *planner) needPG15(key, what string) error {
	if p.cat != nil && p.cat.PGMajor > 0 && p.cat.PGMajor < 15 {
		return p.errf(key, "%s needs PostgreSQL 15 or later; this server is PostgreSQL %d", what, p.cat.PGMajor)
	}
	return nil
}
