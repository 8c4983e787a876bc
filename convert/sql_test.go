package convert

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// The -update flag rewrites the expected sections of the goldens. Another
// test file of the package may define it too; it is defined here only when
// it is not yet.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// SQLGolden is one testdata/sql/<shape>.txtar case: input.sql converted
// (as <shape>.sql) gives output.toml and warnings.txt. setup.sql, old.sql
// and new.sql are for the lifecycle walk in test/convertsql.
type SQLGolden struct {
	Shape    string
	Path     string
	Archive  *txtar.Archive
	Input    string
	Output   string
	Warnings string
}

// Section returns the named section's text ("" when absent).
func (g *SQLGolden) Section(name string) string {
	for _, f := range g.Archive.Files {
		if f.Name == name {
			return string(f.Data)
		}
	}
	return ""
}

func loadSQLGoldens(t *testing.T) []*SQLGolden {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "sql", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*SQLGolden
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		g := &SQLGolden{Shape: strings.TrimSuffix(filepath.Base(p), ".txtar"), Path: p, Archive: a}
		g.Input = g.Section("input.sql")
		g.Output = g.Section("output.toml")
		g.Warnings = g.Section("warnings.txt")
		if g.Input == "" {
			t.Fatalf("%s: no input.sql section", p)
		}
		out = append(out, g)
	}
	return out
}

func setSection(a *txtar.Archive, name, data string) {
	for i := range a.Files {
		if a.Files[i].Name == name {
			a.Files[i].Data = []byte(data)
			return
		}
	}
	a.Files = append(a.Files, txtar.File{Name: name, Data: []byte(data)})
}

// TestSQLGoldens converts every testdata/sql/*.txtar input and compares the
// migration file and the warnings with the expected ones.
func TestSQLGoldens(t *testing.T) {
	goldens := loadSQLGoldens(t)
	if len(goldens) < 25 {
		t.Errorf("%d SQL goldens, want at least 25 statement shapes", len(goldens))
	}
	for _, g := range goldens {
		t.Run(g.Shape, func(t *testing.T) {
			res, err := Convert(SQL, []Input{{Name: g.Shape + ".sql", Data: []byte(g.Input)}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 1 || res.Files[0].Name != g.Shape+".toml" {
				t.Fatalf("files: %+v", res.Files)
			}
			gotOut := string(res.Files[0].Data)
			var ws []string
			for _, w := range res.Warnings {
				ws = append(ws, w.String()+"\n")
			}
			gotWarn := strings.Join(ws, "")
			if updating() {
				setSection(g.Archive, "output.toml", gotOut)
				setSection(g.Archive, "warnings.txt", gotWarn)
				if err := os.WriteFile(g.Path, txtar.Format(g.Archive), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(g.Output, gotOut); diff != "" {
				t.Errorf("output.toml (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(g.Warnings, gotWarn); diff != "" {
				t.Errorf("warnings.txt (-want +got):\n%s", diff)
			}
		})
	}
}
