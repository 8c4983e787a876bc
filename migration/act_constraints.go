package migration

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// Index columns with options, storage parameters, unique constraints,
// primary keys and exclusion constraints: the forms shared by add_index,
// create_table, add_unique and add_primary_key (their entries are in
// actions.go).

// indexColumns decodes index.columns: each item a string (a column name, or
// an expression in parentheses) or a table {column | expression, opclass,
// opclass_parameters, collate, sort, nulls}.
func (d *decoder) indexColumns(t *table, k string) []IndexColumn {
	arr, ok := t.list(k, true)
	if !ok {
		return nil
	}
	out := make([]IndexColumn, len(arr))
	for i, e := range arr {
		p := joinIndex(t.key(k), i)
		if s, ok := e.(string); ok {
			out[i] = plainIndexColumn(s)
			continue
		}
		et, ok := e.(*object)
		if !ok {
			d.l.add(p, "expected string or %s, got %s", tableWord(d.json), typeName(e, d.json))
			continue
		}
		ct := d.asTable(et, p)
		out[i] = d.indexColumn(ct)
		ct.done(nil)
	}
	return out
}

// plainIndexColumn is the string form of an index column.
func plainIndexColumn(s string) IndexColumn {
	if strings.HasPrefix(strings.TrimSpace(s), "(") {
		return IndexColumn{Expression: s}
	}
	return IndexColumn{Column: s}
}

// indexColumn reads the keys of the table form of an index column.
func (d *decoder) indexColumn(t *table) IndexColumn {
	return IndexColumn{
		Column:            t.str("column", false),
		Expression:        t.str("expression", false),
		Opclass:           t.str("opclass", false),
		OpclassParameters: d.params(t, "opclass_parameters"),
		Collate:           t.str("collate", false),
		Sort:              strings.ToLower(t.str("sort", false)),
		Nulls:             strings.ToLower(t.str("nulls", false)),
	}
}

// params decodes a table of storage (or operator class) parameters, in the
// order they were written.
func (d *decoder) params(t *table, k string) []Param {
	pt := t.sub(k, false)
	if pt == nil {
		return nil
	}
	out := []Param{}
	for _, name := range pt.o.keys {
		v, _ := pt.get(name)
		p := Param{Name: name}
		switch v := v.(type) {
		case string:
			p.Value, p.Quoted = v, true
		case bool:
			p.Value = strconv.FormatBool(v)
		case int64:
			p.Value = strconv.FormatInt(v, 10)
		case float64:
			p.Value = strconv.FormatFloat(v, 'g', -1, 64)
		case json.Number:
			p.Value = v.String()
		default:
			pt.wrongType(name, "string, number or boolean", v)
			continue
		}
		out = append(out, p)
	}
	return out
}

// list returns the array at k; ok is false when it is absent (reported if
// required) or not an array (reported).
func (t *table) list(k string, required bool) ([]any, bool) {
	v, ok := t.get(k)
	if !ok {
		if required {
			t.missing(k)
		}
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(k, "array", v)
		return nil, false
	}
	return arr, true
}

// flag returns the boolean at k, false when absent or of the wrong type
// (reported).
func (t *table) flag(k string) bool {
	b := t.boolean(k)
	return b != nil && *b
}

// unique decodes a unique constraint; t may be nil (already reported).
func (d *decoder) unique(t *table, nameRequired bool) Unique {
	if t == nil {
		return Unique{}
	}
	u := Unique{
		Name:              t.str("name", nameRequired),
		Columns:           t.strs("columns", true),
		Include:           t.strs("include", false),
		NullsNotDistinct:  t.flag("nulls_not_distinct"),
		Deferrable:        t.flag("deferrable"),
		InitiallyDeferred: t.flag("initially_deferred"),
		StorageParameters: d.params(t, "storage_parameters"),
	}
	t.done(nil)
	return u
}

// primaryKey decodes add_primary_key.primary_key; t may be nil.
func (d *decoder) primaryKey(t *table) PrimaryKey {
	if t == nil {
		return PrimaryKey{}
	}
	pk := PrimaryKey{
		Name:              t.str("name", true),
		Columns:           t.strs("columns", true),
		Include:           t.strs("include", false),
		StorageParameters: d.params(t, "storage_parameters"),
	}
	t.done(nil)
	return pk
}

