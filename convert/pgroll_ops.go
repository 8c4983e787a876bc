package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// operation converts one element of `operations`: an object with exactly
// one key, the operation's name.
func (c *pgConv) operation(n *pnode, p string) {
	if n.kind != pmap || len(n.keys) != 1 {
		c.fail(n.line, p, "expected an object with one key, the operation (create_table, add_column, ...)")
		return
	}
	name := n.keys[0]
	o := c.obj(n.vals[0], p+"."+name)
	if o == nil {
		return
	}
	switch name {
	case "create_table":
		c.createTable(o)
	case "add_column":
		c.addColumn(o)
	case "alter_column":
		c.alterColumn(o)
	case "rename_column":
		c.renameColumn(o)
	case "drop_column":
		c.dropColumn(o)
	case "create_index":
		c.createIndex(o)
	case "drop_index":
		c.dropIndex(o)
	case "drop_table":
		c.dropTable(o)
	case "rename_table":
		c.renameTable(o)
	case "sql", "raw_sql":
		c.rawSQL(o)
	case "set_replica_identity":
		c.setReplicaIdentity(o)
	case "create_constraint":
		c.createConstraint(o)
	case "drop_constraint", "drop_multicolumn_constraint":
		c.dropConstraint(o)
	case "rename_constraint":
		c.renameConstraint(o)
	default:
		c.fail(n.line, p+"."+name, "unknown pgroll operation (known: create_table, add_column, alter_column, rename_column, drop_column, create_index, drop_index, drop_table, rename_table, sql, set_replica_identity, create_constraint, drop_constraint, drop_multicolumn_constraint, rename_constraint)")
		return
	}
	o.done()
}

// colExtras are the parts of a pgroll column that are constraints in
// strata's format.
type colExtras struct {
	pk, unique bool
	check      *Table
	fk         *Table
}

// column converts a pgroll column definition. pgroll columns are NOT NULL
// unless nullable is true.
func (c *pgConv) column(o *pobj, tableName string) (*Table, colExtras) {
	var ex colExtras
	col := NewTable()
	name, _ := o.str("name", true)
	typ, _ := o.str("type", true)
	col.Set("name", name).Set("type", typ)
	ex.pk, _ = o.boolean("pk")
	nullable, _ := o.boolean("nullable")
	serial := serialType(typ) != typ
	if !nullable && !ex.pk && !serial {
		col.Set("nullable", false)
	}
	if nullable && (ex.pk || serial) {
		o.c.warn(o.line("nullable"), o.key("nullable"), "check: a primary-key or serial column is NOT NULL in PostgreSQL whatever nullable says")
	}
	if d, ok := o.str("default", false); ok {
		col.Set("default", d)
	}
	if g := o.sub("generated", false); g != nil {
		expr, hasExpr := g.str("expression", false)
		id := g.sub("identity", false)
		switch {
		case hasExpr && expr != "" && id != nil:
			c.fail(g.n.line, g.path, "both expression and identity")
		case hasExpr && expr != "":
			col.Set("generated", "ALWAYS AS ("+expr+") STORED")
		case id != nil:
			usv, ok := id.str("user_specified_values", false)
			if !ok || usv == "" {
				usv = "ALWAYS"
			}
			usv = strings.ToUpper(strings.TrimSpace(usv))
			if usv != "ALWAYS" && usv != "BY DEFAULT" {
				c.fail(id.line("user_specified_values"), id.key("user_specified_values"), fmt.Sprintf("%q: want ALWAYS or BY DEFAULT", usv))
			}
			gen := usv + " AS IDENTITY"
			if so, ok := id.str("sequence_options", false); ok && strings.TrimSpace(so) != "" {
				so = strings.TrimSpace(so)
				if !strings.HasPrefix(so, "(") {
					so = "(" + so + ")"
				}
				gen += " " + so
			}
			col.Set("generated", gen)
			id.done()
		}
		g.done()
	}
	if cm, ok := o.str("comment", false); ok {
		col.Set("comment", cm)
	}
	ex.unique, _ = o.boolean("unique")
	if ch := o.sub("check", false); ch != nil {
		ex.check = c.checkDef(ch)
	}
	if r := o.sub("references", false); r != nil {
		ex.fk = c.columnFK(r, name)
	}
	o.done()
	return col, ex
}

