// Package archtest checks that strata's import arrows point down: each
// package may import only the strata packages listed for it below, and
// nothing on the runtime path links the linter.
package archtest

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/stratapg/strata/"

// allowed lists, for every package of the module (by its path below the
// module), the strata packages its non-test files may import. The layers,
// top to bottom:
//
//	cmd, bench, examples, test      programs and end-to-end tests
//	cli                             the command line (cobra, terminal)
//	internal/planreport             plan annotated with locks and lint findings
//	engine                          the runner: load, plan, start, complete, abort
//	planner                         migrations + catalog -> plan, behind a Prober
//	state                           strata's own schema (phase, history, checkpoints)
//	sqlrun                          runs plain .sql migrations (no linter: the CLI gates)
//	scenario                        what-if scenario branches (schema + role + filtered copies)
//	lint                            the lock-safety linter
//	backfill                        batched backfills and their checkpoints
//	migration, pglock               migration files; the lock classifier
//	plan, pgquery, pgexec, natural  leaves (and pgerr, suggest)
//
// A package missing from this table fails the test: add it where it
// belongs.
var allowed = map[string][]string{
	"plan":                {},
	"internal/pgquery":    {},
	"internal/pgexec":     {},
	"internal/natural":    {},
	"internal/pgerr":      {},
	"internal/suggest":    {},
	"internal/pgcluster":  {},
	"internal/pgdist":     {},
	"internal/doctest":    {},
	"internal/pgbouncer":  {"internal/pgcluster"},
	"internal/pgtest":     {"internal/pgcluster"},
	"pglock":              {"internal/pgquery"},
	"migration":           {"internal/pgquery", "internal/natural", "internal/suggest"},
	"backfill":            {"plan", "internal/pgexec"},
	"lint":                {"pglock", "migration", "internal/pgquery"},
	"state":               {"backfill", "internal/natural"},
	"planner":             {"internal/suggest", "plan", "migration", "pglock", "internal/pgquery", "internal/pgexec", "backfill"},
	"sqlrun":              {"migration", "internal/pgexec", "internal/pgquery"},
	"catalog":             {},
	"dump":                {"catalog"},
	"drift":               {"catalog"},
	"doctor":              {"catalog"},
	"engine":              {"internal/pgerr", "planner", "plan", "state", "backfill", "migration", "internal/pgexec", "internal/pgquery", "sqlrun", "catalog", "dump", "doctor"},
	"internal/planreport": {"plan", "pglock", "lint", "backfill"},
	"foreign":             {"internal/pgerr", "internal/pgexec", "internal/pgquery"},
	"scenario":            {"internal/pgerr", "internal/pgexec", "internal/pgquery"},
	"internal/config":     {"foreign", "migration", "internal/suggest"},
	"convert":             {"migration", "internal/pgquery"},
	"cli":                 {"internal/pgerr", "internal/suggest", "engine", "convert", "lint", "internal/planreport", "plan", "migration", "backfill", "state", "foreign", "internal/config", "catalog", "dump", "drift", "doctor", "scenario"},
}

// programs may import anything but the linter (cmd/strata reaches it
// through cli).
var programs = []string{"cmd/", "bench", "examples/", "test/"}

// lintUsers are the only packages that may import lint.
var lintUsers = map[string]bool{"cli": true, "internal/planreport": true}

func TestImportsPointDown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if f.Name.Name == "main" && rel == "internal/pgquery" {
			return nil // the node generator (go:build ignore)
		}
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) {
				imports[rel][strings.TrimPrefix(p, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
}

// TestViolationsAreFound feeds the checker arrows that point up.
func TestViolationsAreFound(t *testing.T) {
	imports := map[string]map[string]bool{
		"state":    {"migration": true},                        // sideways into migration
		"backfill": {"state": true},                            // up
		"planner":  {"lint": true, "plan": true},               // the linter on the runtime path
		"plan":     {},                                         // fine
		"cmd/x":    {"lint": true},                             // programs go through cli
		"newpkg":   {"plan": true},                             // not in the table
		"cli":      {"engine": true, "lint": true},             // fine
		"engine":   {"planner": true, "pglock": true},          // pglock is the planner's
		"lint":     {"pglock": true, "internal/pgquery": true}, // fine
	}
	got := violations(imports)
	want := []string{
		"backfill imports state",
		"cmd/x imports lint",
		"engine imports pglock",
		"package newpkg is not in the layer table",
		"planner imports lint",
		"state imports migration",
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("no violation reported for %q; got %q", w, got)
		}
	}
	for _, g := range got {
		for _, fine := range []string{"plan imports", "cli imports", "lint imports"} {
			if strings.HasPrefix(g, fine) {
				t.Errorf("reported a fine arrow: %s", g)
			}
		}
	}
}

// violations lists the arrows of imports (package -> strata packages its
// non-test files import) that break the layer table.
func violations(imports map[string]map[string]bool) []string {
	var out []string
	var pkgs []string
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		var deps []string
		for d := range imports[pkg] {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		if isProgram(pkg) {
			if imports[pkg]["lint"] {
				out = append(out, pkg+" imports lint: programs reach it through cli")
			}
			continue
		}
		if imports[pkg]["lint"] && !lintUsers[pkg] {
			out = append(out, fmt.Sprintf("%s imports lint: only %v may (the runtime path must not link the linter)", pkg, keys(lintUsers)))
		}
		ok, known := allowed[pkg]
		if !known {
			out = append(out, fmt.Sprintf("package %s is not in the layer table of internal/archtest: add it with the packages it may import", pkg))
			continue
		}
		set := map[string]bool{}
		for _, o := range ok {
			set[o] = true
		}
		for _, dep := range deps {
			if !set[dep] && !(dep == "lint" && lintUsers[pkg]) {
				out = append(out, fmt.Sprintf("%s imports %s, which it may not (allowed: %v): arrows point down", pkg, dep, ok))
			}
		}
	}
	return out
}

// TestTableCoversEveryLayer keeps the table honest: every package it names
// exists.
func TestTableCoversEveryLayer(t *testing.T) {
	for pkg := range allowed {
		if _, err := os.Stat(filepath.Join("../..", filepath.FromSlash(pkg))); err != nil {
			t.Errorf("layer table names %s, which does not exist", pkg)
		}
	}
}

func isProgram(pkg string) bool {
	for _, p := range programs {
		if pkg == strings.TrimSuffix(p, "/") || strings.HasPrefix(pkg, p) {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
