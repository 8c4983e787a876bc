package migration

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestNaturalLess: migration's order is internal/natural's (tested there
// case by case).
func TestNaturalLess(t *testing.T) {
	for _, p := range [][2]string{{"2_x", "10_x"}, {"01_a", "1_a"}, {"1", "1_a"}, {"1_a", "1_b"}} {
		if !NaturalLess(p[0], p[1]) || NaturalLess(p[1], p[0]) {
			t.Errorf("NaturalLess(%q, %q): want %q first", p[0], p[1], p[0])
		}
	}
}

func TestNaturalLessSort(t *testing.T) {
	names := []string{"10_x", "2_x", "1_b", "01_a", "1_a", "100", "002_y", "x"}
	slices.SortFunc(names, naturalCmp)
	want := []string{"01_a", "1_a", "1_b", "2_x", "002_y", "10_x", "100", "x"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("sorted mismatch (-want +got):\n%s", diff)
	}
}

func action(table string) string {
	return "[[actions]]\ntype = \"remove_table\"\ntable = \"" + table + "\"\n"
}

func jsonAction(table string) string {
	return `{"actions": [{"type": "remove_table", "table": "` + table + `"}]}`
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/10_ten.toml":        {Data: []byte(action("t10"))},
		"migrations/2_two.json":         {Data: []byte(jsonAction("t2"))},
		"migrations/1_one.toml":         {Data: []byte(action("t1"))},
		"migrations/README.md":          {Data: []byte("not a migration")},
		"migrations/.hidden.toml":       {Data: []byte("garbage")},
		"migrations/notes.txt":          {Data: []byte("x")},
		"migrations/sub/3_three.toml":   {Data: []byte(action("t3"))},
		"migrations/dir.toml/x.toml":    {Data: []byte(action("x"))},
		"migrations/renamed_file.toml":  {Data: []byte("name = \"3_three\"\n" + action("t3"))},
		"other/4_elsewhere.toml":        {Data: []byte(action("t4"))},
		"migrations/11_eleven.toml.bak": {Data: []byte("garbage")},
		// Plain .sql migrations load too; golang-migrate's .down.sql not.
		"migrations/5_five.sql":     {Data: []byte("CREATE TABLE t5 (id int);\n")},
		"migrations/6_six.down.sql": {Data: []byte("garbage")},
	}
	ms, err := Load(fsys, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+" "+m.File)
	}
	want := []string{
		"1_one migrations/1_one.toml",
		"2_two migrations/2_two.json",
		"5_five migrations/5_five.sql",
		"10_ten migrations/10_ten.toml",
		// Ordered by its file name; the name key only labels it.
		"3_three migrations/renamed_file.toml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
	if ms[1].Lines["actions[0].table"] != 1 {
		t.Errorf("JSON lines not filled: %v", ms[1].Lines)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		dir  string
		want []string
	}{
		{
			name: "duplicate names",
			fsys: fstest.MapFS{
				"m/1_a.toml": {Data: []byte(action("a"))},
				"m/2_b.toml": {Data: []byte("name = \"1_a\"\n" + action("b"))},
				"m/1_a.json": {Data: []byte(jsonAction("c"))},
			},
			dir: "m",
			want: []string{
				`m/1_a.toml: name: duplicate migration name "1_a": m/1_a.json has the same name`,
				`m/2_b.toml:1: name: duplicate migration name "1_a": m/1_a.json has the same name`,
			},
		},
		{
			name: "errors of all files, by file then line",
			fsys: fstest.MapFS{
				"m/10_c.toml": {Data: []byte(action("") + "x = 1\n")},
				"m/2_b.json":  {Data: []byte("{\n\"actions\": []}")},
				"m/1_a.toml":  {Data: []byte(action("ok"))},
			},
			dir: "m",
			want: []string{
				`m/2_b.json:2: actions: must not be empty: a migration needs at least one action`,
				`m/10_c.toml:3: actions[0].table: must not be empty`,
				`m/10_c.toml:4: actions[0].x: unknown key`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(tt.fsys, tt.dir)
			if err == nil {
				t.Fatalf("Load succeeded with %d migrations", len(ms))
			}
			if ms != nil {
				t.Errorf("Load returned migrations with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			if diff := cmp.Diff(strings.Join(tt.want, "\n"), err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	_, err := Load(fstest.MapFS{}, "migrations")
	if err == nil || errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error that is not ErrInvalid", err)
	}
	if got, want := err.Error(), "read folder migrations: open migrations: file does not exist"; got != want {
		t.Errorf("err = %q, want %q (no package prefix)", got, want)
	}
}

func TestLoadEmptyDir(t *testing.T) {
	ms, err := Load(fstest.MapFS{"m/readme.md": {Data: []byte("x")}}, "m")
	if err != nil || len(ms) != 0 {
		t.Fatalf("Load = %v, %v; want no migrations and no error", ms, err)
	}
}

func TestLoadDot(t *testing.T) {
	ms, err := Load(fstest.MapFS{"1_a.toml": {Data: []byte(action("a"))}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].File != "1_a.toml" {
		t.Fatalf("Load(.) = %+v", ms)
	}
}
