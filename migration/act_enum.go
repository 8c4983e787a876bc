package migration

// create_enum and alter_enum: the funcs too long to write inline in their
// entries in actions.go.

// createEnum checks create_enum: its name and its values, not empty and
// without duplicates.
func (v *validator) createEnum(p string, a *CreateEnum) {
	v.ident(p+".name", a.Name)
	if len(a.Values) == 0 {
		v.add(p+".values", "must not be empty")
	}
	seen := map[string]int{}
	for j, s := range a.Values {
		k := joinIndex(p+".values", j)
		v.enumLabel(k, s)
		if prev, dup := seen[s]; dup {
			v.add(k, "duplicate value %q (also values[%d])", s, prev)
		} else {
			seen[s] = j
		}
	}
}

// alterEnum decodes an alter_enum action.
func (d *decoder) alterEnum(t *table) *AlterEnum {
	a := &AlterEnum{Name: t.str("name", true)}
	for _, at := range t.subs("add", false) {
		var e EnumValueAdd
		if at != nil {
			e = EnumValueAdd{Value: at.str("value", true), Before: at.str("before", false), After: at.str("after", false)}
			at.done(nil)
		}
		a.Add = append(a.Add, e)
	}
	for _, rt := range t.subs("rename", false) {
		var r EnumRename
		if rt != nil {
			r = EnumRename{From: rt.str("from", true), To: rt.str("to", true)}
			rt.done(nil)
		}
		a.Rename = append(a.Rename, r)
	}
	return a
}

// alterEnum checks alter_enum: its name, and its values to add and rename.
func (v *validator) alterEnum(p string, a *AlterEnum) {
	v.ident(p+".name", a.Name)
	if len(a.Add) == 0 && len(a.Rename) == 0 {
		v.add(p, "alter_enum needs add or rename")
	}
	for j, e := range a.Add {
		ep := joinIndex(p+".add", j)
		v.enumLabel(ep+".value", e.Value)
		if e.Before != "" && e.After != "" {
			v.add(ep+".after", "give before or after, not both")
		}
	}
	for j, r := range a.Rename {
		rp := joinIndex(p+".rename", j)
		v.enumLabel(rp+".from", r.From)
		v.enumLabel(rp+".to", r.To)
	}
}