// checkDef converts pgroll's {name, constraint, no_inherit}.
func (c *pgConv) checkDef(o *pobj) *Table {
	t := NewTable()
	name, _ := o.str("name", true)
	expr, _ := o.str("constraint", true)
	t.Set("name", name).Set("expression", expr)
	if ni, ok := o.boolean("no_inherit"); ok && ni {
		t.Set("no_inherit", true)
	}
	o.done()
	return t
}

// columnFK converts a column's references {name, table, column, ...}.
func (c *pgConv) columnFK(o *pobj, column string) *Table {
	t := NewTable()
	name, _ := o.str("name", true)
	table, _ := o.str("table", true)
	col, _ := o.str("column", true)
	t.Set("name", name).Set("columns", []string{column}).Set("referenced_table", table).Set("referenced_columns", []string{col})
	c.fkOptions(o, t)
	o.done()
	return t
}

// fkOptions reads the options shared by column and table foreign keys.
func (c *pgConv) fkOptions(o *pobj, t *Table) {
	for _, k := range []string{"on_delete", "on_update"} {
		if v, ok := o.str(k, false); ok && !strings.EqualFold(strings.TrimSpace(v), "NO ACTION") {
			t.Set(k, strings.ToUpper(strings.TrimSpace(v)))
		}
	}
	if m, ok := o.str("match_type", false); ok {
		switch strings.ToUpper(strings.TrimSpace(m)) {
		case "SIMPLE", "":
		case "FULL":
			t.Set("match", "full")
		default:
			c.warn(o.line("match_type"), o.key("match_type"), fmt.Sprintf("dropped: MATCH %s (PostgreSQL does not implement it; pgroll would fail): the foreign key is MATCH SIMPLE", m))
		}
	}
	if cols := o.strs("on_delete_set_columns", false); len(cols) > 0 {
		c.warn(o.line("on_delete_set_columns"), o.key("on_delete_set_columns"), "dropped: strata has no form for ON DELETE SET NULL/DEFAULT (columns): the action sets every column of the key; add the constraint with a custom action if only some must be set")
	}
	c.deferrable(o, t)
}

func (c *pgConv) deferrable(o *pobj, t *Table) {
	if d, ok := o.boolean("deferrable"); ok && d {
		t.Set("deferrable", true)
	}
	if d, ok := o.boolean("initially_deferred"); ok && d {
		t.Set("initially_deferred", true)
	}
}

