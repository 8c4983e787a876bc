package migration

import (
	"errors"
	"strings"
	"testing"
)

// Syntax errors in SQL fragments are found by Validate (which the engine
// runs on every migration it loads), with the file, line and key, before
// anything touches a database. Parse leaves them to Validate, so that
// strata lint can report them as findings.
func TestSQLFragments(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // error lines; none for a valid file
	}{{
		name: "valid fragments",
		src: `
[[actions]]
type = "create_table"
name = "t"
primary_key = ["id"]
  [[actions.columns]]
  name = "id"
  type = "bigint"
  generated = "BY DEFAULT AS IDENTITY (START WITH 10)"
  [[actions.columns]]
  name = "at"
  type = "timestamp with time zone"
  default = "now()"
  [[actions.columns]]
  name = "g"
  type = "numeric(12,2)"
  generated = "ALWAYS AS (id * 2) STORED"
  [[actions.checks]]
  expression = "at > '2020-01-01' AND g IS NOT NULL"

[[actions]]
type = "add_index"
table = "t"
  [actions.index]
  name = "t_idx"
  columns = ["at", "(lower(g::text))"]
  where = "g > 0 -- comment"

[[actions]]
type = "custom"
start = """
CREATE INDEX CONCURRENTLY IF NOT EXISTS x ON t (at);
SELECT 1;
"""
`,
	}, {
		name: "expressions",
		src: `
[[actions]]
type = "alter_column"
table = "t"
column = "c"
up = "c::numeric("
down = "c::text; DROP TABLE t"
  [actions.changes]
  type = "numeric(12,2"
  default = "0) OR (1"

[[actions]]
type = "add_check"
table = "t"
  [actions.check]
  name = "c1"
  expression = "a >"

[[actions]]
type = "add_index"
table = "t"
  [actions.index]
  name = "i"
  columns = ["a", "(lower(a)"]
  where = "a IS NOT NULL b"
`,
		want: []string{
			`m/1_x.toml:6: actions[0].up: invalid SQL expression "c::numeric(": syntax error at end of input (line 1, column 12 of the SQL)`,
			`m/1_x.toml:7: actions[0].down: invalid SQL expression "c::text; DROP TABLE t": must be one expression: more than one statement`,
			`m/1_x.toml:9: actions[0].changes.type: invalid SQL type "numeric(12,2": syntax error at end of input (line 1, column 13 of the SQL)`,
			`m/1_x.toml:10: actions[0].changes.default: invalid SQL expression "0) OR (1": syntax error at or near ")" (line 1, column 2 of the SQL)`,
			`m/1_x.toml:17: actions[1].check.expression: invalid SQL expression "a >": syntax error at end of input (line 1, column 4 of the SQL)`,
			`m/1_x.toml:24: actions[2].index.columns[1]: invalid SQL expression "(lower(a)": syntax error at end of input (line 1, column 10 of the SQL)`,
			`m/1_x.toml:25: actions[2].index.where: invalid SQL expression "a IS NOT NULL b": must be one expression: "b" follows it`,
		},
	}, {
		name: "columns and values",
		src: `
[[actions]]
type = "add_column"
table = "t"
up = "coalesce(a,"
  [actions.column]
  name = "c"
  type = "text not null"
  default = "'x"

[[actions]]
type = "remove_column"
table = "t"
column = "c"
  [actions.down]
  table = "o"
  value = "o.c +"
  where = "o.id = t.id AND"

[[actions]]
type = "create_table"
name = "n"
primary_key = ["id"]
  [[actions.columns]]
  name = "id"
  type = "int); DROP TABLE x; --"
  generated = "ALWAYS AS IDENTITY STORED"
`,
		want: []string{
			`m/1_x.toml:5: actions[0].up: invalid SQL expression "coalesce(a,": syntax error at end of input (line 1, column 12 of the SQL)`,
			`m/1_x.toml:8: actions[0].column.type: invalid SQL type "text not null": a type, not a column constraint (notnull)`,
			`m/1_x.toml:9: actions[0].column.default: invalid SQL expression "'x": unterminated quoted string at or near "'x" (line 1, column 1 of the SQL)`,
			`m/1_x.toml:17: actions[1].down.value: invalid SQL expression "o.c +": syntax error at end of input (line 1, column 6 of the SQL)`,
			`m/1_x.toml:18: actions[1].down.where: invalid SQL expression "o.id = t.id AND": must be one expression: "and" follows it`,
			`m/1_x.toml:26: actions[2].columns[0].type: invalid SQL type "int); DROP TABLE x; --": syntax error at or near ")" (line 1, column 23 of the SQL)`,
			`m/1_x.toml:27: actions[2].columns[0].generated: invalid generated clause "ALWAYS AS IDENTITY STORED": syntax error at or near "STORED" (write what follows GENERATED, e.g. "ALWAYS AS IDENTITY" or "ALWAYS AS (a + b) STORED")`,
		},
	}, {
		name: "exclusion constraints and index columns",
		src: `
[[actions]]
type = "create_table"
name = "n"
primary_key = ["id"]
columns = [{ name = "id", type = "int" }]
exclude = [{ elements = ["id WITH", "id WITH =); DROP TABLE x; ALTER TABLE t ADD EXCLUDE (id WITH =", { expression = "id +", operator = "=" }], where = "id >" }]

[[actions]]
type = "add_index"
table = "t"
index = { name = "i", columns = [{ expression = "lower(a" }] }
`,
		want: []string{
			`m/1_x.toml:7: actions[0].exclude[0].elements[0]: invalid SQL "EXCLUDE (id WITH\n)": syntax error at or near ")" (line 2, column 1 of the SQL)`,
			`m/1_x.toml:7: actions[0].exclude[0].elements[1]: invalid SQL "EXCLUDE (id WITH =); DROP TABLE x; ALTER TABLE t ADD EXCLUDE...": 3 statements, want exactly one`,
			`m/1_x.toml:7: actions[0].exclude[0].elements[2].expression: invalid SQL expression "id +": syntax error at end of input (line 1, column 5 of the SQL)`,
			`m/1_x.toml:7: actions[0].exclude[0].where: invalid SQL expression "id >": syntax error at end of input (line 1, column 5 of the SQL)`,
			`m/1_x.toml:12: actions[1].index.columns[0].expression: invalid SQL expression "lower(a": syntax error at end of input (line 1, column 8 of the SQL)`,
		},
	}, {
		name: "custom",
		src: `
[[actions]]
type = "custom"
start = """
CREATE INDEX x ON t (a);
CREAT INDEX y ON t (b);
"""
abort = "DROP INDEX IF EXISTS x"
`,
		want: []string{
			`m/1_x.toml:4: actions[0].start: invalid SQL: syntax error at or near "CREAT" (line 2, column 1 of the SQL)`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("m/1_x.toml", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = m.Validate("public")
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
