package pgquery

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
)

// addSQLSeeds adds every SQL file of the linter's rule cases
// (lint/testdata/*/cases.txtar) as a seed.
func addSQLSeeds(f *testing.F) {
	archives, err := filepath.Glob(filepath.Join("..", "..", "lint", "testdata", "*", "cases.txtar"))
	if err != nil || len(archives) == 0 {
		f.Fatalf("no seed archives: %v", err)
	}
	for _, a := range archives {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			f.Add(string(file.Data))
		}
	}
	for _, s := range []string{"", ";", "$$", "$a$ x $b$", "/* /* */", "'", `"`, "E'\\", "BEGIN ATOMIC", "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END;"} {
		f.Add(s)
	}
}

// FuzzParseTolerant checks that the statement splitter never panics and
// never hangs, and that its statements and errors lie inside the source, in
// order, without overlapping.
func FuzzParseTolerant(f *testing.F) {
	addSQLSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		pf := ParseTolerant(src)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("ParseTolerant of %d bytes took %s", len(src), d)
		}
		end := 0
		for i, s := range pf.Statements {
			if s.Index != i || s.Pos.Offset < end || s.End < s.Pos.Offset || s.End > len(src) {
				t.Fatalf("statement %d (index %d) at [%d, %d): overlaps the previous one (ending at %d) or lies outside the source (%d bytes)",
					i, s.Index, s.Pos.Offset, s.End, end, len(src))
			}
			if s.Text != src[s.Pos.Offset:s.End] {
				t.Fatalf("statement %d: Text %q is not the source at [%d, %d)", i, s.Text, s.Pos.Offset, s.End)
			}
			end = s.End
		}
		for _, e := range pf.Errors {
			if e.Pos.Offset < 0 || e.Pos.Offset > len(src) {
				t.Fatalf("error %q at offset %d outside the source (%d bytes)", e.Message, e.Pos.Offset, len(src))
			}
		}
		if _, err := Parse(src); err == nil && len(pf.Errors) > 0 {
			t.Fatalf("Parse succeeds where ParseTolerant reports %d errors", len(pf.Errors))
		}
	})
}
