package lint

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/lint.md")

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

func goldenFindings(t *testing.T) ([]Finding, map[string][]byte) {
	t.Helper()
	const file = "testdata/golden/input.sql"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := LintSQL(file, src, Config{InTransaction: true})
	if err != nil {
		t.Fatal(err)
	}
	return findings, map[string][]byte{file: src}
}

func TestWriteTextGolden(t *testing.T) {
	findings, sources := goldenFindings(t)
	var buf bytes.Buffer
	if err := WriteText(&buf, findings, sources); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "text.golden"), buf.Bytes())
}

func TestWriteJSONGolden(t *testing.T) {
	findings, _ := goldenFindings(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, findings); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "json.golden"), buf.Bytes())
	var back []Finding
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(findings, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestWriteGitHubGolden(t *testing.T) {
	findings, _ := goldenFindings(t)
	var buf bytes.Buffer
	if err := WriteGitHub(&buf, findings); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "github.golden"), buf.Bytes())
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.HasPrefix(line, "::error file=") && !strings.HasPrefix(line, "::warning file=") && !strings.HasPrefix(line, "::notice file=") {
			t.Errorf("not a workflow command: %q", line)
		}
	}
}

func TestWriteJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "[]\n" {
		t.Errorf("WriteJSON(nil) = %q, want []", got)
	}
}

func TestWriteTextReadsMissingSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.sql")
	src := "SET lock_timeout = '1s';\nDROP INDEX i;\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	findings, err := LintPaths([]string{dir}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, findings, nil); err != nil {
		t.Fatal(err)
	}
	want := file + ":2:1: warning SA011: dropping index \"i\" without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table\n" +
		"  2 | DROP INDEX i;\n" +
		"    | ^\n"
	if !strings.HasPrefix(buf.String(), want) {
		t.Errorf("WriteText =\n%s\nwant prefix\n%s", buf.String(), want)
	}
}

func TestHasErrors(t *testing.T) {
	if HasErrors(nil) || HasErrors([]Finding{{Severity: SeverityWarning}, {Severity: SeverityInfo}}) {
		t.Error("HasErrors without errors")
	}
	if !HasErrors([]Finding{{Severity: SeverityWarning}, {Severity: SeverityError}}) {
		t.Error("HasErrors missed an error")
	}
}

func TestGitHubEscaping(t *testing.T) {
	var buf bytes.Buffer
	err := WriteGitHub(&buf, []Finding{{File: "a,b:c.sql", Line: 1, Column: 2, Code: "SA001", Severity: SeverityInfo, Message: "50% done\nnext"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "::notice file=a%2Cb%3Ac.sql,line=1,col=2,title=SA001::50%25 done%0Anext\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
