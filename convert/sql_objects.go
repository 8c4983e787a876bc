package convert

// Indexes, DROP, enums and comments.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

func (c *sqlConv) createIndex(ix *pgquery.IndexStmt, r *stmtResult) error {
	table, ok := managed(ix.Relation)
	if !ok {
		return notManagedErr(pgquery.RelName(ix.Relation))
	}
	switch {
	case !ix.Relation.Inh:
		return unmapped("add_index has no form for ON ONLY")
	case ix.TableSpace != "":
		return unmapped("add_index has no form for TABLESPACE")
	}
	params, err := storageParams(ix.Options)
	if err != nil {
		return err
	}
	var cols []any
	var colNames []string
	for _, p := range ix.IndexParams {
		el := p.GetIndexElem()
		col, err := indexColumn(el)
		if err != nil {
			return err
		}
		cols = append(cols, col)
		if el.Expr != nil {
			colNames = append(colNames, exprColName(el.Expr))
		} else {
			colNames = append(colNames, el.Name)
		}
	}
	name := ix.Idxname
	if name == "" {
		name = pgName(table, colNames, "idx", "")
		if ix.Unique {
			name = pgName(table, colNames, "key", "")
		}
		for i := 1; c.names[name]; i++ {
			name = pgName(table, colNames, fmt.Sprintf("idx%d", i), "")
		}
		r.warn("the index has no name: strata needs one; named %s (as PostgreSQL would name it)", name)
	}
	if ix.IfNotExists {
		r.warn("IF NOT EXISTS dropped: start refuses an index name that is taken")
	}
	idx := NewTable().Set("name", name).Set("columns", cols)
	if ix.Unique {
		idx.Set("unique", true)
	}
	if ix.NullsNotDistinct {
		idx.Set("nulls_not_distinct", true)
	}
	if m := strings.ToLower(ix.AccessMethod); m != "" && m != "btree" {
		idx.Set("type", m)
	}
	if ix.WhereClause != nil {
		e, err := pgquery.DeparseExpr(ix.WhereClause)
		if err != nil {
			return err
		}
		idx.Set("where", e)
	}
	var inc []string
	for _, p := range ix.IndexIncludingParams {
		if el := p.GetIndexElem(); el != nil && el.Name != "" {
			inc = append(inc, el.Name)
		}
	}
	if len(inc) > 0 {
		idx.Set("include", inc)
	}
	if params != nil {
		idx.Set("storage_parameters", params)
	}
	r.add(NewTable().Set("type", "add_index").Set("table", table).Set("index", idx))
	r.then(func() { c.names[name] = true })
	return nil
}

// indexColumn converts an index element: a plain string (a column name or
// a parenthesised expression), or a table when it has options.
func indexColumn(el *pgquery.IndexElem) (any, error) {
	var plain string
	col := NewTable()
	if el.Expr != nil {
		e, err := pgquery.DeparseExpr(el.Expr)
		if err != nil {
			return nil, err
		}
		plain = "(" + e + ")"
		col.Set("expression", e)
	} else {
		plain = el.Name
		col.Set("column", el.Name)
	}
	if len(el.Opclass) > 0 {
		col.Set("opclass", strings.Join(pgquery.Strs(el.Opclass), "."))
	}
	if len(el.Opclassopts) > 0 {
		params, err := storageParams(el.Opclassopts)
		if err != nil {
			return nil, err
		}
		col.Set("opclass_parameters", params)
	}
	if len(el.Collation) > 0 {
		col.Set("collate", strings.Join(pgquery.Strs(el.Collation), "."))
	}
	switch el.Ordering {
	case pgquery.SortByDir_SORTBY_ASC:
		col.Set("sort", "asc")
	case pgquery.SortByDir_SORTBY_DESC:
		col.Set("sort", "desc")
	case pgquery.SortByDir_SORTBY_USING:
		return nil, unmapped("no form for ORDER BY USING in an index")
	}
	switch el.NullsOrdering {
	case pgquery.SortByNulls_SORTBY_NULLS_FIRST:
		col.Set("nulls", "first")
	case pgquery.SortByNulls_SORTBY_NULLS_LAST:
		col.Set("nulls", "last")
	}
	if col.Len() == 1 {
		return plain, nil
	}
	return col, nil
}

// storageParams converts WITH (name = value, ...) into a storage_parameters
// table (nil when there are none): numbers and true/false as they are,
// anything else as a string.
func storageParams(opts []*pgquery.Node) (*Table, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	t := NewTable()
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defnamespace != "" {
			return nil, unmapped("no form for storage parameters of another namespace (toast.)")
		}
		var v any
		switch {
		case d.Arg == nil:
			v = true
		case d.Arg.GetInteger() != nil:
			v = int(d.Arg.GetInteger().Ival)
		case d.Arg.GetFloat() != nil:
			f, err := strconv.ParseFloat(d.Arg.GetFloat().Fval, 64)
			if err != nil {
				return nil, unmapped("storage parameter %s: %v", d.Defname, err)
			}
			v = f
		case d.Arg.GetBoolean() != nil:
			v = d.Arg.GetBoolean().Boolval
		case d.Arg.GetString_() != nil:
			v = d.Arg.GetString_().Sval
		case d.Arg.GetTypeName() != nil:
			v = strings.Join(pgquery.Strs(d.Arg.GetTypeName().Names), ".")
		default:
			return nil, unmapped("storage parameter %s: no form for its value", d.Defname)
		}
		if sv, ok := v.(string); ok && (strings.EqualFold(sv, "true") || strings.EqualFold(sv, "false")) {
			v = strings.EqualFold(sv, "true")
		}
		t.Set(d.Defname, v)
	}
	return t, nil
}