func (c *pgConv) createTable(o *pobj) {
	name, _ := o.str("name", true)
	act := NewTable().Set("type", "create_table").Set("name", name)
	if cm, ok := o.str("comment", false); ok {
		act.Set("comment", cm)
	}
	st := c.schema.addTable(name)
	var cols []*Table
	var pk []string
	var uniques, checks, fks, excludes []*Table
	for i, cn := range o.list("columns", true) {
		co := c.obj(cn, fmt.Sprintf("%s[%d]", o.key("columns"), i))
		if co == nil {
			continue
		}
		col, ex := c.column(co, name)
		cols = append(cols, col)
		cname, _ := col.Get("name")
		ctype, _ := col.Get("type")
		st.addCol(cname.(string), serialType(ctype.(string)))
		if ex.pk {
			pk = append(pk, cname.(string))
		}
		if ex.unique {
			uniques = append(uniques, NewTable().Set("columns", []string{cname.(string)}))
		}
		if ex.check != nil {
			checks = append(checks, ex.check)
			n, _ := ex.check.Get("name")
			st.addCon(n.(string), "check")
		}
		if ex.fk != nil {
			fks = append(fks, ex.fk)
			n, _ := ex.fk.Get("name")
			st.addCon(n.(string), "foreign_key")
		}
	}
	var pkName string
	for i, cn := range o.list("constraints", false) {
		co := c.obj(cn, fmt.Sprintf("%s[%d]", o.key("constraints"), i))
		if co == nil {
			continue
		}
		cname, _ := co.str("name", true)
		typ, _ := co.str("type", true)
		switch typ {
		case "primary_key":
			cols := co.strs("columns", true)
			if len(pk) > 0 {
				c.fail(co.line("type"), co.key("type"), "a primary key constraint and columns with pk: true")
			}
			pk, pkName = cols, cname
			c.noIndexOptions(co, "primary key")
			if d, ok := co.boolean("deferrable"); ok && d {
				c.warn(co.line("deferrable"), co.key("deferrable"), "dropped: strata has no form for a deferrable primary key: the key is checked immediately")
			}
			co.dropIfTrue("initially_deferred", "strata has no form for a deferrable primary key: the key is checked immediately")
			st.addCon(cname, "primary_key")
		case "unique":
			u := NewTable().Set("name", cname).Set("columns", co.strs("columns", true))
			c.indexParameters(co, u)
			if v, ok := co.boolean("nulls_not_distinct"); ok && v {
				u.Set("nulls_not_distinct", true)
			}
			c.deferrable(co, u)
			uniques = append(uniques, u)
			st.addCon(cname, "unique")
		case "check":
			expr, _ := co.str("check", true)
			ch := NewTable().Set("name", cname).Set("expression", expr)
			if v, ok := co.boolean("no_inherit"); ok && v {
				ch.Set("no_inherit", true)
			}
			checks = append(checks, ch)
			st.addCon(cname, "check")
		case "foreign_key":
			fk := NewTable().Set("name", cname).Set("columns", co.strs("columns", true))
			if r := co.sub("references", true); r != nil {
				rt, _ := r.str("table", true)
				fk.Set("referenced_table", rt).Set("referenced_columns", r.strs("columns", true))
				c.fkOptions(r, fk)
				r.done()
			}
			c.deferrable(co, fk)
			fks = append(fks, fk)
			st.addCon(cname, "foreign_key")
		case "exclude":
			ex := NewTable()
			if cname != "" {
				ex.Set("name", cname)
			}
			if e := co.sub("exclude", true); e != nil {
				if m, ok := e.str("index_method", false); ok && m != "" {
					ex.Set("type", m)
				}
				els, _ := e.str("elements", true)
				ex.Set("elements", splitTopLevel(els))
				if w, ok := e.str("predicate", false); ok && w != "" {
					ex.Set("where", w)
				}
				e.done()
			}
			c.indexParameters(co, ex)
			c.deferrable(co, ex)
			excludes = append(excludes, ex)
			st.addCon(cname, "exclude")
		default:
			c.fail(co.line("type"), co.key("type"), fmt.Sprintf("unknown constraint type %q (want primary_key, unique, check, foreign_key or exclude)", typ))
		}
		if typ != "unique" {
			co.dropIfTrue("nulls_not_distinct", "nulls_not_distinct applies to unique constraints only")
		}
		if typ != "check" {
			co.dropIfTrue("no_inherit", "no_inherit applies to check constraints only")
		}
		co.raw("columns")
		co.raw("check")
		co.done()
	}
	if len(cols) > 0 {
		act.Set("columns", cols)
	}
	// strata needs a primary key; pgroll adds one later in the same file
	// with create_constraint (example 55): that is folded in below.
	if len(pk) > 0 {
		act.Set("primary_key", pk)
		st.pk = true
		if pkName != "" {
			act.Set("primary_key_name", pkName)
		}
	}
	act.SetTables("foreign_keys", fks)
	act.SetTables("checks", checks)
	act.SetTables("unique", uniques)
	act.SetTables("exclude", excludes)
	c.created[name] = act
	c.emit(act)
}

// indexParameters reads pgroll's index_parameters {tablespace,
// storage_parameters, include_columns} into t.
func (c *pgConv) indexParameters(o *pobj, t *Table) {
	ip := o.sub("index_parameters", false)
	if ip == nil {
		return
	}
	if inc := ip.strs("include_columns", false); len(inc) > 0 {
		t.Set("include", inc)
	}
	if sp, ok := ip.str("storage_parameters", false); ok && strings.TrimSpace(sp) != "" {
		if p := c.storageParams(sp, ip.line("storage_parameters"), ip.key("storage_parameters")); p != nil {
			t.Set("storage_parameters", p)
		}
	}
	if ts, ok := ip.str("tablespace", false); ok && ts != "" {
		c.warn(ip.line("tablespace"), ip.key("tablespace"), "dropped: tablespace: not supported by strata, the index is created in the default tablespace")
	}
	ip.done()
}

