package migration

// create_table: decoding, validation and SQL fragments (its entry is in
// actions.go).

// createTable decodes a create_table action.
func (d *decoder) createTable(t *table) *CreateTable {
	a := &CreateTable{Name: t.str("name", true), Comment: t.optStr("comment"), PrimaryKeyName: t.str("primary_key_name", false)}
	for _, ct := range t.subs("columns", true) {
		a.Columns = append(a.Columns, d.column(ct))
	}
	// A missing primary_key is reported by the validator, which explains why
	// it is needed.
	a.PrimaryKey = t.strs("primary_key", false)
	for _, ft := range t.subs("foreign_keys", false) {
		a.ForeignKeys = append(a.ForeignKeys, d.foreignKey(ft, false))
	}
	for _, ct := range t.subs("checks", false) {
		a.Checks = append(a.Checks, d.check(ct, false))
	}
	for _, ut := range t.subs("unique", false) {
		a.Unique = append(a.Unique, d.unique(ut, false))
	}
	for _, xt := range t.subs("exclude", false) {
		a.Exclude = append(a.Exclude, d.exclude(xt))
	}
	if ut := t.sub("up", false); ut != nil {
		up := &TableUp{Table: ut.str("table", true), Where: ut.str("where", true)}
		if vt := ut.sub("values", true); vt != nil {
			up.Values = []ColumnValue{}
			for _, k := range vt.o.keys {
				up.Values = append(up.Values, ColumnValue{Column: k, Expr: vt.str(k, true)})
			}
		}
		ut.done(nil)
		a.Up = up
	}
	return a
}

// createTable checks create_table: its columns, the column lists of its
// keys and constraints (against its columns) and up.
func (v *validator) createTable(p string, a *CreateTable) {
	v.ident(p+".name", a.Name)
	cols := map[string]*Column{}
	if len(a.Columns) == 0 {
		v.add(p+".columns", "must not be empty: a table needs at least one column")
	}
	for j := range a.Columns {
		c := &a.Columns[j]
		cp := joinIndex(p+".columns", j)
		v.column(cp, c)
		if _, dup := cols[c.Name]; dup && c.Name != "" {
			v.add(cp+".name", "duplicate column %q", c.Name)
		} else {
			cols[c.Name] = c
		}
	}
	if len(a.Columns) == 0 || v.l.has(p+".columns") {
		// Some columns could not be decoded: do not report references
		// to them as unknown.
		cols = nil
	}
	v.columnList(p+".primary_key", a.PrimaryKey, cols, "strata needs a primary key to backfill and sync rows")
	if a.PrimaryKeyName != "" {
		v.ident(p+".primary_key_name", a.PrimaryKeyName)
	}
	for j := range a.ForeignKeys {
		fk := &a.ForeignKeys[j]
		fp := joinIndex(p+".foreign_keys", j)
		if fk.Name != "" {
			v.ident(fp+".name", fk.Name)
		}
		v.foreignKey(fp, fk, cols)
	}
	for j, c := range a.Checks {
		cp := joinIndex(p+".checks", j)
		if c.Name != "" {
			v.ident(cp+".name", c.Name)
		}
		v.nonEmpty(cp+".expression", c.Expression)
	}
	for j := range a.Unique {
		v.unique(joinIndex(p+".unique", j), &a.Unique[j], cols, false)
	}
	for j := range a.Exclude {
		v.exclude(joinIndex(p+".exclude", j), &a.Exclude[j], cols)
	}
	if a.Up != nil {
		up := p + ".up"
		v.ident(up+".table", a.Up.Table)
		if a.Up.Table != "" && a.Up.Table == a.Name {
			v.add(up+".table", "must name another table than the one created")
		}
		v.nonEmpty(up+".where", a.Up.Where)
		if len(a.Up.Values) == 0 {
			v.add(up+".values", "must not be empty")
		}
		given := map[string]bool{}
		for _, cv := range a.Up.Values {
			k := joinKey(up+".values", cv.Column)
			if cols != nil && cols[cv.Column] == nil {
				v.add(k, "no column %q in columns", cv.Column)
			}
			if given[cv.Column] {
				v.add(k, "duplicate column")
			}
			given[cv.Column] = true
			v.nonEmpty(k, cv.Expr)
		}
		if len(a.Up.Values) > 0 && cols != nil {
			for _, c := range a.Columns {
				if !c.Nullable && c.Default == nil && c.Generated == "" && !serial(c.Type) && !given[c.Name] && c.Name != "" {
					v.add(up+".values", "column %q is NOT NULL without a default: give it a value", c.Name)
				}
			}
		}
	}
}

// createTableSQL checks the SQL fragments of create_table.
func (v *validator) createTableSQL(p string, a *CreateTable) {
	for j := range a.Columns {
		v.columnSQL(joinIndex(p+".columns", j), &a.Columns[j])
	}
	for j, c := range a.Checks {
		v.expr(joinIndex(p+".checks", j)+".expression", c.Expression)
	}
	for j := range a.Exclude {
		v.excludeSQL(joinIndex(p+".exclude", j), &a.Exclude[j])
	}
	if a.Up != nil {
		for _, cv := range a.Up.Values {
			v.expr(joinKey(p+".up.values", cv.Column), cv.Expr)
		}
		v.expr(p+".up.where", a.Up.Where)
	}
}
