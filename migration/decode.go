package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/stratapg/strata/internal/suggest"
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
		return nil, fmt.Errorf("%s: unsupported file extension %q (want .toml or .json)", file, ext)
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
		Kind:     KindTOML,
	}
	if isJSON {
		m.Kind = KindJSON
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
		if msg == "unknown key" {
			var known []string
			for r := range t.read {
				known = append(known, r)
			}
			msg += suggest.Hint(k, known)
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
	if p := t.optStr("version_schema"); p != nil {
		m.VersionSchema = *p
	}
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
	at := lookupActionType(typ)
	if at == nil {
		if s := suggest.Closest(typ, ActionTypes()); s != "" {
			d.l.add(t.key("type"), "unknown action type %q (did you mean %q?)", typ, s)
		} else {
			d.l.add(t.key("type"), "unknown action type %q (valid: %s)", typ, strings.Join(ActionTypes(), ", "))
		}
		return nil
	}
	a := at.decode(d, t)
	t.done(func(k string) string { return otherKeyOwners(typ, k) })
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

// index decodes add_index.index; t may be nil (already reported).
func (d *decoder) index(t *table) Index {
	if t == nil {
		return Index{}
	}
	x := Index{
		Name:              t.str("name", true),
		Columns:           d.indexColumns(t, "columns"),
		Unique:            t.flag("unique"),
		NullsNotDistinct:  t.flag("nulls_not_distinct"),
		Method:            normalizeMethod(t.str("type", false)),
		Where:             t.str("where", false),
		Include:           t.strs("include", false),
		StorageParameters: d.params(t, "storage_parameters"),
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
		Match:             strings.ToUpper(t.str("match", false)),
		Deferrable:        t.flag("deferrable"),
		InitiallyDeferred: t.flag("initially_deferred"),
	}
	t.done(nil)
	return fk
}

// check decodes a check constraint; t may be nil (already reported).
func (d *decoder) check(t *table, nameRequired bool) Check {
	if t == nil {
		return Check{}
	}
	c := Check{Name: t.str("name", nameRequired), Expression: t.str("expression", true), NoInherit: t.flag("no_inherit")}
	t.done(nil)
	return c
}
