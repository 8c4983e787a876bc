package drift_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stratapg/strata/drift"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

// peerCorpus holds the Reshape cases of the peer corpus that strata runs
// unchanged (testdata/reshape/README.md says where they come from).
var peerCorpus = filepath.Join("testdata", "reshape")

// TestNoDriftAfterPeerCorpus: every Reshape case strata runs, applied to
// a fresh database as the corpus procedure says (the setup migration, its
// seed rows, then the example with start and complete), leaves a database
// whose structure is exactly what replaying the folder produces.
func TestNoDriftAfterPeerCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("one database per case")
	}
	if d := os.Getenv("STRATA_PEER_CORPUS"); d != "" {
		peerCorpus = d
	}
	cases := peerCases(t, peerCorpus)
	if len(cases) == 0 {
		t.Fatalf("no cases under %s", peerCorpus)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			if got := migrateCase(t, dir); len(got) != 0 {
				t.Errorf("drift on a freshly migrated database:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// peerCases returns the case folders.
func peerCases(t *testing.T, root string) []string {
	t.Helper()
	var cases []string
	for _, group := range []string{"docs", "tests"} {
		ents, err := os.ReadDir(filepath.Join(root, group))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if m, _ := filepath.Glob(filepath.Join(root, group, e.Name(), "*.toml")); e.IsDir() && len(m) > 0 {
				cases = append(cases, filepath.Join(root, group, e.Name()))
			}
		}
	}
	sort.Strings(cases)
	return cases
}

// migrateCase applies one case to a fresh database and returns the drift
// lines.
func migrateCase(t *testing.T, src string) []string {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	dir := t.TempDir()
	m, err := engine.New(db.URL, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	copyCase := func(pattern string) int {
		files, _ := filepath.Glob(filepath.Join(src, pattern))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		return len(files)
	}
	migrate := func(what string) {
		migs, err := m.LoadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if _, err := m.Migrate(ctx, migs); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// A case is a setup (1_*.toml, with seed.sql) and an example
	// (2_*.toml), or one file alone.
	if second, _ := filepath.Glob(filepath.Join(src, "2_*.toml")); len(second) > 0 {
		if copyCase("1_*.toml") > 0 {
			migrate("setup")
		}
		if seed, err := os.ReadFile(filepath.Join(src, "seed.sql")); err == nil {
			db.Exec(t, string(seed))
		}
		copyCase("2_*.toml")
	} else {
		copyCase("*.toml")
	}
	migrate("example")

	migs, err := m.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Replay(ctx, migs, "")
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if len(rep.Pending) != 0 {
		t.Fatalf("pending after migrate: %v", rep.Pending)
	}
	live, _, err := m.Structure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range drift.Compare(rep.Schema, live) {
		lines = append(lines, d.String())
	}
	return lines
}
