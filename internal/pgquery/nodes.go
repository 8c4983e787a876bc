package pgquery

import (
	"strconv"
	"strings"
)

// Node helpers shared by the packages that read parse trees (pglock, lint).

// RelName returns the name of rv as written: "schema.name" or "name" ("" for
// nil).
func RelName(rv *RangeVar) string {
	if rv == nil {
		return ""
	}
	if rv.Schemaname != "" {
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}

// Strs returns the String values of a list of nodes, skipping others.
func Strs(nodes []*Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if s := n.GetString_(); s != nil {
			out = append(out, s.Sval)
		}
	}
	return out
}

// Qualified joins the String values of name parts with dots.
func Qualified(nodes []*Node) string { return strings.Join(Strs(nodes), ".") }

// ListItems returns the items of a List node, or nil.
func ListItems(n *Node) []*Node {
	if l := n.GetList(); l != nil {
		return l.Items
	}
	return nil
}

// ConstInt returns the integer value of an A_Const integer node.
func ConstInt(n *Node) (int, bool) {
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return 0, false
	}
	if iv := c.GetIval(); iv != nil {
		return int(iv.Ival), true
	}
	return 0, false
}

// ConstString returns the string value of an A_Const string node, or the
// text of an integer, float or boolean constant.
func ConstString(n *Node) (string, bool) {
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return "", false
	}
	switch {
	case c.GetSval() != nil:
		return c.GetSval().Sval, true
	case c.GetIval() != nil:
		return strconv.Itoa(int(c.GetIval().Ival)), true
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

// HasOption reports whether options contain a DefElem named name
// (case-insensitive) whose argument is absent or true-ish.
func HasOption(options []*Node, name string) bool {
	for _, o := range options {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.Defname, name) {
			continue
		}
		if d.Arg == nil {
			return true
		}
		if s, ok := ConstString(d.Arg); ok {
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

// ColumnConstraints returns the column's constraints of the given type.
func ColumnConstraints(cd *ColumnDef, typ ConstrType) []*Constraint {
	var out []*Constraint
	for _, n := range cd.Constraints {
		if c := n.GetConstraint(); c != nil && c.Contype == typ {
			out = append(out, c)
		}
	}
	return out
}

// ColumnDefault returns the column's DEFAULT expression, or nil.
func ColumnDefault(cd *ColumnDef) *Node {
	if cd.RawDefault != nil {
		return cd.RawDefault
	}
	for _, c := range ColumnConstraints(cd, ConstrType_CONSTR_DEFAULT) {
		return c.RawExpr
	}
	return nil
}

// IsNullConst reports whether n is the NULL literal (possibly cast).
func IsNullConst(n *Node) bool {
	if tc := n.GetTypeCast(); tc != nil {
		return IsNullConst(tc.Arg)
	}
	c := n.GetAConst()
	return c != nil && c.Isnull
}

// TypeBase returns the lower-case final name of a type, e.g. "int4" for
// pg_catalog.int4 and "varchar" for character varying.
func TypeBase(tn *TypeName) string {
	if tn == nil || len(tn.Names) == 0 {
		return ""
	}
	s := tn.Names[len(tn.Names)-1].GetString_()
	if s == nil {
		return ""
	}
	return strings.ToLower(s.Sval)
}

// TypeMods returns the integer type modifiers (e.g. [10 2] for
// numeric(10,2)); ok is false when a modifier is not an integer constant.
func TypeMods(tn *TypeName) (mods []int, ok bool) {
	for _, m := range tn.Typmods {
		v, isInt := ConstInt(m)
		if !isInt {
			return nil, false
		}
		mods = append(mods, v)
	}
	return mods, true
}

// CanonicalType maps a type's final name to the name PostgreSQL's catalog
// uses, so that aliases compare equal (e.g. "int4" for integer).
func CanonicalType(tn *TypeName) string {
	b := TypeBase(tn)
	switch b {
	case "int", "integer":
		return "int4"
	case "smallint":
		return "int2"
	case "bigint":
		return "int8"
	case "decimal":
		return "numeric"
	case "character varying":
		return "varchar"
	case "character":
		return "bpchar"
	case "bit varying":
		return "varbit"
	case "bool":
		return "boolean"
	}
	if len(tn.Names) == 1 && b == "char" {
		return "char" // the internal single-byte type "char"
	}
	return b
}

// serialTypes maps the serial pseudo-types to the integer type they create.
var serialTypes = map[string]string{
	"smallserial": "int2", "serial2": "int2",
	"serial": "int4", "serial4": "int4",
	"bigserial": "int8", "serial8": "int8",
}

// SerialType returns the integer type a serial pseudo-type (e.g. "bigserial",
// as TypeBase gives it) creates, and whether name is one.
func SerialType(name string) (string, bool) {
	t, ok := serialTypes[name]
	return t, ok
}

// TypeString renders a type name for messages, e.g. "varchar(20)" or "int4[]".
func TypeString(tn *TypeName) string {
	if tn == nil {
		return ""
	}
	names := Strs(tn.Names)
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
		if sql, ok := sqlTypeNames[names[0]]; ok {
			names = []string{sql}
		}
	}
	s := strings.Join(names, ".")
	if mods, ok := TypeMods(tn); ok && len(mods) > 0 {
		parts := make([]string, len(mods))
		for i, m := range mods {
			parts[i] = strconv.Itoa(m)
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

// ColumnRefName returns the column name a ColumnRef names (its last field).
func ColumnRefName(n *Node) (string, bool) {
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

// FuncName returns the lower-case unqualified name of a function call.
func FuncName(fc *FuncCall) string {
	names := Strs(fc.Funcname)
	if len(names) == 0 {
		return ""
	}
	return strings.ToLower(names[len(names)-1])
}