// noIndexOptions warns about index_parameters where strata has no form
// for them (a primary key).
func (c *pgConv) noIndexOptions(o *pobj, what string) {
	ip := o.sub("index_parameters", false)
	if ip == nil {
		return
	}
	for _, k := range []string{"tablespace", "storage_parameters", "include_columns"} {
		v := ip.raw(k)
		if v == nil || v.kind == pnull || (v.kind == pstring && v.str == "") || (v.kind == pseq && len(v.vals) == 0) {
			continue
		}
		c.warn(v.line, ip.key(k), "dropped: strata has no form for index parameters of a "+what+" in create_table: the key's index gets PostgreSQL's defaults")
	}
	ip.done()
}

// storageParams splits pgroll's "fillfactor = 70, deduplicate_items = off"
// into a table; numbers and booleans stay typed, the rest are strings.
func (c *pgConv) storageParams(s string, line int, key string) *Table {
	t := NewTable()
	for _, part := range splitTopLevel(s) {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !pgIdentRe.MatchString(k) || v == "" {
			c.warn(line, key, fmt.Sprintf("dropped: %q is not name = value: the storage parameters were not converted; add them with a custom action", s))
			return nil
		}
		k = strings.ToLower(k)
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			t.Set(k, i)
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			t.Set(k, f)
		} else if b, ok := map[string]bool{"true": true, "false": false, "on": true, "off": false}[strings.ToLower(v)]; ok && (strings.EqualFold(v, "true") || strings.EqualFold(v, "false")) {
			t.Set(k, b)
		} else {
			t.Set(k, strings.Trim(v, "'"))
		}
	}
	return t
}

// splitTopLevel splits s on commas outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '(' || ch == '[':
			depth++
		case ch == ')' || ch == ']':
			depth--
		case ch == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" || len(out) > 0 {
		out = append(out, last)
	}
	return out
}

func (c *pgConv) addColumn(o *pobj) {
	table, _ := o.str("table", true)
	act := NewTable().Set("type", "add_column").Set("table", table)
	co := o.sub("column", true)
	if co == nil {
		return
	}
	col, ex := c.column(co, table)
	cname, _ := col.Get("name")
	name := cname.(string)
	ctype, _ := col.Get("type")
	act.Set("column", col)
	if up, ok := o.str("up", false); ok && strings.TrimSpace(up) != "" {
		act.Set("up", wrapSelect(up))
	}
	c.emit(act)
	st := c.schema.table(table)
	st.addCol(name, serialType(ctype.(string)))
	if ex.pk {
		c.emit(NewTable().Set("type", "add_primary_key").Set("table", table).
			Set("primary_key", NewTable().Set("name", table+"_pkey").Set("columns", []string{name})))
		c.warn(co.line("pk"), co.key("pk"), fmt.Sprintf("check: converted to add_primary_key %q (PostgreSQL's default name); start fails if the table has a primary key already", table+"_pkey"))
		st.addCon(table+"_pkey", "primary_key")
	}
	if ex.unique {
		un := table + "_" + name + "_key"
		c.emit(NewTable().Set("type", "add_unique").Set("table", table).
			Set("unique", NewTable().Set("name", un).Set("columns", []string{name})))
		st.addCon(un, "unique")
	}
	if ex.check != nil {
		c.emit(NewTable().Set("type", "add_check").Set("table", table).Set("check", ex.check))
		n, _ := ex.check.Get("name")
		st.addCon(n.(string), "check")
	}
	if ex.fk != nil {
		c.emit(NewTable().Set("type", "add_foreign_key").Set("table", table).Set("foreign_key", ex.fk))
		n, _ := ex.fk.Get("name")
		st.addCon(n.(string), "foreign_key")
	}
}

