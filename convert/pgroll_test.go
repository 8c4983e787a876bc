package convert

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestPgrollGolden converts the input files of each testdata/pgroll/*.txtar
// (every file not under want/ and not named warnings or error, in archive
// order; a .ledger among them orders them) and compares the output files
// with want/<name>, the warnings with the warnings file, or the error with
// the error file. Convert checks that every output decodes with
// migration.Parse. -update rewrites the expected parts.
func TestPgrollGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/pgroll/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/pgroll/*.txtar")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var inputs []Input
			want := map[string]string{}
			for _, f := range ar.Files {
				switch {
				case strings.HasPrefix(f.Name, "want/"):
					want[strings.TrimPrefix(f.Name, "want/")] = string(f.Data)
				case f.Name == "warnings" || f.Name == "error":
					want[f.Name] = string(f.Data)
				default:
					inputs = append(inputs, Input{Name: f.Name, Data: f.Data})
				}
			}
			got := map[string]string{}
			res, err := Convert(Pgroll, inputs)
			if err != nil {
				got["error"] = err.Error() + "\n"
			} else {
				for _, f := range res.Files {
					got[f.Name] = string(f.Data)
				}
				var w strings.Builder
				for _, x := range res.Warnings {
					w.WriteString(x.String() + "\n")
				}
				if w.Len() > 0 {
					got["warnings"] = w.String()
				}
			}
			if *update {
				var keep []txtar.File
				for _, f := range ar.Files {
					if !strings.HasPrefix(f.Name, "want/") && f.Name != "warnings" && f.Name != "error" {
						keep = append(keep, f)
					}
				}
				names := make([]string, 0, len(got))
				for n := range got {
					names = append(names, n)
				}
				sort.Slice(names, func(i, j int) bool {
					// outputs first, then warnings, then error
					ri, rj := rank(names[i]), rank(names[j])
					if ri != rj {
						return ri < rj
					}
					return names[i] < names[j]
				})
				for _, n := range names {
					name := n
					if n != "warnings" && n != "error" {
						name = "want/" + n
					}
					keep = append(keep, txtar.File{Name: name, Data: []byte(got[n])})
				}
				ar.Files = keep
				if err := os.WriteFile(file, txtar.Format(ar), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s\n(go test ./convert -run TestPgrollGolden -update rewrites it)", file, diff)
			}
		})
	}
}

func rank(n string) int {
	switch n {
	case "warnings":
		return 1
	case "error":
		return 2
	}
	return 0
}

// TestPgrollJSONLines checks the line numbers the JSON decoder gives.
func TestPgrollJSONLines(t *testing.T) {
	src := "{\n  \"operations\": [\n    {\n      \"drop_table\": {\n        \"name\": \"t\",\n        \"extra\": 1\n      }\n    }\n  ]\n}\n"
	n, err := parsePgrollJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	op := n.get("operations").vals[0]
	dt := op.get("drop_table")
	got := []int{n.line, n.get("operations").line, op.line, dt.line, dt.get("name").line, dt.get("extra").line}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestSplitTopLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a WITH =", []string{"a WITH ="}},
		{"room WITH =, tsrange(a, b) WITH &&", []string{"room WITH =", "tsrange(a, b) WITH &&"}},
		{"fillfactor = 70, x = 'a,b'", []string{"fillfactor = 70", "x = 'a,b'"}},
		{"", nil},
	} {
		if diff := cmp.Diff(tc.want, splitTopLevel(tc.in)); diff != "" {
			t.Errorf("splitTopLevel(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