// exprColName is the name PostgreSQL gives an index expression's column in
// generated index names: a function's name, else "expr".
func exprColName(e *pgquery.Node) string {
	if fc := e.GetFuncCall(); fc != nil {
		return pgquery.FuncName(fc)
	}
	return "expr"
}

func (c *sqlConv) drop(ds *pgquery.DropStmt, r *stmtResult) error {
	if ds.Behavior == pgquery.DropBehavior_DROP_CASCADE {
		return unmapped("no form for CASCADE")
	}
	var names []string
	for _, o := range ds.Objects {
		var parts []*pgquery.Node
		if l := o.GetList(); l != nil {
			parts = l.Items
		} else if tn := o.GetTypeName(); tn != nil {
			parts = tn.Names
		} else {
			return unmapped("no strata action for %s", objectWord(ds.RemoveType))
		}
		name, ok := managedNames(parts)
		if !ok {
			return notManagedErr(pgquery.Qualified(parts))
		}
		names = append(names, name)
	}
	var kind string
	switch ds.RemoveType {
	case pgquery.ObjectType_OBJECT_TABLE:
		kind = "remove_table"
	case pgquery.ObjectType_OBJECT_INDEX:
		kind = "remove_index"
	case pgquery.ObjectType_OBJECT_TYPE:
		kind = "remove_enum"
	default:
		return unmapped("no strata action for DROP %s", strings.ToUpper(objectWord(ds.RemoveType)))
	}
	if ds.MissingOk {
		r.warn("IF EXISTS dropped: strata refuses to drop what does not exist")
	}
	for _, n := range names {
		switch kind {
		case "remove_table":
			r.add(NewTable().Set("type", kind).Set("table", n))
		case "remove_index":
			r.add(NewTable().Set("type", kind).Set("index", n))
		case "remove_enum":
			r.add(NewTable().Set("type", kind).Set("enum", n))
		}
	}
	return nil
}

func (c *sqlConv) createEnum(ce *pgquery.CreateEnumStmt, r *stmtResult) error {
	name, ok := managedNames(ce.TypeName)
	if !ok {
		return notManagedErr(pgquery.Qualified(ce.TypeName))
	}
	vals := pgquery.Strs(ce.Vals)
	r.add(NewTable().Set("type", "create_enum").Set("name", name).Set("values", vals))
	r.then(func() { c.enums[name] = true })
	return nil
}

func (c *sqlConv) alterEnum(ae *pgquery.AlterEnumStmt, r *stmtResult) error {
	name, ok := managedNames(ae.TypeName)
	if !ok {
		return notManagedErr(pgquery.Qualified(ae.TypeName))
	}
	t := NewTable().Set("type", "alter_enum").Set("name", name)
	if ae.OldVal != "" {
		t.Set("rename", []*Table{NewTable().Set("from", ae.OldVal).Set("to", ae.NewVal)})
	} else {
		add := NewTable().Set("value", ae.NewVal)
		if ae.NewValNeighbor != "" {
			if ae.NewValIsAfter {
				add.Set("after", ae.NewValNeighbor)
			} else {
				add.Set("before", ae.NewValNeighbor)
			}
		}
		t.Set("add", []*Table{add})
	}
	r.add(t).enum = name
	return nil
}

func (c *sqlConv) comment(cs *pgquery.CommentStmt, r *stmtResult) error {
	if cs.Objtype == pgquery.ObjectType_OBJECT_TABLE {
		// create_table has a comment; an existing table's comment has no
		// strata form.
		name, ok := managedNames(pgquery.ListItems(cs.Object))
		if t := c.tables[name]; ok && cs.Comment != "" && t != nil && t.act != nil {
			setBefore(t.act, "comment", cs.Comment, "columns")
			return nil
		}
		return unmapped("no strata action for COMMENT ON TABLE of a table the file does not create")
	}
	if cs.Objtype != pgquery.ObjectType_OBJECT_COLUMN {
		return unmapped("no strata action for COMMENT ON %s", strings.ToUpper(objectWord(cs.Objtype)))
	}
	parts := pgquery.Strs(pgquery.ListItems(cs.Object))
	if len(parts) < 2 {
		return unmapped("COMMENT ON COLUMN needs table.column")
	}
	col := parts[len(parts)-1]
	table, ok := managedNames(cs.Object.GetList().Items[:len(parts)-1])
	if !ok {
		return notManagedErr(strings.Join(parts[:len(parts)-1], "."))
	}
	if cs.Comment == "" {
		return unmapped("no form for removing a comment (IS NULL)")
	}
	// A column of a table this file creates: the comment goes into its
	// definition.
	if t := c.tables[table]; t != nil && t.act != nil && t.columns[col] != nil && t.columns[col].col != nil {
		t.columns[col].col.Set("comment", cs.Comment)
		return nil
	}
	a := c.alterColumn(table, col, r)
	a.changes.Set("comment", cs.Comment)
	return nil
}
