package migration

// alter_column: decoding, validation and SQL fragments (its entry is in
// actions.go).

// alterColumn decodes an alter_column action.
func (d *decoder) alterColumn(t *table) *AlterColumn {
	a := &AlterColumn{Table: t.str("table", true), Column: t.str("column", true)}
	if ct := t.sub("changes", true); ct != nil {
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
	if ch.Name == nil && ch.Type == nil && ch.Nullable == nil && ch.Default == nil && ch.Comment == nil {
		v.add(p+".changes", "must not be empty: give at least one of name, type, nullable, default, comment")
	}
	if ch.Name != nil {
		v.ident(p+".changes.name", *ch.Name)
		if *ch.Name == a.Column && a.Column != "" {
			v.add(p+".changes.name", "is the column's current name")
		}
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
		if a.Up != "" {
			v.add(p+".up", "up/down only apply to type or nullability changes")
		}
		if a.Down != "" {
			v.add(p+".down", "up/down only apply to type or nullability changes")
		}
	}
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
