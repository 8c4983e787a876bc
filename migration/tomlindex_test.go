package migration

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTOMLIndex(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want map[string]int
	}{
		{
			name: "plain and dotted keys",
			src: lines(
				`name = "x"`,
				`a.b.c = 1`,
				`a . d = 2`,
			),
			want: map[string]int{"name": 1, "a": 2, "a.b": 2, "a.b.c": 2, "a.d": 3},
		},
		{
			name: "quoted keys",
			src: lines(
				`"a.b" = 1`,
				`'lit key' = 2`,
				`"esc\u0041\t" = 3`,
				`x."y z".w = 4`,
			),
			want: map[string]int{`"a.b"`: 1, `"lit key"`: 2, `"escA\t"`: 3, "x": 4, `x."y z"`: 4, `x."y z".w`: 4},
		},
		{
			name: "inline tables",
			src: lines(
				`[[actions]]`,
				`column = { name = "a", b = { c = 2, d = [1, 2] } }`,
				`changes.type = "INT"`,
			),
			want: map[string]int{
				"actions": 1, "actions[0]": 1,
				"actions[0].column": 2, "actions[0].column.name": 2, "actions[0].column.b": 2,
				"actions[0].column.b.c": 2, "actions[0].column.b.d": 2,
				"actions[0].column.b.d[0]": 2, "actions[0].column.b.d[1]": 2,
				"actions[0].changes": 3, "actions[0].changes.type": 3,
			},
		},
		{
			name: "inline table over several lines",
			src: lines(
				`t = {`,
				`  a = 1, # comment = { x = 1 }`,
				``,
				`  b = "}",`,
				`}`,
				`u = 1`,
			),
			want: map[string]int{"t": 1, "t.a": 2, "t.b": 4, "u": 6},
		},
		{
			name: "array of inline tables",
			src: lines(
				`columns = [`,
				`  { name = "a", type = "INT" },`,
				`  # { name = "commented" },`,
				`  { name = "b",`,
				`    type = "TEXT" },`,
				`]`,
				`after = [[1, 2], [3]]`,
			),
			want: map[string]int{
				"columns": 1, "columns[0]": 2, "columns[0].name": 2, "columns[0].type": 2,
				"columns[1]": 4, "columns[1].name": 4, "columns[1].type": 5,
				"after": 7, "after[0]": 7, "after[0][0]": 7, "after[0][1]": 7, "after[1]": 7, "after[1][0]": 7,
			},
		},
		{
			name: "nested arrays of tables",
			src: lines(
				`[[actions]]`,
				`type = "create_table"`,
				`  [[actions.columns]]`,
				`  name = "a"`,
				`  [[actions.columns]]`,
				`  name = "b"`,
				`  [actions.up]`,
				`  table = "s"`,
				`[[actions]]`,
				`  [[actions.columns]]`,
				`  name = "c"`,
				`  [ actions . "up" ]`,
				`  [actions.up.values]`,
				`  c = "1"`,
			),
			want: map[string]int{
				"actions": 1, "actions[0]": 1, "actions[0].type": 2,
				"actions[0].columns": 3, "actions[0].columns[0]": 3, "actions[0].columns[0].name": 4,
				"actions[0].columns[1]": 5, "actions[0].columns[1].name": 6,
				"actions[0].up": 7, "actions[0].up.table": 8,
				"actions[1]": 9, "actions[1].columns": 10, "actions[1].columns[0]": 10, "actions[1].columns[0].name": 11,
				"actions[1].up": 12, "actions[1].up.values": 13, "actions[1].up.values.c": 14,
			},
		},
		{
			name: "multi-line strings are skipped",
			src: lines(
				`a = """`,
				`b = 1`,
				`[not.a.table]`,
				`quote \""" still inside`,
				`"""`,
				`c = '''`,
				`d = 2 ''' `,
				`e = """x""""`,
				`f = '''y'''''`,
				`g = """line \`,
				`  continued"""`,
				`h = 1`,
			),
			want: map[string]int{"a": 1, "c": 6, "e": 8, "f": 9, "g": 10, "h": 12},
		},
		{
			name: "comments and strings with special characters",
			src: lines(
				`# x = 1`,
				`a = "# not = a comment" # y = 2`,
				`b = 'it''s'`,
				`  # [table]`,
				`c = "x\"y = 3"`,
			),
			want: map[string]int{"a": 2, "b": 3, "c": 5},
		},
		{
			name: "dates and numbers in arrays",
			src: lines(
				`d = [1979-05-27 07:32:00Z, 1979-05-27, 07:32:00, 1_000, -1.5e3, inf, true]`,
				`e = 1`,
			),
			want: map[string]int{
				"d": 1, "d[0]": 1, "d[1]": 1, "d[2]": 1, "d[3]": 1, "d[4]": 1, "d[5]": 1, "d[6]": 1, "e": 2,
			},
		},
		{
			name: "crlf line endings and bom",
			src:  "\xef\xbb\xbfa = 1\r\n\r\n[t]\r\nb = 2\r\n",
			want: map[string]int{"a": 1, "t": 3, "t.b": 4},
		},
		{
			name: "garbage does not stop indexing",
			src: lines(
				`= 1`,
				`y = { = }`,
				`z = 3`,
			),
			want: map[string]int{"y": 2, "z": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _, _ := tomlIndex(tt.src)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tomlIndex mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTOMLIndexOrder(t *testing.T) {
	_, order, _, _ := tomlIndex(lines(`b = 1`, `a = { z = 1, y = 2 }`, `[c]`, `x = 1`))
	want := []string{"b", "a", "a.z", "a.y", "c", "c.x"}
	for i, k := range want {
		if order[k] != i {
			t.Errorf("order[%q] = %d, want %d", k, order[k], i)
		}
	}
}

// treePaths returns the key path of every key and array element in o.
func treePaths(v any, path string, out []string) []string {
	switch v := v.(type) {
	case *object:
		for _, k := range v.keys {
			p := joinKey(path, k)
			out = append(treePaths(v.vals[k], p, out), p)
		}
	case []any:
		for i, e := range v {
			p := joinIndex(path, i)
			out = append(treePaths(e, p, out), p)
		}
	}
	return out
}

// Every key the TOML parser sees must have a line in the index.
func checkIndexComplete(t *testing.T, src []byte) {
	t.Helper()
	root, lines, fatal := treeFromTOML("f.toml", src)
	if fatal != nil {
		return
	}
	for _, p := range treePaths(root, "", nil) {
		if _, ok := lines[p]; !ok {
			t.Errorf("key %s has no line in the index of:\n%s", p, src)
		}
	}
}

func TestTOMLIndexComplete(t *testing.T) {
	for _, f := range []string{"split_relation.toml", "all_actions.toml"} {
		t.Run(f, func(t *testing.T) {
			checkIndexComplete(t, readFixture(t, f))
		})
	}
}
