package migration

import "strings"

// validationErrorCases are the static-validation cases of TestParseErrors:
// files that decode but break an action's rules.
var validationErrorCases = []parseErrorCase{
	{
		name: "invalid name from file",
		file: "m/001-Init.toml",
		src:  lines(`[[actions]]`, `type = "remove_table"`, `table = "t"`),
		want: []string{`m/001-Init.toml: name: invalid migration name "001-Init" (taken from the file name; rename the file or set a top-level name): use only a-z, 0-9 and _`},
	},
	{
		name: "invalid name key",
		file: "m/1.toml",
		src:  lines(`name = "Add Users"`, `[[actions]]`, `type = "remove_table"`, `table = "t"`),
		want: []string{`m/1.toml:1: name: invalid migration name "Add Users": use only a-z, 0-9 and _`},
	},
	{
		name: "version_schema reserved prefix",
		file: "m/1.toml",
		src:  lines(`version_schema = "pg_v2"`, `[[actions]]`, `type = "remove_table"`, `table = "t"`),
		want: []string{`m/1.toml:1: version_schema: "pg_v2" starts with pg_: PostgreSQL reserves those names for system schemas`},
	},
	{
		name: "version_schema too long",
		file: "m/1.json",
		src:  lines(`{"version_schema": "`+strings.Repeat("v", 64)+`",`, `"actions": [{"type": "remove_table", "table": "t"}]}`),
		want: []string{`m/1.json:1: version_schema: "` + strings.Repeat("v", 64) + `" is 64 bytes; PostgreSQL identifiers are at most 63 bytes`},
	},
	{
		name: "version_schema empty",
		file: "m/1.toml",
		src:  lines(`version_schema = ""`, `[[actions]]`, `type = "remove_table"`, `table = "t"`),
		want: []string{`m/1.toml:1: version_schema: must not be empty`},
	},
	{
		name: "version_schema not a string",
		file: "m/1.toml",
		src:  lines(`version_schema = 2`, `[[actions]]`, `type = "remove_table"`, `table = "t"`),
		want: []string{`m/1.toml:1: version_schema: expected string, got integer`},
	},
	{
		name: "empty identifier",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "remove_table"`, `table = ""`),
		want: []string{`m/1.toml:3: actions[0].table: must not be empty`},
	},
	{
		name: "identifier too long",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "remove_table"`, `table = "`+strings.Repeat("t", 64)+`"`),
		want: []string{`m/1.toml:3: actions[0].table: "` + strings.Repeat("t", 64) + `" is 64 bytes; PostgreSQL identifiers are at most 63 bytes`},
	},
	{
		name: "reserved identifier",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "add_column"`, `table = "t"`, `column = { name = "_strata_x", type = "INT" }`),
		want: []string{`m/1.toml:4: actions[0].column.name: "_strata_x" starts with _strata: names starting with _strata are reserved for strata's own objects`},
	},
	{
		name: "alter_column empty changes",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "alter_column"`, `table = "t"`, `column = "c"`, `changes = {}`),
		want: []string{`m/1.toml:5: actions[0].changes: must not be empty: give at least one of name, type, nullable, default, comment`},
	},
	{
		name: "alter_column type change needs up and down",
		file: "m/1.toml",
		src:  withFirst(`[[actions]]`, `type = "alter_column"`, `table = "t"`, `column = "c"`, `changes = { type = "BIGINT" }`),
		want: []string{
			`m/1.toml:5: actions[1].up: required for a type change: the expression that turns an old value into a new one`,
			`m/1.toml:5: actions[1].down: required for a type change: the expression that turns a new value into an old one`,
		},
	},
	{
		name: "alter_column not null needs up",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "alter_column"`, `table = "t"`, `column = "c"`, `changes.nullable = false`, `down = "c"`),
		want: []string{`m/1.toml:1: actions[0].up: required for nullable = false: the expression that gives old NULLs a value`},
	},
	{
		name: "alter_column nullable needs down",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "alter_column"`, `table = "t"`, `column = "c"`, `changes.nullable = true`, `up = "c"`),
		want: []string{`m/1.toml:1: actions[0].down: required for nullable = true: the expression that gives new NULLs a value for the old version`},
	},
	{
		name: "alter_column up without type or nullability change",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "alter_column"`, `table = "t"`, `column = "c"`,
			`changes = { name = "d", default = "1", comment = "x" }`, `up = "c"`, `down = "d"`),
		want: []string{
			`m/1.toml:6: actions[0].up: up/down only apply to type or nullability changes`,
			`m/1.toml:7: actions[0].down: up/down only apply to type or nullability changes`,
		},
	},
	{
		name: "add_column not null without default or up",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "add_column"`, `table = "t"`, `[actions.column]`, `name = "c"`, `type = "INT"`, `nullable = false`),
		want: []string{`m/1.toml:7: actions[0].column.nullable: a NOT NULL column without a default needs up: existing rows need a value`},
	},
	{
		name: "create_table without columns",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`, `columns = []`),
		want: []string{`m/1.toml:5: actions[0].columns: must not be empty: a table needs at least one column`},
	},
	{
		name: "create_table duplicate column",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`,
			`[[actions.columns]]`, `name = "id"`, `type = "INT"`, `[[actions.columns]]`, `name = "id"`, `type = "TEXT"`),
		want: []string{`m/1.toml:9: actions[0].columns[1].name: duplicate column "id"`},
	},
	{
		name: "create_table without primary key",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `columns = [{ name = "id", type = "INT" }]`),
		want: []string{`m/1.toml:1: actions[0].primary_key: missing required key: strata needs a primary key to backfill and sync rows`},
	},
	{
		name: "create_table empty primary key",
		file: "m/1.json",
		src:  lines(`{"actions": [{"type": "create_table", "name": "t",`, `  "columns": [{"name": "id", "type": "INT"}],`, `  "primary_key": []}]}`),
		want: []string{`m/1.json:3: actions[0].primary_key: must not be empty: strata needs a primary key to backfill and sync rows`},
	},
	{
		name: "create_table primary key column not in columns",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `columns = [{ name = "id", type = "INT" }]`, `primary_key = [`, `  "id",`, `  "tenant",`, `]`),
		want: []string{`m/1.toml:7: actions[0].primary_key[1]: no column "tenant" in columns`},
	},
	{
		name: "create_table up problems",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`,
			`columns = [{ name = "id", type = "INT" }, { name = "v", type = "INT", nullable = false }]`,
			`[actions.up]`, `table = "o"`, `where = "t.id = o.id"`,
			`values = { id = "o.id", nope = "o.nope" }`),
		want: []string{
			`m/1.toml:9: actions[0].up.values.nope: no column "nope" in columns`,
			`m/1.toml:9: actions[0].up.values: column "v" is NOT NULL without a default: give it a value`,
		},
	},
	{
		name: "invalid index type",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "add_index"`, `table = "t"`, `[actions.index]`, `name = "i"`, `columns = ["a"]`, `type = "rtree"`),
		want: []string{`m/1.toml:7: actions[0].index.type: invalid index type "rtree": use one of btree, hash, gist, gin, spgist, brin`},
	},
	{
		name: "invalid on_delete",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "add_foreign_key"`, `table = "t"`, `[actions.foreign_key]`, `name = "f"`,
			`columns = ["a"]`, `referenced_table = "o"`, `referenced_columns = ["id"]`, `on_delete = "DELETE"`, `on_update = "set null"`),
		want: []string{`m/1.toml:9: actions[0].foreign_key.on_delete: invalid value "DELETE": use one of NO ACTION, RESTRICT, CASCADE, SET NULL, SET DEFAULT`},
	},
	{
		name: "foreign key column counts differ",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "add_foreign_key"`, `table = "t"`, `[actions.foreign_key]`, `name = "f"`,
			`columns = ["a", "b"]`, `referenced_table = "o"`, `referenced_columns = ["id"]`),
		want: []string{`m/1.toml:8: actions[0].foreign_key.referenced_columns: has 1 columns, columns has 2: they must match`},
	},
	{
		name: "alter_enum before and after",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "alter_enum"`, `name = "e"`, `[[actions.add]]`, `value = "v"`, `before = "a"`, `after = "b"`),
		want: []string{`m/1.toml:7: actions[0].add[0].after: give before or after, not both`},
	},
	{
		name: "alter_enum without changes",
		file: "m/1.toml",
		src:  withFirst(`[[actions]]`, `type = "alter_enum"`, `name = "e"`),
		want: []string{`m/1.toml:5: actions[1]: alter_enum needs add or rename`},
	},
	{
		name: "custom without phases",
		file: "m/1.json",
		src:  lines(`{"actions": [`, `  {"type": "custom"}`, `]}`),
		want: []string{`m/1.json:2: actions[0]: custom needs at least one of start, complete, abort`},
	},
	{
		name: "create_enum duplicate value",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "create_enum"`, `name = "e"`, `values = ["a", "b", "a"]`),
		want: []string{`m/1.toml:4: actions[0].values[2]: duplicate value "a" (also values[0])`},
	},
}