func (c *pgConv) alterColumn(o *pobj) {
	table, _ := o.str("table", true)
	column, _ := o.str("column", true)
	st := c.schema.table(table)
	changes := NewTable()
	newName := column
	if n, ok := o.str("name", false); ok && n != column {
		changes.Set("name", n)
		newName = n
	}
	typ, hasType := o.str("type", false)
	if hasType {
		changes.Set("type", typ)
	}
	nullable, hasNull := o.boolean("nullable")
	if hasNull {
		changes.Set("nullable", nullable)
	}
	if d, set, null := o.nullable("default"); set {
		if null {
			changes.Set("default", "NULL")
		} else {
			changes.Set("default", d)
		}
	}
	if cm, set, null := o.nullable("comment"); set {
		if null {
			changes.Set("comment", "")
		} else {
			changes.Set("comment", cm)
		}
	}
	up, _ := o.str("up", false)
	down, _ := o.str("down", false)
	c.checkColumnRefs(st, table, newName, column, down, o.line("down"), o.key("down"))
	var follow []*Table
	if u := o.sub("unique", false); u != nil {
		un, _ := u.str("name", true)
		u.done()
		follow = append(follow, NewTable().Set("type", "add_unique").Set("table", table).
			Set("unique", NewTable().Set("name", un).Set("columns", []string{newName})))
		st.addCon(un, "unique")
	}
	if ch := o.sub("check", false); ch != nil {
		t := c.checkDef(ch)
		follow = append(follow, NewTable().Set("type", "add_check").Set("table", table).Set("check", t))
		n, _ := t.Get("name")
		st.addCon(n.(string), "check")
	}
	if r := o.sub("references", false); r != nil {
		fk := c.columnFK(r, newName)
		follow = append(follow, NewTable().Set("type", "add_foreign_key").Set("table", table).Set("foreign_key", fk))
		n, _ := fk.Get("name")
		st.addCon(n.(string), "foreign_key")
	}
	needsValues := hasType || hasNull
	trivial := identity(up, column) && identity(down, newName)
	if !needsValues && !trivial {
		// pgroll rewrites the column through up/down even when its type
		// stays: strata does it with a replacement of the same type.
		if sc := st.col(column); sc != nil && sc.typ != "" {
			changes.Set("type", sc.typ)
			hasType = true
			c.warn(o.line("up"), o.key("up"), fmt.Sprintf("check: up/down rewrite the column, so it is replaced by a column of the same type (%s) that strata fills with up", sc.typ))
		} else {
			c.warn(o.line("up"), o.key("up"), fmt.Sprintf("dropped: up/down rewrite column %q, but its type is unknown to the converter (made by raw SQL or an earlier file not converted with this one): add changes.type with the column's type, up and down by hand", column))
		}
	}
	act := NewTable().Set("type", "alter_column").Set("table", table).Set("column", column)
	if changes.Len() > 0 {
		switch {
		case hasType:
			act.Set("up", wrapSelect(orCol(up, column))).Set("down", wrapSelect(orCol(down, newName)))
		case hasNull && !nullable:
			act.Set("up", wrapSelect(orCol(up, column)))
			if !identity(down, newName) {
				act.Set("down", wrapSelect(down))
			}
		case hasNull && nullable:
			if !identity(up, column) {
				act.Set("up", wrapSelect(up))
			}
			act.Set("down", wrapSelect(orCol(down, newName)))
		}
		act.Set("changes", changes)
		c.emit(act)
	}
	for _, f := range follow {
		c.emit(f)
	}
	if sc := st.col(column); sc != nil {
		sc.name = newName
		if hasType {
			sc.typ = serialType(typ)
			if t, _ := changes.Get("type"); t != nil {
				sc.typ = t.(string)
			}
		}
	}
}

func orCol(e, col string) string {
	if strings.TrimSpace(e) == "" {
		return quoteIfNeeded(col)
	}
	return e
}

func quoteIfNeeded(col string) string {
	if pgIdentRe.MatchString(col) && strings.ToLower(col) == col {
		return col
	}
	return `"` + strings.ReplaceAll(col, `"`, `""`) + `"`
}

// checkColumnRefs warns when a down expression that is a bare column name
// names a column the table does not have in the new version: strata
// checks expressions when it plans start, where pgroll only fails when a
// new-version write runs it.
func (c *pgConv) checkColumnRefs(st *pgTable, table, newName, oldName, expr string, line int, key string) {
	e := strings.TrimSpace(expr)
	if st == nil || e == "" || !pgIdentRe.MatchString(e) || strings.ToLower(e) != e {
		return
	}
	switch strings.ToLower(e) {
	case "null", "true", "false", "default", "current_date", "current_timestamp", "current_user", "current_time", "localtime", "localtimestamp", "session_user", "user":
		return
	}
	if e == newName || (e != oldName && st.col(e) != nil) {
		return
	}
	if e == oldName && newName == oldName {
		return
	}
	c.warn(line, key, fmt.Sprintf("check: names column %q, which table %q does not have in the new version: strata checks the expression when it plans start and refuses it there (pgroll only fails when a new-version write runs it); fix the expression", e, table))
}

