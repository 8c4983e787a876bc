package migration

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lines joins its arguments with newlines, to write test files line by line.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// A valid first action, so that the action under test is actions[1].
var firstAction = []string{
	`[[actions]]`,
	`type = "remove_table"`,
	`table = "old"`,
	``,
}

func withFirst(ls ...string) string {
	return lines(append(append([]string{}, firstAction...), ls...)...)
}

// parseErrorCase is a file that Parse rejects with the errors want.
type parseErrorCase struct {
	name string
	file string
	src  string
	want []string
}

func TestParseErrors(t *testing.T) {
	tests := []parseErrorCase{
		// Syntax.
		{
			name: "toml syntax error",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "remove_table"`, `table = `),
			want: []string{`m/1.toml:3: syntax error: expected value but found '\n' instead`},
		},
		{
			name: "toml duplicate key",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "remove_table"`, `table = "a"`, `table = "b"`),
			want: []string{`m/1.toml:4: syntax error: Key 'actions.table' has already been defined.`},
		},
		{
			name: "json syntax error",
			file: "m/1.json",
			src:  lines(`{`, `  "actions": [`, `    {"type": tru}`, `  ]`, `}`),
			want: []string{`m/1.json:3: syntax error: invalid character '}' in literal true (expecting 'e')`},
		},
		{
			name: "json truncated",
			file: "m/1.json",
			src:  lines(`{`, `  "actions": [`, `    {"type": "remove_table", "table": "t"}`),
			want: []string{`m/1.json:3: syntax error: unexpected end of JSON input`},
		},
		{
			name: "json trailing data",
			file: "m/1.json",
			src:  lines(`{"actions": [{"type": "remove_table", "table": "t"}]}`, ``, `{}`),
			want: []string{`m/1.json:3: syntax error: unexpected data after the top-level object`},
		},
		{
			name: "json not an object",
			file: "m/1.json",
			src:  `["actions"]`,
			want: []string{`m/1.json:1: syntax error: expected a JSON object at the top level, got array`},
		},
		{
			name: "json empty",
			file: "m/1.json",
			src:  ``,
			want: []string{`m/1.json:1: syntax error: empty file: expected a JSON object`},
		},
		{
			name: "json duplicate key",
			file: "m/1.json",
			src:  lines(`{"actions": [`, `  {"type": "remove_table",`, `   "table": "a",`, `   "table": "b"}]}`),
			want: []string{`m/1.json:4: actions[0].table: duplicate key`},
		},

		{
			name: "toml nesting too deep",
			file: "m/1.toml",
			src:  lines(`description = "x"`, `x = `+strings.Repeat("[", 65)+strings.Repeat("]", 65)),
			want: []string{`m/1.toml:2: syntax error: nesting too deep (more than 64 levels)`},
		},
		{
			name: "json nesting too deep",
			file: "m/1.json",
			src:  lines(`{"description": "x",`, `"x": `+strings.Repeat("[", 64)+strings.Repeat("]", 64)+`}`),
			want: []string{`m/1.json:2: syntax error: nesting too deep (more than 64 levels)`},
		},

		// Unknown keys.
		{
			name: "unknown top-level key",
			file: "m/1.toml",
			src:  lines(`nmae = "x"`, `[[actions]]`, `type = "remove_table"`, `table = "t"`),
			want: []string{`m/1.toml:1: nmae: unknown key (did you mean "name"?)`},
		},
		{
			name: "unknown column key",
			file: "migrations/002_x.toml",
			src: withFirst(
				`# line 5`,
				`[[actions]]`,
				`type = "add_column"`,
				`table = "users"`,
				`up = "0"`,
				``,
				`  [actions.column]`,
				`  name = "n"`,
				`  type = "INT"`,
				`  nulable = false`,
			),
			want: []string{`migrations/002_x.toml:14: actions[1].column.nulable: unknown key (did you mean "nullable"?)`},
		},
		{
			name: "unknown action key",
			file: "m/1.toml",
			src:  withFirst(`[[actions]]`, `type = "remove_table"`, `tabel = "t"`),
			want: []string{
				`m/1.toml:5: actions[1].table: missing required key`,
				`m/1.toml:7: actions[1].tabel: unknown key (did you mean "table"?)`,
			},
		},
		{
			name: "key of another action type",
			file: "m/1.toml",
			src:  withFirst(`[[actions]]`, `type = "remove_column"`, `table = "t"`, `column = "c"`, `up = "1"`),
			want: []string{`m/1.toml:9: actions[1].up: unknown key for remove_column (it is a key of create_table, add_column, alter_column)`},
		},
		{
			name: "unknown key in changes",
			file: "m/1.json",
			src: lines(`{"actions": [{"type": "alter_column", "table": "t", "column": "c",`,
				`  "changes": {"comment": "x",`,
				`              "nulls": true}}]}`),
			want: []string{`m/1.json:3: actions[0].changes.nulls: unknown key`},
		},
		{
			name: "unknown keys in up, down, values tables",
			file: "m/1.toml",
			src: lines(
				`[[actions]]`,
				`type = "remove_column"`,
				`table = "t"`,
				`column = "c"`,
				`down = { table = "o", value = "o.v", where = "o.id = t.id", join = "x" }`,
				`[[actions]]`,
				`type = "add_column"`,
				`table = "t"`,
				`column = { name = "c", type = "INT" }`,
				`[actions.up]`,
				`table = "o"`,
				`value = "o.v"`,
				`where = "o.id = t.id"`,
				`from = "x"`,
			),
			want: []string{
				`m/1.toml:5: actions[0].down.join: unknown key`,
				`m/1.toml:14: actions[1].up.from: unknown key`,
			},
		},
		{
			name: "unknown keys in create_table parts",
			file: "m/1.toml",
			src: lines(
				`[[actions]]`,
				`type = "create_table"`,
				`name = "t"`,
				`primary_key = ["id"]`,
				`foreign_keys = [{ columns = ["id"], referenced_table = "o", referenced_columns = ["id"], ondelete = "CASCADE" }]`,
				`checks = [{ expression = "id > 0", deferrable = true }]`,
				`unique = [{ columns = ["id"], nulls_distinct = false }]`,
				`  [[actions.columns]]`,
				`  name = "id"`,
				`  type = "INT"`,
				`  primary = true`,
				`  [actions.up]`,
				`  table = "o"`,
				`  values = { id = "o.id" }`,
				`  where = "t.id = o.id"`,
				`  order_by = "id"`,
			),
			want: []string{
				`m/1.toml:5: actions[0].foreign_keys[0].ondelete: unknown key (did you mean "on_delete"?)`,
				`m/1.toml:6: actions[0].checks[0].deferrable: unknown key`,
				`m/1.toml:7: actions[0].unique[0].nulls_distinct: unknown key`,
				`m/1.toml:11: actions[0].columns[0].primary: unknown key`,
				`m/1.toml:16: actions[0].up.order_by: unknown key`,
			},
		},
		{
			name: "unknown keys in index, foreign key, check, enum add and rename",
			file: "m/1.json",
			src: lines(
				`{"actions": [`,
				`  {"type": "add_index", "table": "t", "index": {"name": "i", "columns": ["a"], "method": "gin"}},`,
				`  {"type": "add_foreign_key", "table": "t", "foreign_key": {"name": "f", "columns": ["a"],`,
				`   "referenced_table": "o", "referenced_columns": ["id"], "deferred": true}},`,
				`  {"type": "add_check", "table": "t", "check": {"name": "c", "expression": "a > 0", "valid": false}},`,
				`  {"type": "alter_enum", "name": "e", "add": [{"value": "v", "if_not_exists": true}],`,
				`   "rename": [{"from": "a", "to": "b", "x": 1}]}`,
				`]}`,
			),
			want: []string{
				`m/1.json:2: actions[0].index.method: unknown key`,
				`m/1.json:4: actions[1].foreign_key.deferred: unknown key`,
				`m/1.json:5: actions[2].check.valid: unknown key`,
				`m/1.json:6: actions[3].add[0].if_not_exists: unknown key`,
				`m/1.json:7: actions[3].rename[0].x: unknown key`,
			},
		},
		{
			name: "quoted unknown key",
			file: "m/1.toml",
			src:  lines(`"my key" = 1`, `[[actions]]`, `type = "remove_table"`, `table = "t"`),
			want: []string{`m/1.toml:1: "my key": unknown key`},
		},

		// Wrong types.
		{
			name: "boolean expected",
			file: "m/1.toml",
			src:  withFirst(`[[actions]]`, `type = "add_column"`, `table = "t"`, `column = { name = "c", type = "INT", nullable = "yes" }`),
			want: []string{`m/1.toml:8: actions[1].column.nullable: expected boolean, got string`},
		},
		{
			name: "boolean expected json",
			file: "m/1.json",
			src:  lines(`{"actions": [{"type": "add_column", "table": "t",`, `  "column": {"name": "c", "type": "INT", "nullable": "yes"}}]}`),
			want: []string{`m/1.json:2: actions[0].column.nullable: expected boolean, got string`},
		},
		{
			name: "string expected",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "remove_table"`, `table = 42`),
			want: []string{`m/1.toml:3: actions[0].table: expected string, got integer`},
		},
		{
			name: "json null and number",
			file: "m/1.json",
			src:  lines(`{"description": null,`, `"actions": [{"type": "remove_table", "table": 4.5}]}`),
			want: []string{
				`m/1.json:1: description: expected string, got null`,
				`m/1.json:2: actions[0].table: expected string, got number`,
			},
		},
		{
			name: "array of strings expected",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "create_enum"`, `name = "e"`, `values = "a"`),
			want: []string{`m/1.toml:4: actions[0].values: expected array of strings, got string`},
		},
		{
			name: "array element of the wrong type",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "create_enum"`, `name = "e"`, `values = [`, `  "a",`, `  2,`, `]`),
			want: []string{`m/1.toml:6: actions[0].values[1]: expected string, got integer`},
		},
		{
			name: "table expected",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "add_column"`, `table = "t"`, `column = "c"`),
			want: []string{`m/1.toml:4: actions[0].column: expected table, got string`},
		},
		{
			name: "object expected json",
			file: "m/1.json",
			src:  lines(`{"actions": [`, `"remove_table"]}`),
			want: []string{`m/1.json:2: actions[0]: expected object, got string`},
		},
		{
			name: "array of tables expected",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`, `columns = { name = "id", type = "INT" }`),
			want: []string{`m/1.toml:5: actions[0].columns: expected array of tables, got table`},
		},
		{
			name: "expression or table expected",
			file: "m/1.toml",
			src:  lines(`[[actions]]`, `type = "remove_column"`, `table = "t"`, `column = "c"`, `down = true`),
			want: []string{`m/1.toml:5: actions[0].down: expected string or table, got boolean`},
		},
		{
			name: "values must be strings",
			file: "m/1.toml",
			src: lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`,
				`columns = [{ name = "id", type = "INT" }]`,
				`up = { table = "o", where = "t.id = o.id", values = { id = 1 } }`),
			want: []string{`m/1.toml:6: actions[0].up.values.id: expected string, got integer`},
		},

		// Missing and empty.
		{
			name: "missing actions",
			file: "m/1.toml",
			src:  lines(`description = "nothing"`),
			want: []string{`m/1.toml: actions: missing required key`},
		},
		{
			name: "empty actions",
			file: "m/1.toml",
			src:  lines(`description = "nothing"`, `actions = []`),
			want: []string{`m/1.toml:2: actions: must not be empty: a migration needs at least one action`},
		},
		{
			name: "empty actions json",
			file: "m/1.json",
			src:  lines(`{`, `  "actions": []`, `}`),
			want: []string{`m/1.json:2: actions: must not be empty: a migration needs at least one action`},
		},
		{
			name: "missing type",
			file: "m/1.toml",
			src:  withFirst(`[[actions]]`, `table = "t"`),
			want: []string{`m/1.toml:5: actions[1].type: missing required key`},
		},
		{
			name: "missing required fields",
			file: "m/1.toml",
			src: withFirst(`[[actions]]`, `type = "add_column"`, `up = "1"`, `  [actions.column]`, `  type = "INT"`,
				`[[actions]]`, `type = "add_index"`, `table = "t"`, `index = { columns = ["a"] }`),
			want: []string{
				`m/1.toml:5: actions[1].table: missing required key`,
				`m/1.toml:8: actions[1].column.name: missing required key`,
				`m/1.toml:13: actions[2].index.name: missing required key`,
			},
		},
		{
			name: "multi-table value needs table, value and where",
			file: "m/1.json",
			src:  lines(`{"actions": [{"type": "remove_column", "table": "t", "column": "c",`, `  "down": {"value": "o.v"}}]}`),
			want: []string{
				`m/1.json:2: actions[0].down.table: missing required key`,
				`m/1.json:2: actions[0].down.where: missing required key`,
			},
		},

		// Action types.
		{
			name: "unknown action type",
			file: "m/1.toml",
			src:  withFirst(`[[actions]]`, `type = "drop_table"`, `table = "t"`),
			want: []string{`m/1.toml:6: actions[1].type: unknown action type "drop_table" (valid: create_table, add_column, alter_column, remove_column, rename_table, remove_table, add_index, remove_index, add_foreign_key, remove_foreign_key, add_check, remove_check, add_unique, add_primary_key, rename_constraint, remove_constraint, set_replica_identity, create_enum, alter_enum, remove_enum, custom)`},
		},

		// A decoding error is not repeated by validation.
		{
			name: "no follow-up errors",
			file: "m/1.toml",
			src: lines(
				`[[actions]]`,
				`type = "custom"`,
				`start = 1`,
				`[[actions]]`,
				`type = "alter_column"`,
				`table = "t"`,
				`column = "c"`,
				`changes = { type = 1 }`,
				`[[actions]]`,
				`type = "add_column"`,
				`column = 1`,
				`[[actions]]`,
				`type = "create_table"`,
				`name = "t"`,
				`primary_key = ["id"]`,
				`columns = [{ name = "id", type = "INT" }, "x"]`,
			),
			want: []string{
				`m/1.toml:3: actions[0].start: expected string, got integer`,
				`m/1.toml:8: actions[1].changes.type: expected string, got integer`,
				`m/1.toml:9: actions[2].table: missing required key`,
				`m/1.toml:11: actions[2].column: expected table, got integer`,
				`m/1.toml:16: actions[3].columns[1]: expected table, got string`,
			},
		},

		// Several problems at once, sorted by line.
		{
			name: "all errors sorted by line",
			file: "m/1.toml",
			src: lines(
				`[[actions]]`,
				`type = "alter_column"`,
				`table = ""`,
				`column = "c"`,
				`changes = { type = "INT", nulable = true }`,
				`[[actions]]`,
				`type = "nope"`,
				`[[actions]]`,
				`type = "remove_table"`,
				`table = "t"`,
				`extra = 1`,
				`[meta]`,
			),
			want: []string{
				`m/1.toml:1: actions[0].up: required for a type change: the expression that turns an old value into a new one`,
				`m/1.toml:1: actions[0].down: required for a type change: the expression that turns a new value into an old one`,
				`m/1.toml:3: actions[0].table: must not be empty`,
				`m/1.toml:5: actions[0].changes.nulable: unknown key (did you mean "nullable"?)`,
				`m/1.toml:7: actions[1].type: unknown action type "nope" (valid: create_table, add_column, alter_column, remove_column, rename_table, remove_table, add_index, remove_index, add_foreign_key, remove_foreign_key, add_check, remove_check, add_unique, add_primary_key, rename_constraint, remove_constraint, set_replica_identity, create_enum, alter_enum, remove_enum, custom)`,
				`m/1.toml:11: actions[2].extra: unknown key`,
				`m/1.toml:12: meta: unknown key`,
			},
		},
	}
	tests = append(tests, validationErrorCases...)
	tests = append(tests, formErrorCases...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.file, []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors:\n%s", strings.Join(tt.want, "\n"))
			}
			if m != nil {
				t.Errorf("Parse returned a migration with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			var ve ValidationErrors
			if !errors.As(err, &ve) {
				t.Fatalf("err is %T, want ValidationErrors", err)
			}
			var got []string
			for _, e := range ve {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			if err.Error() != strings.Join(got, "\n") {
				t.Errorf("Error() = %q, want the errors one per line", err.Error())
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "m/2.toml", Line: 14, Key: "actions[1].column.nulable", Msg: "unknown key"}, "m/2.toml:14: actions[1].column.nulable: unknown key"},
		{&Error{File: "m/2.toml", Key: "actions", Msg: "missing required key"}, "m/2.toml: actions: missing required key"},
		{&Error{File: "m/2.json", Line: 3, Msg: "syntax error: x"}, "m/2.json:3: syntax error: x"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
			var e *Error
			if !errors.As(ValidationErrors{tt.err}, &e) || e != tt.err {
				t.Error("errors.As(ValidationErrors, *Error) failed")
			}
		})
	}
}

func TestWhere(t *testing.T) {
	m := mustParse(t, "m/1.toml", string(readFixture(t, "split_relation.toml")))
	tests := []struct{ key, want string }{
		{"actions[1].table", "m/1.toml:22: actions[1].table"},
		{"actions[0].up.values.role", "m/1.toml:17: actions[0].up.values.role"},
		{"actions[1].column.default", "m/1.toml:23: actions[1].column.default"}, // nearest ancestor
		{"name", "m/1.toml: name"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := m.Where(tt.key); got != tt.want {
				t.Errorf("Where(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestPathHelpers(t *testing.T) {
	tests := []struct{ path, parent string }{
		{"actions", ""},
		{"actions[0]", "actions"},
		{"actions[0].column.name", "actions[0].column"},
		{`actions[0].up.values."a.b[1]"`, "actions[0].up.values"},
		{`"x y"[2]`, `"x y"`},
		{"bad..path", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := parentPath(tt.path); got != tt.parent {
				t.Errorf("parentPath(%q) = %q, want %q", tt.path, got, tt.parent)
			}
		})
	}
}
