package lint

import (
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/pgquery"
)

// relName returns the name of rv as written: "schema.name" or "name".
func relName(rv *pgquery.RangeVar) string {
	if rv == nil {
		return ""
	}
	if rv.Schemaname != "" {
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}

// relKey normalises a relation name for lookups: the public schema is
// implied, so "public.t" and "t" are the same relation.
func relKey(name string) string {
	return strings.TrimPrefix(name, "public.")
}

// strs returns the String values of a list of nodes, skipping others.
func strs(nodes []*pgquery.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if s := n.GetString_(); s != nil {
			out = append(out, s.Sval)
		}
	}
	return out
}

// qualified joins name parts with dots.
func qualified(nodes []*pgquery.Node) string { return strings.Join(strs(nodes), ".") }

// listItems returns the items of a List node, or nil.
func listItems(n *pgquery.Node) []*pgquery.Node {
	if l := n.GetList(); l != nil {
		return l.Items
	}
	return nil
}

// constInt returns the integer value of an A_Const integer node.
func constInt(n *pgquery.Node) (int, bool) {
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return 0, false
	}
	if iv := c.GetIval(); iv != nil {
		return int(iv.Ival), true
	}
	return 0, false
}

// constString returns the string value of an A_Const string node, or the
// text of an integer or float constant.
func constString(n *pgquery.Node) (string, bool) {
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return "", false
	}
	switch {
	case c.GetSval() != nil:
		return c.GetSval().Sval, true
	case c.GetIval() != nil:
		return itoa(int(c.GetIval().Ival)), true
	case c.GetFval() != nil:
		return c.GetFval().Fval, true
	case c.GetBoolval() != nil:
		if c.GetBoolval().Boolval {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func itoa(i int) string { return strconv.Itoa(i) }

// hasOption reports whether options contain a DefElem named name whose
// argument is absent or true-ish.
func hasOption(options []*pgquery.Node, name string) bool {
	for _, o := range options {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.Defname, name) {
			continue
		}
		if d.Arg == nil {
			return true
		}
		if s, ok := constString(d.Arg); ok {
			switch strings.ToLower(s) {
			case "false", "off", "0", "no":
				return false
			}
		}
		if s := d.Arg.GetString_(); s != nil {
			switch strings.ToLower(s.Sval) {
			case "false", "off", "0", "no":
				return false
			}
		}
		return true
	}
	return false
}

// columnConstraints returns the column's constraints of the given type.
func columnConstraints(cd *pgquery.ColumnDef, typ pgquery.ConstrType) []*pgquery.Constraint {
	var out []*pgquery.Constraint
	for _, n := range cd.Constraints {
		if c := n.GetConstraint(); c != nil && c.Contype == typ {
			out = append(out, c)
		}
	}
	return out
}

// columnDefault returns the column's DEFAULT expression, or nil.
func columnDefault(cd *pgquery.ColumnDef) *pgquery.Node {
	if cd.RawDefault != nil {
		return cd.RawDefault
	}
	for _, c := range columnConstraints(cd, pgquery.ConstrType_CONSTR_DEFAULT) {
		return c.RawExpr
	}
	return nil
}

// isNullConst reports whether n is the NULL literal (possibly cast).
func isNullConst(n *pgquery.Node) bool {
	if tc := n.GetTypeCast(); tc != nil {
		return isNullConst(tc.Arg)
	}
	c := n.GetAConst()
	return c != nil && c.Isnull
}

// typeBase returns the lower-case final name of a type, e.g. "int4" for
// pg_catalog.int4 and "varchar" for character varying.
func typeBase(tn *pgquery.TypeName) string {
	if tn == nil || len(tn.Names) == 0 {
		return ""
	}
	s := tn.Names[len(tn.Names)-1].GetString_()
	if s == nil {
		return ""
	}
	return strings.ToLower(s.Sval)
}

// typeMods returns the integer type modifiers (e.g. [10 2] for
// numeric(10,2)); ok is false when a modifier is not an integer constant.
func typeMods(tn *pgquery.TypeName) (mods []int, ok bool) {
	for _, m := range tn.Typmods {
		v, isInt := constInt(m)
		if !isInt {
			return nil, false
		}
		mods = append(mods, v)
	}
	return mods, true
}

// serialTypes maps the serial pseudo-types to the integer type they create.
var serialTypes = map[string]string{
	"smallserial": "int2", "serial2": "int2",
	"serial": "int4", "serial4": "int4",
	"bigserial": "int8", "serial8": "int8",
}

// typeString renders a type name for messages, e.g. "varchar(20)" or "int4[]".
func typeString(tn *pgquery.TypeName) string {
	if tn == nil {
		return ""
	}
	names := strs(tn.Names)
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
		if sql, ok := sqlTypeNames[names[0]]; ok {
			names = []string{sql}
		}
	}
	s := strings.Join(names, ".")
	if mods, ok := typeMods(tn); ok && len(mods) > 0 {
		parts := make([]string, len(mods))
		for i, m := range mods {
			parts[i] = itoa(m)
		}
		s += "(" + strings.Join(parts, ",") + ")"
	}
	for range tn.ArrayBounds {
		s += "[]"
	}
	return s
}

// sqlTypeNames are the SQL spellings of the catalog names the grammar
// produces for SQL-standard type names.
var sqlTypeNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bpchar": "char", "bool": "boolean",
}

// columnRefName returns the single column name a ColumnRef names.
func columnRefName(n *pgquery.Node) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil || len(cr.Fields) == 0 {
		return "", false
	}
	s := cr.Fields[len(cr.Fields)-1].GetString_()
	if s == nil {
		return "", false
	}
	return s.Sval, true
}

// funcName returns the lower-case unqualified name of a function call.
func funcName(fc *pgquery.FuncCall) string {
	names := strs(fc.Funcname)
	if len(names) == 0 {
		return ""
	}
	return strings.ToLower(names[len(names)-1])
}
