package convert

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Table is an ordered TOML table for writing strata files: keys come out in
// the order they were set. Values are string, bool, int, int64, float64,
// []string, []any (of those), *Table (written inline) or []*Table (an array
// of inline tables).
type Table struct {
	keys []string
	vals map[string]any
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{vals: map[string]any{}} }

// Set sets key to v (nil v removes the key) and returns t for chaining.
func (t *Table) Set(key string, v any) *Table {
	if v == nil {
		t.Del(key)
		return t
	}
	if _, ok := t.vals[key]; !ok {
		t.keys = append(t.keys, key)
	}
	t.vals[key] = v
	return t
}

// SetTables sets key to the array of inline tables v when v is not empty
// (an empty list is left out, as strata's optional lists are).
func (t *Table) SetTables(key string, v []*Table) *Table {
	if len(v) > 0 {
		t.Set(key, v)
	}
	return t
}

// Del removes key.
func (t *Table) Del(key string) {
	if _, ok := t.vals[key]; !ok {
		return
	}
	delete(t.vals, key)
	for i, k := range t.keys {
		if k == key {
			t.keys = append(t.keys[:i], t.keys[i+1:]...)
			break
		}
	}
}

// Get returns the value of key.
func (t *Table) Get(key string) (any, bool) { v, ok := t.vals[key]; return v, ok }

// Len is the number of keys.
func (t *Table) Len() int { return len(t.keys) }

// Keys returns the keys in order.
func (t *Table) Keys() []string { return append([]string(nil), t.keys...) }

// Doc is one strata migration file to write.
type Doc struct {
	// Comments are written first, one "# " line each (e.g. where the file
	// came from, and every warning).
	Comments []string
	// Top holds the top-level keys (name, description, version_schema...).
	Top *Table
	// Actions are written as [[actions]] tables, each key on its own line.
	Actions []*Table
}

// Bytes renders the document as TOML.
func (d *Doc) Bytes() []byte {
	var b strings.Builder
	for _, c := range d.Comments {
		for _, l := range strings.Split(c, "\n") {
			b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
		}
	}
	if len(d.Comments) > 0 {
		b.WriteString("\n")
	}
	if d.Top != nil && d.Top.Len() > 0 {
		for _, k := range d.Top.keys {
			fmt.Fprintf(&b, "%s = %s\n", tomlKey(k), tomlValue(d.Top.vals[k], 0))
		}
		b.WriteString("\n")
	}
	if len(d.Actions) == 0 {
		b.WriteString("actions = []\n")
	}
	for i, a := range d.Actions {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("[[actions]]\n")
		for _, k := range a.keys {
			fmt.Fprintf(&b, "%s = %s\n", tomlKey(k), tomlValue(a.vals[k], 0))
		}
	}
	return []byte(b.String())
}

func tomlKey(k string) string {
	if k != "" && strings.IndexFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) < 0 {
		return k
	}
	return strconv.Quote(k)
}

// tomlValue renders v; depth > 0 means inside an inline table or array,
// where multi-line strings are still allowed (TOML permits them in arrays
// and inline tables).
func tomlValue(v any, depth int) string {
	switch x := v.(type) {
	case string:
		return tomlString(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = tomlString(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = tomlValue(e, depth+1)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *Table:
		parts := make([]string, 0, len(x.keys))
		for _, k := range x.keys {
			parts = append(parts, tomlKey(k)+" = "+tomlValue(x.vals[k], depth+1))
		}
		if len(parts) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case []*Table:
		if len(x) == 0 {
			return "[]"
		}
		parts := make([]string, len(x))
		for i, t := range x {
			parts[i] = "  " + tomlValue(t, depth+1)
		}
		return "[\n" + strings.Join(parts, ",\n") + ",\n]"
	case map[string]string:
		t := NewTable()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Set(k, x[k])
		}
		return tomlValue(t, depth)
	}
	panic(fmt.Sprintf("no TOML form for %T", v))
}

// tomlString writes s as a literal string when it can (SQL reads best
// without escapes), a multi-line literal for text with newlines, else a
// basic string.
func tomlString(s string) string {
	ok := func(r rune) bool { return r == '\t' || r >= 0x20 && r != 0x7f }
	plain := true
	for _, r := range s {
		if r != '\n' && !ok(r) {
			plain = false
			break
		}
	}
	switch {
	case plain && !strings.Contains(s, "\n") && !strings.Contains(s, "'"):
		return "'" + s + "'"
	case plain && strings.Contains(s, "\n") && !strings.Contains(s, "'''") && !strings.HasSuffix(s, "'"):
		return "'''\n" + s + "'''"
	}
	return strconv.Quote(s)
}