// exclude decodes an exclusion constraint of create_table; t may be nil.
func (d *decoder) exclude(t *table) Exclude {
	if t == nil {
		return Exclude{}
	}
	x := Exclude{
		Name:              t.str("name", false),
		Method:            normalizeMethod(t.str("type", false)),
		Where:             t.str("where", false),
		Include:           t.strs("include", false),
		StorageParameters: d.params(t, "storage_parameters"),
		Deferrable:        t.flag("deferrable"),
		InitiallyDeferred: t.flag("initially_deferred"),
	}
	if arr, ok := t.list("elements", true); ok {
		x.Elements = make([]ExcludeElement, len(arr))
		for i, e := range arr {
			p := joinIndex(t.key("elements"), i)
			if s, ok := e.(string); ok {
				x.Elements[i] = ExcludeElement{Raw: s}
				continue
			}
			et, ok := e.(*object)
			if !ok {
				d.l.add(p, "expected string or %s, got %s", tableWord(d.json), typeName(e, d.json))
				continue
			}
			ct := d.asTable(et, p)
			x.Elements[i] = ExcludeElement{IndexColumn: d.indexColumn(ct), Operator: ct.str("operator", true)}
			ct.done(nil)
		}
	}
	t.done(nil)
	return x
}

// indexColumn checks one index column (or exclusion element) at key p;
// cols, if not nil, are the columns of the table being created.
func (v *validator) indexColumn(p string, c *IndexColumn, cols map[string]*Column) {
	switch {
	case c.Column != "" && c.Expression != "":
		v.add(p+".expression", "give column or expression, not both")
	case c.Column == "" && c.Expression == "":
		v.add(p, "needs column or expression")
	case c.Column != "":
		v.ident(p, c.Column)
		if cols != nil && cols[c.Column] == nil {
			v.add(p, "no column %q in columns", c.Column)
		}
	default:
		v.nonEmpty(p, strings.Trim(strings.TrimSpace(c.Expression), "()"))
	}
	if c.Opclass != "" {
		v.qualName(p+".opclass", c.Opclass)
	} else if c.OpclassParameters != nil {
		v.add(p+".opclass_parameters", "needs opclass")
	}
	v.params(p+".opclass_parameters", c.OpclassParameters)
	if c.Collate != "" {
		v.qualName(p+".collate", c.Collate)
	}
	if c.Sort != "" && c.Sort != "asc" && c.Sort != "desc" {
		v.add(p+".sort", "invalid value %q: use asc or desc", c.Sort)
	}
	if c.Nulls != "" && c.Nulls != "first" && c.Nulls != "last" {
		v.add(p+".nulls", "invalid value %q: use first or last", c.Nulls)
	}
}

// qualName checks an operator class or collation name: an identifier, or
// schema.name.
func (v *validator) qualName(key, s string) {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		v.add(key, "%q is not a name or schema.name", s)
		return
	}
	for _, part := range parts {
		if part == "" || strings.IndexByte(part, 0) >= 0 || len(part) > MaxIdentifierLen {
			v.add(key, "%q is not a name or schema.name", s)
			return
		}
	}
}

// params checks storage (or operator class) parameters: their names are
// identifiers, written once.
func (v *validator) params(p string, ps []Param) {
	seen := map[string]bool{}
	for _, x := range ps {
		k := joinKey(p, x.Name)
		if !plainIdent(x.Name) {
			v.add(k, "invalid parameter name %q: use a lowercase name such as fillfactor", x.Name)
		}
		if seen[x.Name] {
			v.add(k, "duplicate parameter")
		}
		seen[x.Name] = true
	}
}

