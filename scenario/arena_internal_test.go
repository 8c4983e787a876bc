package scenario

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestArenaChanges: changes made from one arena (more than a block of
// values and columns) keep their own values: nothing a later change
// writes shows through an earlier one.
func TestArenaChanges(t *testing.T) {
	tab := &tableInfo{Name: "s", Key: []string{"id"}, Cols: []column{{Name: "id"}, {Name: "a"}, {Name: "b"}}}
	var a arena
	var got []Change
	const n = 3 * arenaBlock
	for i := range n {
		id := []byte(strconv.Itoa(i))
		old := [][]byte{id, []byte("a" + strconv.Itoa(i)), []byte("same")}
		upd := [][]byte{id, []byte("A" + strconv.Itoa(i)), []byte("same")}
		switch i % 3 {
		case 0: // update of one column
			c, err := a.change(tab, [][]byte{id}, true, true, old, upd)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		case 1: // insert, b NULL
			c, err := a.change(tab, [][]byte{id}, false, true, nil, [][]byte{id, upd[1], nil})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		default: // delete
			c, err := a.change(tab, [][]byte{id}, true, false, old, nil)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		}
	}
	s := func(v string) *string { return &v }
	for i, c := range got {
		id := strconv.Itoa(i)
		want := Change{Table: "s", Key: map[string]string{"id": id}}
		switch i % 3 {
		case 0:
			want.Op, want.Columns = "update", []ColumnChange{{Column: "a", Old: s("a" + id), New: s("A" + id)}}
		case 1:
			want.Op, want.Columns = "insert", []ColumnChange{{Column: "id", New: s(id)}, {Column: "a", New: s("A" + id)}, {Column: "b"}}
		default:
			want.Op, want.Columns = "delete", []ColumnChange{{Column: "id", Old: s(id)}, {Column: "a", Old: s("a" + id)}, {Column: "b", Old: s("same")}}
		}
		if d := cmp.Diff(want, c); d != "" {
			t.Fatalf("change %d (-want +got):\n%s", i, d)
		}
	}
}

// TestTextArrayMalformed: a truncated array is an error, not a panic.
func TestTextArrayMalformed(t *testing.T) {
	// ARRAY['ab', NULL]::text[] in binary form.
	good := []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 'a', 'b', 0xff, 0xff, 0xff, 0xff}
	got, err := textArray(good, nil)
	if err != nil || len(got) != 2 || string(got[0]) != "ab" || got[1] != nil {
		t.Fatalf("textArray(good) = %q, %v", got, err)
	}
	for _, n := range []int{4, 11, 19, 22, 25} {
		if _, err := textArray(good[:n], nil); err == nil {
			t.Errorf("textArray of the first %d bytes: no error", n)
		}
	}
}