func (c *pgConv) renameColumn(o *pobj) {
	table, _ := o.str("table", true)
	from, _ := o.str("from", true)
	to, _ := o.str("to", true)
	c.emit(NewTable().Set("type", "alter_column").Set("table", table).Set("column", from).
		Set("changes", NewTable().Set("name", to)))
	if sc := c.schema.table(table).col(from); sc != nil {
		sc.name = to
	}
}

func (c *pgConv) dropColumn(o *pobj) {
	table, _ := o.str("table", true)
	column, _ := o.str("column", true)
	act := NewTable().Set("type", "remove_column").Set("table", table).Set("column", column)
	if d, ok := o.str("down", false); ok && strings.TrimSpace(d) != "" {
		act.Set("down", wrapSelect(d))
	}
	c.emit(act)
	c.schema.table(table).dropCol(column)
}

func (c *pgConv) createIndex(o *pobj) {
	name, _ := o.str("name", true)
	table, _ := o.str("table", true)
	idx := NewTable().Set("name", name)
	if m, ok := o.str("method", false); ok && m != "" && !strings.EqualFold(m, "btree") {
		idx.Set("type", strings.ToLower(m))
	}
	cols := o.raw("columns")
	var items []any
	plain := true
	addItem := func(col string, settings *pobj) {
		if settings == nil {
			items = append(items, col)
			return
		}
		it := NewTable().Set("column", col)
		if v, ok := settings.str("collate", false); ok && v != "" {
			it.Set("collate", v)
		}
		if v, ok := settings.str("sort", false); ok && v != "" {
			it.Set("sort", strings.ToLower(v))
		}
		if v, ok := settings.str("nulls", false); ok && v != "" {
			it.Set("nulls", strings.ToLower(v))
		}
		if oc := settings.sub("opclass", false); oc != nil {
			if n, ok := oc.str("name", false); ok && n != "" {
				it.Set("opclass", n)
			}
			if ps := oc.strs("params", false); len(ps) > 0 {
				p := c.storageParams(strings.Join(ps, ", "), oc.line("params"), oc.key("params"))
				if p != nil {
					it.Set("opclass_parameters", p)
				}
			}
			oc.done()
		}
		settings.done()
		if it.Len() == 1 {
			items = append(items, col)
			return
		}
		plain = false
		items = append(items, it)
	}
	switch {
	case cols == nil || cols.kind == pnull:
		c.fail(o.n.line, o.key("columns"), "missing (required by pgroll)")
	case cols.kind == pseq:
		for i, v := range cols.vals {
			p := fmt.Sprintf("%s[%d]", o.key("columns"), i)
			switch v.kind {
			case pstring:
				addItem(v.str, nil)
			case pmap:
				so := c.obj(v, p)
				col, _ := so.str("column", true)
				addItem(col, so)
			default:
				c.fail(v.line, p, "expected a column name or {column, ...}, got "+v.kind.String())
			}
		}
	case cols.kind == pmap:
		// {column: {settings}}, in the order written
		for i, k := range cols.keys {
			v := cols.vals[i]
			if v.kind == pnull {
				addItem(k, nil)
				continue
			}
			addItem(k, c.obj(v, o.key("columns")+"."+k))
		}
	default:
		c.fail(cols.line, o.key("columns"), "expected a list, got "+cols.kind.String())
	}
	if plain {
		s := make([]string, 0, len(items))
		for _, it := range items {
			s = append(s, it.(string))
		}
		idx.Set("columns", s)
	} else {
		idx.Set("columns", items)
	}
	if u, ok := o.boolean("unique"); ok && u {
		idx.Set("unique", true)
	}
	if p, ok := o.str("predicate", false); ok && p != "" {
		idx.Set("where", p)
	}
	if sp, ok := o.str("storage_parameters", false); ok && strings.TrimSpace(sp) != "" {
		if p := c.storageParams(sp, o.line("storage_parameters"), o.key("storage_parameters")); p != nil {
			idx.Set("storage_parameters", p)
		}
	}
	c.emit(NewTable().Set("type", "add_index").Set("table", table).Set("index", idx))
}

