package natural

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"2_x", "10_x", true},
		{"10_x", "2_x", false},
		{"001_a", "002_a", true},
		{"9", "10", true},
		{"a2b", "a10a", true},
		{"a10b", "a10c", true},
		{"x", "x", false},
		{"01_a", "1_a", true}, // naturally equal: plain comparison decides
		{"1_a", "01_a", false},
		{"1", "1_a", true},
		{"1_a", "1", false},
		{"", "a", true},
		{"a", "", false},
		{"12345678901234567890_a", "99_a", false},
		{"1_b", "1_a", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" < "+tt.b, func(t *testing.T) {
			if got := Less(tt.a, tt.b); got != tt.want {
				t.Errorf("Less(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestSort(t *testing.T) {
	names := []string{"10_x", "2_x", "1_b", "01_a", "1_a", "100", "002_y", "x"}
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case Less(a, b):
			return -1
		case Less(b, a):
			return 1
		}
		return 0
	})
	want := []string{"01_a", "1_a", "1_b", "2_x", "002_y", "10_x", "100", "x"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("sorted mismatch (-want +got):\n%s", diff)
	}
}
