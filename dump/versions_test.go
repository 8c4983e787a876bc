package dump_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgcluster"
	"github.com/stratapg/strata/internal/pgdist"
)

var update = flag.Bool("update", false, "rewrite testdata/pg14_vs_pg18.diff")

// versionsGolden lists the lines by which the dump of the same migrations
// differs between PostgreSQL 14 (-) and 18 (+); docs/dump-drift.md says why
// each differs.
const versionsGolden = "testdata/pg14_vs_pg18.diff"

// TestDumpAcrossServerVersions applies the same migrations (the round-trip
// schema as .sql migrations, then expand/contract migrations) with strata
// to a PostgreSQL 14 and a PostgreSQL 18 cluster, dumps both, and checks
// that they differ by exactly the known lines.
func TestDumpAcrossServerVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two private clusters")
	}
	ctx := context.Background()
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "versions"), dir)
	// The schema first, on its own: a .sql migration runs with the managed
	// schema as its search_path. And the check validated: strata refuses
	// a .sql migration that leaves a constraint NOT VALID.
	rich := RichSchema
	for _, r := range [][2]string{{"CREATE SCHEMA app;\n", ""}, {"CHECK (room < 1000) NOT VALID;", "CHECK (room < 1000);"}} {
		if !strings.Contains(rich, r[0]) {
			t.Fatalf("RichSchema no longer has %q", r[0])
		}
		rich = strings.Replace(rich, r[0], r[1], 1)
	}
	for name, body := range map[string]string{"000_app.sql": "CREATE SCHEMA app;\n", "001_rich.sql": rich} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	dumps := map[int]string{}
	for _, major := range []int{14, 18} {
		bin, err := pgdist.BinDir(ctx, major)
		if errors.Is(err, pgdist.ErrUnavailable) {
			if os.Getenv("CI") == "true" {
				// .ci/run fetches them (go run ./cmd/pgdist) before the tests.
				t.Fatalf("PostgreSQL %d binaries unavailable under CI=true: %v", major, err)
			}
			t.Skipf("SKIPPED LOUDLY: PostgreSQL %d binaries unavailable: %v\n  (fetch them with `go run ./cmd/pgdist`)", major, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := pgcluster.Start(ctx, pgcluster.Options{BinDir: bin})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Stop() })
		if c.Major() != major {
			t.Fatalf("%s started PostgreSQL %s, want %d", bin, c.Version(), major)
		}
		m, err := engine.New(c.URL("postgres"), engine.Options{Schema: "app"})
		if err != nil {
			t.Fatal(err)
		}
		migs, err := m.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrate(ctx, migs); err != nil {
			t.Fatalf("PostgreSQL %d: migrate: %v", major, err)
		}
		dumps[major] = dumpOf(t, c.URL("postgres"), "app")
		for _, want := range []string{`CREATE TABLE app.tags`, `CREATE INDEX tags_label`, `remark character varying(200)`, "-- 003_index"} {
			if !strings.Contains(dumps[major], want) {
				t.Errorf("PostgreSQL %d: the dump lacks %q", major, want)
			}
		}
	}
	got := lineDiff(dumps[14], dumps[18])
	if *update {
		if err := os.WriteFile(versionsGolden, []byte(got), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(versionsGolden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("PostgreSQL 14 and 18 dumps differ other than by %s (-known +now); "+
			"if the difference is real, run with -update and say why in docs/dump-drift.md:\n%s\n"+
			"PostgreSQL 14 dump:\n%s", versionsGolden, diff, dumps[14])
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

// lineDiff returns the lines only in a ("-") and only in b ("+"), in
// order, from a longest common subsequence of the two: no context lines,
// so the list changes only when a difference does.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("-" + x[i] + "\n")
			i++
		default:
			out.WriteString("+" + y[j] + "\n")
			j++
		}
	}
	return out.String()
}