func (c *pgConv) dropIndex(o *pobj) {
	name, _ := o.str("name", true)
	c.emit(NewTable().Set("type", "remove_index").Set("index", name))
}

func (c *pgConv) dropTable(o *pobj) {
	name, _ := o.str("name", true)
	c.emit(NewTable().Set("type", "remove_table").Set("table", name))
	delete(c.schema.tables, name)
}

func (c *pgConv) renameTable(o *pobj) {
	from, _ := o.str("from", true)
	to, _ := o.str("to", true)
	c.emit(NewTable().Set("type", "rename_table").Set("table", from).Set("new_name", to))
	if t := c.schema.tables[from]; t != nil {
		delete(c.schema.tables, from)
		c.schema.tables[to] = t
	}
}

// rawSQL maps pgroll's sql operation to a custom action: up runs at start
// (or at complete with onComplete), down at abort.
func (c *pgConv) rawSQL(o *pobj) {
	up, _ := o.str("up", true)
	down, hasDown := o.str("down", false)
	onComplete, _ := o.boolean("onComplete")
	act := NewTable().Set("type", "custom")
	if onComplete {
		act.Set("complete", up)
		if hasDown && strings.TrimSpace(down) != "" {
			c.warn(o.line("down"), o.key("down"), "dropped: down with onComplete (pgroll refuses the pair): SQL that runs at complete is never undone by abort")
		}
	} else {
		act.Set("start", up)
		if hasDown && strings.TrimSpace(down) != "" {
			act.Set("abort", down)
		}
	}
	c.emit(act)
}

func (c *pgConv) setReplicaIdentity(o *pobj) {
	table, _ := o.str("table", true)
	act := NewTable().Set("type", "set_replica_identity").Set("table", table)
	if id := o.sub("identity", true); id != nil {
		typ, _ := id.str("type", true)
		typ = strings.ToLower(strings.TrimSpace(typ))
		act.Set("identity", typ)
		idx, _ := id.str("index", false)
		if typ == "index" {
			act.Set("index", idx)
		} else if idx != "" {
			c.warn(id.line("index"), id.key("index"), fmt.Sprintf("check: index %q is ignored with identity %q (pgroll ignores it too)", idx, typ))
		}
		id.done()
	}
	c.emit(act)
}

func (c *pgConv) createConstraint(o *pobj) {
	table, _ := o.str("table", true)
	name, _ := o.str("name", true)
	typ, _ := o.str("type", true)
	cols := o.strs("columns", false)
	st := c.schema.table(table)
	// up/down: pgroll copies each column through them while the
	// constraint is added; strata needs that only when they change values.
	upK, upV, upL := o.strMap("up")
	downK, downV, _ := o.strMap("down")
	downOf := map[string]string{}
	for i, k := range downK {
		downOf[k] = downV[i]
	}
	var fixups []*Table
	for i, col := range upK {
		if identity(upV[i], col) && identity(downOf[col], col) {
			continue
		}
		sc := st.col(col)
		if sc == nil || sc.typ == "" {
			c.warn(upL[i], o.key("up")+"."+col, fmt.Sprintf("dropped: up/down rewrite column %q, but its type is unknown to the converter: add an alter_column with changes.type, up and down by hand", col))
			continue
		}
		fixups = append(fixups, NewTable().Set("type", "alter_column").Set("table", table).Set("column", col).
			Set("up", wrapSelect(upV[i])).Set("down", wrapSelect(orCol(downOf[col], col))).
			Set("changes", NewTable().Set("type", sc.typ)))
		c.warn(upL[i], o.key("up")+"."+col, fmt.Sprintf("check: up/down rewrite the column, so it is replaced by a column of the same type (%s) that strata fills with up", sc.typ))
	}
	for _, k := range downK {
		found := false
		for _, u := range upK {
			found = found || u == k
		}
		if !found && !identity(downOf[k], k) {
			c.warn(o.line("down"), o.key("down")+"."+k, "dropped: a down expression without an up for the same column: not converted")
		}
	}
	var act *Table
	switch typ {
	case "unique":
		u := NewTable().Set("name", name).Set("columns", cols)
		c.indexParameters(o, u)
		if v, ok := o.boolean("nulls_not_distinct"); ok && v {
			u.Set("nulls_not_distinct", true)
		}
		c.deferrable(o, u)
		act = NewTable().Set("type", "add_unique").Set("table", table).Set("unique", u)
	case "check":
		expr, _ := o.str("check", true)
		ch := NewTable().Set("name", name).Set("expression", expr)
		if v, ok := o.boolean("no_inherit"); ok && v {
			ch.Set("no_inherit", true)
		}
		act = NewTable().Set("type", "add_check").Set("table", table).Set("check", ch)
	case "foreign_key":
		fk := NewTable().Set("name", name).Set("columns", cols)
		if r := o.sub("references", true); r != nil {
			rt, _ := r.str("table", true)
			fk.Set("referenced_table", rt).Set("referenced_columns", r.strs("columns", true))
			c.fkOptions(r, fk)
			r.done()
		}
		c.deferrable(o, fk)
		act = NewTable().Set("type", "add_foreign_key").Set("table", table).Set("foreign_key", fk)
	case "primary_key":
		if ct := c.created[table]; ct != nil && !ct.has("primary_key") {
			// the table is created by this same file: the key goes into
			// create_table (strata needs one there, and refuses
			// add_primary_key on a table the phase creates).
			c.noIndexOptions(o, "primary key")
			for _, f := range fixups {
				c.emit(f)
			}
			ct.Set("primary_key", cols).Set("primary_key_name", name)
			reorderPK(ct)
			st.pk = true
			st.addCon(name, "primary_key")
			return
		}
		pk := NewTable().Set("name", name).Set("columns", cols)
		c.indexParameters(o, pk)
		act = NewTable().Set("type", "add_primary_key").Set("table", table).Set("primary_key", pk)
	default:
		c.fail(o.line("type"), o.key("type"), fmt.Sprintf("unknown constraint type %q (want unique, check, foreign_key or primary_key)", typ))
		return
	}
	for _, f := range fixups {
		c.emit(f)
	}
	c.emit(act)
	st.addCon(name, typ)
}

