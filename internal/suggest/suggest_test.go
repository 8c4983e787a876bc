package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"table", "table", 0},
		{"tabel", "table", 1}, {"nmae", "name", 1}, {"strat", "start", 1},
		{"nulable", "nullable", 1}, {"kitten", "sitting", 3}, {"añadir", "anadir", 1},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	types := []string{"add_column", "alter_column", "create_table", "drop_column", "rename_column", "remove_column"}
	for _, c := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"add_colum", types, "add_column"},
		{"ADD_COLUMN", types, "add_column"},
		{"create_tabel", types, "create_table"},
		{"frobnicate", types, ""},
		{"tabel", []string{"table", "column", "up"}, "table"},
		{"uo", []string{"table", "column", "up"}, "up"},
		{"xy", []string{"table", "column", "up"}, ""},
		{"table", []string{"table"}, ""},
	} {
		if got := Closest(c.name, c.cands); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