// plainIdent reports whether s is a lowercase SQL identifier
// ([a-z_][a-z0-9_]*), as PostgreSQL's parameter names are.
func plainIdent(s string) bool {
	if s == "" || len(s) > MaxIdentifierLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// deferrable checks deferrable / initially_deferred.
func (v *validator) deferrable(p string, deferrable, deferred bool) {
	if deferred && !deferrable {
		v.add(p+".initially_deferred", "needs deferrable = true")
	}
}

// unique checks a unique constraint.
func (v *validator) unique(p string, u *Unique, cols map[string]*Column, nameRequired bool) {
	if u.Name != "" || nameRequired {
		v.ident(p+".name", u.Name)
	}
	v.columnList(p+".columns", u.Columns, cols, "")
	v.includeList(p+".include", u.Include, cols)
	v.params(p+".storage_parameters", u.StorageParameters)
	v.deferrable(p, u.Deferrable, u.InitiallyDeferred)
}

// includeList checks INCLUDE columns.
func (v *validator) includeList(p string, names []string, cols map[string]*Column) {
	for j, c := range names {
		k := joinIndex(p, j)
		v.ident(k, c)
		if cols != nil && c != "" && cols[c] == nil {
			v.add(k, "no column %q in columns", c)
		}
	}
}

// exclude checks an exclusion constraint of create_table.
func (v *validator) exclude(p string, x *Exclude, cols map[string]*Column) {
	if x.Name != "" {
		v.ident(p+".name", x.Name)
	}
	if x.Method != "" && !slices.Contains(indexMethods, x.Method) {
		v.add(p+".type", "invalid index type %q: use one of %s", x.Method, strings.Join(indexMethods, ", "))
	}
	if x.Method == "gin" {
		v.add(p+".type", "gin indexes cannot back an exclusion constraint (PostgreSQL needs an index that returns rows one by one)")
	}
	if x.Elements != nil && len(x.Elements) == 0 {
		v.add(p+".elements", "must not be empty")
	}
	for j := range x.Elements {
		e := &x.Elements[j]
		k := joinIndex(p+".elements", j)
		if e.Raw != "" || (e.Column == "" && e.Expression == "" && e.Operator == "") {
			v.nonEmpty(k, e.Raw)
			continue
		}
		v.indexColumn(k, &e.IndexColumn, cols)
		if e.Operator != "" && !validOperator(e.Operator) {
			v.add(k+".operator", "invalid operator %q: write the operator (=, &&, ...) or OPERATOR(schema.op)", e.Operator)
		}
	}
	v.includeList(p+".include", x.Include, cols)
	v.params(p+".storage_parameters", x.StorageParameters)
	v.deferrable(p, x.Deferrable, x.InitiallyDeferred)
}

// validOperator reports whether s is an operator (its characters are
// those of PostgreSQL's operators) or OPERATOR(schema.op).
func validOperator(s string) bool {
	if inner, ok := strings.CutPrefix(strings.ToUpper(s), "OPERATOR("); ok && strings.HasSuffix(inner, ")") {
		schema, op, found := strings.Cut(strings.TrimSuffix(s[len("OPERATOR("):], ")"), ".")
		return found && plainIdent(schema) && validOperator(op)
	}
	return s != "" && strings.Trim(s, "+-*/<>=~!@#%^&|`?") == ""
}

// excludeSQL checks the SQL of an exclusion constraint: the whole
// constraint, as strata writes it, must parse.
func (v *validator) excludeSQL(p string, x *Exclude) {
	for j, e := range x.Elements {
		k := joinIndex(p+".elements", j)
		switch {
		case e.Raw != "":
			v.constraintSQL(k, "EXCLUDE ("+e.Raw+"\n)")
		case e.Expression != "":
			v.expr(k+".expression", e.Expression)
		}
	}
	v.expr(p+".where", x.Where)
}

// constraintSQL checks that def parses as a table constraint.
func (v *validator) constraintSQL(key, def string) {
	if err := parseConstraint(def); err != nil {
		v.add(key, "invalid SQL %s: %s", quoteFragment(def), sqlMessage(err))
	}
}

// parseConstraint parses def as a table constraint.
func parseConstraint(def string) error {
	_, err := pgquery.ParseOne("ALTER TABLE t ADD " + def)
	return err
}

// primaryKey checks add_primary_key.primary_key.
func (v *validator) primaryKey(p string, pk *PrimaryKey) {
	v.ident(p+".name", pk.Name)
	v.columnList(p+".columns", pk.Columns, nil, "")
	v.includeList(p+".include", pk.Include, nil)
	v.params(p+".storage_parameters", pk.StorageParameters)
}

// replicaIdentities are the values of set_replica_identity.identity.
var replicaIdentities = []string{"default", "full", "nothing", "index"}

func (v *validator) setReplicaIdentity(p string, a *SetReplicaIdentity) {
	v.ident(p+".table", a.Table)
	if !slices.Contains(replicaIdentities, a.Identity) {
		if a.Identity != "" {
			v.add(p+".identity", "invalid value %q: use one of %s", a.Identity, strings.Join(replicaIdentities, ", "))
		}
		return
	}
	switch {
	case a.Identity == "index":
		v.ident(p+".index", a.Index)
	case a.Index != "":
		v.add(p+".index", "only with identity = \"index\"")
	}
}