// reorderPK puts create_table's primary_key keys right after columns, where
// they are written when pgroll gives the key with the columns.
func reorderPK(t *Table) {
	var rest []string
	for _, k := range t.keys {
		if k != "primary_key" && k != "primary_key_name" {
			rest = append(rest, k)
		}
	}
	var keys []string
	for _, k := range rest {
		keys = append(keys, k)
		if k == "columns" {
			keys = append(keys, "primary_key", "primary_key_name")
		}
	}
	t.keys = keys
}

func (c *pgConv) dropConstraint(o *pobj) {
	table, _ := o.str("table", true)
	name, _ := o.str("name", true)
	st := c.schema.table(table)
	kind := ""
	if st != nil {
		kind = st.cons[name]
	}
	switch kind {
	case "check":
		c.emit(NewTable().Set("type", "remove_check").Set("table", table).Set("check", name))
	case "foreign_key":
		c.emit(NewTable().Set("type", "remove_foreign_key").Set("table", table).Set("foreign_key", name))
	default:
		c.emit(NewTable().Set("type", "remove_constraint").Set("table", table).Set("constraint", name))
	}
	if st != nil {
		delete(st.cons, name)
	}
	// up/down: strata keeps the constraint in force for both versions until
	// complete, so no value needs converting.
	for _, k := range []string{"up", "down"} {
		keys, vals, lines := o.strMap(k)
		for i, col := range keys {
			if col == "" && pgIdentRe.MatchString(strings.TrimSpace(vals[i])) && (st == nil || st.col(strings.TrimSpace(vals[i])) != nil) {
				continue // the column itself
			}
			if col == "" || !identity(vals[i], col) {
				key := o.key(k)
				if col != "" {
					key += "." + col
				}
				c.warn(lines[i], key, "not needed: strata keeps the constraint in force for both versions until complete, so the new version never writes a value the old version's constraint forbids and no value needs converting; ignored")
			}
		}
	}
}

func (c *pgConv) renameConstraint(o *pobj) {
	table, _ := o.str("table", true)
	from, _ := o.str("from", true)
	to, _ := o.str("to", true)
	c.emit(NewTable().Set("type", "rename_constraint").Set("table", table).Set("constraint", from).Set("new_name", to))
	if st := c.schema.table(table); st != nil {
		if k, ok := st.cons[from]; ok {
			delete(st.cons, from)
			st.cons[to] = k
		}
	}
}
