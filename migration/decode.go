package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Parse decodes and statically validates one migration file. The format is
// chosen by the extension of file: ".toml" or ".json" (lowercase); any other
// extension is an error that does not match ErrInvalid. file is used for the
// migration's File, for its default Name (the base name without extension) and
// in error messages.
//
// A file that is malformed or fails validation yields a nil *Migration and a
// ValidationErrors holding every problem found (matching ErrInvalid). The
// version-schema length is not checked here since it depends on the schema:
// call Validate for that.
func Parse(file string, data []byte) (*Migration, error) {
	var isJSON bool
	switch ext := path.Ext(filepath.ToSlash(file)); ext {
	case ".toml":
	case ".json":
		isJSON = true
	default:
		return nil, fmt.Errorf("migration: %s: unsupported file extension %q (want .toml or .json)", file, ext)
	}
	m, l := decode(file, data, isJSON)
	if err := l.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// decode decodes and validates a file; m is usable only when l is empty.
func decode(file string, data []byte, isJSON bool) (m *Migration, l *errList) {
	sum := sha256.Sum256(data)
	base := path.Base(filepath.ToSlash(file))
	m = &Migration{
		Name:     strings.TrimSuffix(base, path.Ext(base)),
		File:     file,
		Checksum: hex.EncodeToString(sum[:]),
	}
	l = &errList{file: file}
	var root *object
	if isJSON {
		r, lines, dups, fatal := treeFromJSON(file, data)
		if fatal != nil {
			l.push(fatal)
			return m, l
		}
		root, m.Lines = r, lines
		for _, e := range dups {
			l.push(e)
		}
	} else {
		r, lines, fatal := treeFromTOML(file, data)
		if fatal != nil {
			l.push(fatal)
			return m, l
		}
		root, m.Lines = r, lines
	}
	l.lines = m.Lines
	d := &decoder{l: l, json: isJSON}
	d.migration(m, root)
	// Validate even when decoding failed, to report everything at once:
	// decode leaves nil placeholders for actions it could not decode (so
	// that indexes keep matching key paths) and zero values for bad fields,
	// whose errors errList keeps from being reported twice.
	newValidator(l).migration(m)
	return m, l
}

// actionTypes lists the action types in the spec's order.
var actionTypes = []string{
	"create_table", "add_column", "alter_column", "remove_column",
	"rename_table", "remove_table", "add_index", "remove_index",
	"add_foreign_key", "remove_foreign_key", "add_check", "remove_check",
	"create_enum", "alter_enum", "remove_enum", "custom",
}

// actionKeys lists the keys of each action type besides `type`; it is used to
// explain that a key belongs to another type of action.
var actionKeys = map[string][]string{
	"create_table":       {"name", "columns", "primary_key", "foreign_keys", "checks", "unique", "up"},
	"add_column":         {"table", "column", "up"},
	"alter_column":       {"table", "column", "changes", "up", "down"},
	"remove_column":      {"table", "column", "down"},
	"rename_table":       {"table", "new_name"},
	"remove_table":       {"table"},
	"add_index":          {"table", "index"},
	"remove_index":       {"index"},
	"add_foreign_key":    {"table", "foreign_key"},
	"remove_foreign_key": {"table", "foreign_key"},
	"add_check":          {"table", "check"},
	"remove_check":       {"table", "check"},
	"create_enum":        {"name", "values"},
	"alter_enum":         {"name", "add", "rename"},
	"remove_enum":        {"enum"},
	"custom":             {"start", "complete", "abort"},
}

type decoder struct {
	l    *errList
	json bool
}

// table is an object being decoded: it remembers which keys were read so
// that the rest can be reported as unknown.
type table struct {
	d    *decoder
	path string
	o    *object
	read map[string]bool
}

// asTable returns v as a table, or nil after reporting that it is not one.
func (d *decoder) asTable(v any, path string) *table {
	o, ok := v.(*object)
	if !ok {
		d.l.add(path, "expected %s, got %s", tableWord(d.json), typeName(v, d.json))
		return nil
	}
	return &table{d: d, path: path, o: o, read: make(map[string]bool)}
}

func (t *table) key(k string) string { return joinKey(t.path, k) }

// get returns the value of k and marks k as read.
func (t *table) get(k string) (any, bool) {
	t.read[k] = true
	v, ok := t.o.vals[k]
	return v, ok
}

func (t *table) missing(k string) {
	t.d.l.add(t.key(k), "missing required key")
}

func (t *table) wrongType(k string, want string, v any) {
	t.d.l.add(t.key(k), "expected %s, got %s", want, typeName(v, t.d.json))
}

// str returns the string at k; "" when absent (reported if required) or of
// the wrong type (reported).
func (t *table) str(k string, required bool) string {
	p := t.optStr(k)
	if p == nil {
		if required {
			if _, ok := t.o.vals[k]; !ok {
				t.missing(k)
			}
		}
		return ""
	}
	return *p
}

// optStr returns the string at k, nil when absent or of the wrong type
// (reported).
func (t *table) optStr(k string) *string {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(k, "string", v)
		return nil
	}
	return &s
}

