package migration

// alter_column: decoding, validation and SQL fragments (its entry is in
// actions.go).

// alterColumn decodes an alter_column action.
func (d *decoder) alterColumn(t *table) *AlterColumn {
	a := &AlterColumn{Table: t.str("table", true), Column: t.str("column", true)}
	// changes may be missing or empty (Reshape's form): with up and down
	// the action is a data transform, with neither it changes nothing.
	if ct := t.sub("changes", false); ct != nil {
		a.Changes = ColumnChanges{
			Name:     ct.optStr("name"),
			Type:     ct.optStr("type"),
			Nullable: ct.boolean("nullable"),
			Default:  ct.optStr("default"),
			Comment:  ct.optStr("comment"),
		}
		ct.done(nil)
	}
	a.Up = t.str("up", false)
	a.Down = t.str("down", false)
	return a
}

// alterColumn checks alter_column: the changes, and that up and down are
// given exactly when the change needs them.
func (v *validator) alterColumn(p string, a *AlterColumn) {
	v.ident(p+".table", a.Table)
	v.ident(p+".column", a.Column)
	ch := a.Changes
	if ch.Name != nil {
		// The column's current name is accepted (Reshape's files write
		// it): no rename.
		v.ident(p+".changes.name", *ch.Name)
	}
	if ch.Type != nil {
		v.nonEmpty(p+".changes.type", *ch.Type)
	}
	if ch.Default != nil {
		v.nonEmpty(p+".changes.default", *ch.Default)
	}
	switch {
	case ch.Type != nil:
		if a.Up == "" {
			v.add(p+".up", "required for a type change: the expression that turns an old value into a new one")
		}
		if a.Down == "" {
			v.add(p+".down", "required for a type change: the expression that turns a new value into an old one")
		}
	case ch.Nullable != nil && !*ch.Nullable:
		if a.Up == "" {
			v.add(p+".up", "required for nullable = false: the expression that gives old NULLs a value")
		}
	case ch.Nullable != nil && *ch.Nullable:
		if a.Down == "" {
			v.add(p+".down", "required for nullable = true: the expression that gives new NULLs a value for the old version")
		}
	default:
		// A data transform (the type stays): the new version sees up of
		// every old value, the old version down of every new one.
		if a.Up != "" && a.Down == "" {
			v.add(p+".down", "required with up when the type stays (a data transform): the expression that turns a new value back into an old one")
		}
		if a.Down != "" && a.Up == "" {
			v.add(p+".up", "required with down when the type stays (a data transform): the expression that turns an old value into a new one")
		}
	}
	v.reshapeDown(p, a)
}

// IsTransform reports whether a is a data transform: up and down without a
// type or nullability change (the column is rewritten through a shadow
// column like a type change to the same type).
func (a *AlterColumn) IsTransform() bool {
	return a.Changes.Type == nil && a.Changes.Nullable == nil && a.Up != "" && a.Down != ""
}

// alterColumnSQL checks the SQL fragments of alter_column.
func (v *validator) alterColumnSQL(p string, a *AlterColumn) {
	if a.Changes.Type != nil {
		v.typ(p+".changes.type", *a.Changes.Type)
	}
	if a.Changes.Default != nil {
		v.expr(p+".changes.default", *a.Changes.Default)
	}
	v.expr(p+".up", a.Up)
	v.expr(p+".down", a.Down)
}

// reshapeDown refuses a Reshape-style down: with a rename, Reshape's down
// names the column by its old name, while strata's down reads the new
// version's row, where the column has its new name. Such a file would fail
// (or, worse, read another column) at start; strata convert rewrites it.
func (v *validator) reshapeDown(p string, a *AlterColumn) {
	if a.Changes.Name == nil || a.Down == "" || a.Column == "" {
		return
	}
	refs, ok := exprColumns(a.Down)
	if !ok || !refs[a.Column] || refs[*a.Changes.Name] {
		return
	}
	v.add(p+".down", "names the column by its old name %q, as Reshape's down does; strata's down reads the new version's row, where the column is %q (hint: strata convert --from reshape %s rewrites the file)",
		a.Column, *a.Changes.Name, v.l.file)
}
