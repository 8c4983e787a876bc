package pglock

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/lock_table.md")

// TestLockTable checks that testdata/lock_table.md, the table of statements
// and their locks that docs/lint.md shows (lint's TestDocs copies it there),
// is what renderLockTable makes of classifyCases; go test -update rewrites
// it.
func TestLockTable(t *testing.T) {
	path := filepath.Join("testdata", "lock_table.md")
	got := renderLockTable()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it, then go test ./lint -update):\n%s", path, diff)
	}
}

func renderLockTable() string {
	var b strings.Builder
	b.WriteString("| Statement | Locks (relation: mode, effect) |\n|---|---|\n")
	for _, c := range classifyCases {
		var locks []string
		for _, l := range c.want {
			locks = append(locks, fmt.Sprintf("%s: %s, %s", l.Relation, l.Mode, l.Effect()))
		}
		if len(locks) == 0 {
			locks = []string{"none"}
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", strings.ReplaceAll(c.sql, "|", "\\|"), strings.Join(locks, "; "))
	}
	return b.String()
}
