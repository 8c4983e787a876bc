package lint

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzLintSQL checks that the linter never panics or hangs on any text, and
// that every finding is well formed: a known rule, a severity, and a
// position inside the file.
func FuzzLintSQL(f *testing.F) {
	archives, err := filepath.Glob(filepath.Join("testdata", "*", "cases.txtar"))
	if err != nil || len(archives) == 0 {
		f.Fatalf("no seed archives: %v", err)
	}
	for _, a := range archives {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			f.Add(string(file.Data), strings.Contains(file.Name, "no-tx"))
		}
	}
	f.Add("-- strata:ignore SA001,SA002 reason\nALTER TABLE t ADD COLUMN c int NOT NULL;", true)
	f.Add("-- strata:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);", true)
	f.Fuzz(func(t *testing.T, src string, inTx bool) {
		start := time.Now()
		findings, err := LintSQL("f.sql", []byte(src), Config{PGVersion: DefaultPGVersion, InTransaction: inTx, EnableInfo: true})
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("LintSQL of %d bytes took %s", len(src), d)
		}
		if err != nil {
			t.Fatalf("LintSQL: %v", err)
		}
		lines := strings.Count(src, "\n") + 1
		for _, fd := range findings {
			if _, ok := registry[fd.Code]; !ok || fd.File != "f.sql" || fd.Message == "" {
				t.Fatalf("bad finding %+v", fd)
			}
			if fd.Severity != SeverityError && fd.Severity != SeverityWarning && fd.Severity != SeverityInfo {
				t.Fatalf("finding %s: severity %q", fd.Code, fd.Severity)
			}
			if fd.Line < 1 || fd.Line > lines || fd.Column < 1 {
				t.Fatalf("finding %s at %d:%d outside the file (%d lines)", fd.Code, fd.Line, fd.Column, lines)
			}
		}
	})
}