// boolean returns the boolean at k, nil when absent or of the wrong type
// (reported).
func (t *table) boolean(k string) *bool {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(k, "boolean", v)
		return nil
	}
	return &b
}

// strs returns the array of strings at k. Elements of the wrong type are
// reported and left "".
func (t *table) strs(k string, required bool) []string {
	v, ok := t.get(k)
	if !ok {
		if required {
			t.missing(k)
		}
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(k, "array of strings", v)
		return nil
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			t.d.l.add(joinIndex(t.key(k), i), "expected string, got %s", typeName(e, t.d.json))
			continue
		}
		out[i] = s
	}
	return out
}

// sub returns the table at k, nil when absent (reported if required) or not
// a table (reported).
func (t *table) sub(k string, required bool) *table {
	v, ok := t.get(k)
	if !ok {
		if required {
			t.missing(k)
		}
		return nil
	}
	return t.d.asTable(v, t.key(k))
}

// subs returns the array of tables at k. Elements that are not tables are
// reported and returned as nil, so that indexes keep matching key paths.
func (t *table) subs(k string, required bool) []*table {
	v, ok := t.get(k)
	if !ok {
		if required {
			t.missing(k)
		}
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(k, "array of "+tableWord(t.d.json)+"s", v)
		return nil
	}
	out := make([]*table, len(arr))
	for i, e := range arr {
		out[i] = t.d.asTable(e, joinIndex(t.key(k), i))
	}
	return out
}

// done reports every key that was not read as unknown; why, if not nil,
// gives an explanation to append for a key.
func (t *table) done(why func(k string) string) {
	for _, k := range t.o.keys {
		if t.read[k] {
			continue
		}
		msg := "unknown key"
		if why != nil {
			if s := why(k); s != "" {
				msg += " " + s
			}
		}
		t.d.l.add(t.key(k), "%s", msg)
	}
}

func (d *decoder) migration(m *Migration, root *object) {
	t := &table{d: d, o: root, read: make(map[string]bool)}
	if p := t.optStr("name"); p != nil {
		m.Name = *p
	}
	m.Description = t.str("description", false)
	v, ok := t.get("actions")
	switch arr, isArr := v.([]any); {
	case !ok:
		t.missing("actions")
	case !isArr:
		t.wrongType("actions", "array of "+tableWord(d.json)+"s", v)
	case len(arr) == 0:
		d.l.add("actions", "must not be empty: a migration needs at least one action")
	default:
		m.Actions = make([]Action, len(arr))
		for i, e := range arr {
			if at := d.asTable(e, joinIndex("actions", i)); at != nil {
				m.Actions[i] = d.action(at)
			}
		}
	}
	t.done(nil)
}

