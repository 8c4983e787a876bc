package convert

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the expected output of convert's golden files")

// TestReshapeGolden: each testdata/reshape/*.txtar holds input files
// (in/NAME), the converted files (out/NAME), and the warnings (warnings),
// or the error (error) when the input cannot be converted. -update rewrites
// the expected parts.
func TestReshapeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/reshape/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var inputs []Input
			for _, f := range ar.Files {
				if name, ok := strings.CutPrefix(f.Name, "in/"); ok {
					inputs = append(inputs, Input{Name: name, Data: f.Data})
				}
			}
			got := &txtar.Archive{Comment: ar.Comment}
			for _, f := range ar.Files {
				if strings.HasPrefix(f.Name, "in/") {
					got.Files = append(got.Files, f)
				}
			}
			res, err := Convert(Reshape, inputs)
			if err != nil {
				if !errors.Is(err, ErrNotConvertible) {
					t.Errorf("error %v does not match ErrNotConvertible", err)
				}
				got.Files = append(got.Files, txtar.File{Name: "error", Data: []byte(err.Error() + "\n")})
			} else {
				for _, f := range res.Files {
					got.Files = append(got.Files, txtar.File{Name: "out/" + f.Name, Data: f.Data})
				}
				var w strings.Builder
				for _, x := range res.Warnings {
					w.WriteString(x.String() + "\n")
				}
				got.Files = append(got.Files, txtar.File{Name: "warnings", Data: []byte(w.String())})
			}
			if *update {
				if err := os.WriteFile(file, txtar.Format(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(string(txtar.Format(ar)), string(txtar.Format(got))); diff != "" {
				t.Errorf("%s mismatch (-want +got; go test ./convert -run TestReshapeGolden -update rewrites it):\n%s", file, diff)
			}
		})
	}
}