// action decodes one action; nil when its type is missing or unknown.
func (d *decoder) action(t *table) Action {
	v, ok := t.get("type")
	if !ok {
		t.missing("type")
		return nil
	}
	typ, ok := v.(string)
	if !ok {
		t.wrongType("type", "string", v)
		return nil
	}
	var a Action
	switch typ {
	case "create_table":
		a = d.createTable(t)
	case "add_column":
		a = &AddColumn{Table: t.str("table", true), Column: d.column(t.sub("column", true)), Up: d.value(t, "up")}
	case "alter_column":
		a = d.alterColumn(t)
	case "remove_column":
		a = &RemoveColumn{Table: t.str("table", true), Column: t.str("column", true), Down: d.value(t, "down")}
	case "rename_table":
		a = &RenameTable{Table: t.str("table", true), NewName: t.str("new_name", true)}
	case "remove_table":
		a = &RemoveTable{Table: t.str("table", true)}
	case "add_index":
		a = &AddIndex{Table: t.str("table", true), Index: d.index(t.sub("index", true))}
	case "remove_index":
		a = &RemoveIndex{Index: t.str("index", true)}
	case "add_foreign_key":
		a = &AddForeignKey{Table: t.str("table", true), ForeignKey: d.foreignKey(t.sub("foreign_key", true), true)}
	case "remove_foreign_key":
		a = &RemoveForeignKey{Table: t.str("table", true), ForeignKey: t.str("foreign_key", true)}
	case "add_check":
		a = &AddCheck{Table: t.str("table", true), Check: d.check(t.sub("check", true), true)}
	case "remove_check":
		a = &RemoveCheck{Table: t.str("table", true), Check: t.str("check", true)}
	case "create_enum":
		a = &CreateEnum{Name: t.str("name", true), Values: t.strs("values", true)}
	case "alter_enum":
		a = d.alterEnum(t)
	case "remove_enum":
		a = &RemoveEnum{Enum: t.str("enum", true)}
	case "custom":
		a = &Custom{Start: t.str("start", false), Complete: t.str("complete", false), Abort: t.str("abort", false)}
	default:
		d.l.add(t.key("type"), "unknown action type %q (valid: %s)", typ, strings.Join(actionTypes, ", "))
		return nil
	}
	t.done(func(k string) string {
		var others []string
		for _, other := range actionTypes {
			if other != typ && slices.Contains(actionKeys[other], k) {
				others = append(others, other)
			}
		}
		if len(others) == 0 {
			return ""
		}
		return fmt.Sprintf("for %s (it is a key of %s)", typ, strings.Join(others, ", "))
	})
	return a
}

func (d *decoder) createTable(t *table) *CreateTable {
	a := &CreateTable{Name: t.str("name", true)}
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
		var u Unique
		if ut != nil {
			u = Unique{Name: ut.str("name", false), Columns: ut.strs("columns", true)}
			ut.done(nil)
		}
		a.Unique = append(a.Unique, u)
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

// column decodes a column; t may be nil (already reported).
func (d *decoder) column(t *table) Column {
	c := Column{Nullable: true}
	if t == nil {
		return c
	}
	c.Name = t.str("name", true)
	c.Type = t.str("type", true)
	if b := t.boolean("nullable"); b != nil {
		c.Nullable = *b
	}
	c.Default = t.optStr("default")
	c.Generated = t.str("generated", false)
	c.Comment = t.optStr("comment")
	t.done(nil)
	return c
}

// value decodes add_column.up / remove_column.down: an expression or
// {table, value, where}.
func (d *decoder) value(t *table, k string) *Value {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case string:
		return &Value{Expr: v}
	case *object:
		vt := d.asTable(v, t.key(k))
		val := &Value{Table: vt.str("table", true), Expr: vt.str("value", true), Where: vt.str("where", true)}
		vt.done(nil)
		return val
	}
	t.wrongType(k, "string or "+tableWord(d.json), v)
	return nil
}

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

// index decodes add_index.index; t may be nil (already reported).
func (d *decoder) index(t *table) Index {
	if t == nil {
		return Index{}
	}
	x := Index{
		Name:    t.str("name", true),
		Columns: t.strs("columns", true),
		Method:  normalizeMethod(t.str("type", false)),
		Where:   t.str("where", false),
		Include: t.strs("include", false),
	}
	if b := t.boolean("unique"); b != nil {
		x.Unique = *b
	}
	t.done(nil)
	return x
}

// foreignKey decodes a foreign key; t may be nil (already reported).
func (d *decoder) foreignKey(t *table, nameRequired bool) ForeignKey {
	if t == nil {
		return ForeignKey{}
	}
	fk := ForeignKey{
		Name:              t.str("name", nameRequired),
		Columns:           t.strs("columns", true),
		ReferencedTable:   t.str("referenced_table", true),
		ReferencedColumns: t.strs("referenced_columns", true),
		OnDelete:          normalizeRefAction(t.str("on_delete", false)),
		OnUpdate:          normalizeRefAction(t.str("on_update", false)),
	}
	t.done(nil)
	return fk
}

// check decodes a check constraint; t may be nil (already reported).
func (d *decoder) check(t *table, nameRequired bool) Check {
	if t == nil {
		return Check{}
	}
	c := Check{Name: t.str("name", nameRequired), Expression: t.str("expression", true)}
	t.done(nil)
	return c
}

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
