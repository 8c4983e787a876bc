package lint

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
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
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{FormatVersion: 1, Findings: findings}, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

// TestWriteReportMatchesEncodingJSON: the hand-written encoder writes what
// encoding/json's MarshalIndent writes, byte for byte, for findings with
// every kind of character that needs escaping.
func TestWriteReportMatchesEncodingJSON(t *testing.T) {
	golden, _ := goldenFindings(t)
	odd := "quote\" back\\slash <html> & \n\r\t\b\f \x00\x01\x1f\x7f é 日本 \u2028\u2029 bad\xff\xfe utf8 \U0001F600"
	for _, tc := range []struct {
		name string
		r    Report
	}{
		{"empty", Report{}},
		{"nil findings with version", Report{PGVersion: 17}},
		{"golden", Report{PGVersion: 15, Findings: golden}},
		{"escapes", Report{Findings: []Finding{{File: odd, Line: 1, Column: 2, Code: odd, Rule: odd, Severity: odd,
			Message: odd, Why: odd, SafeWay: odd, Statement: odd}, {File: "b.sql"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := WriteReport(&got, tc.r); err != nil {
				t.Fatal(err)
			}
			want := tc.r
			want.FormatVersion = JSONFormatVersion
			if want.Findings == nil {
				want.Findings = []Finding{}
			}
			b, err := json.MarshalIndent(want, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(b)+"\n", got.String()); diff != "" {
				t.Errorf("WriteReport differs from encoding/json (-want +got):\n%s", diff)
			}
		})
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
	if got, want := buf.String(), "{\n  \"format_version\": 1,\n  \"findings\": []\n}\n"; got != want {
		t.Errorf("WriteJSON(nil) = %q, want %q", got, want)
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

// TestWriteGitHubOverflow: past GitHub's 10 annotations of each type per
// step, findings go to the log as plain lines, and a summary notice (itself
// within the notice limit) counts them; no finding is lost.
func TestWriteGitHubOverflow(t *testing.T) {
	var findings []Finding
	sev := []string{SeverityError, SeverityWarning, SeverityError, SeverityInfo}
	for i := range 27 {
		s := sev[i%len(sev)]
		findings = append(findings, Finding{File: "m.sql", Line: i + 1, Column: 1, Code: fmt.Sprintf("SA%03d", i),
			Severity: s, Message: fmt.Sprintf("finding %d\nsecond line", i), Why: "why " + s, SafeWay: "safe way"})
	}
	// 14 errors, 7 warnings, 6 notices: 4 errors over the limit.
	var buf bytes.Buffer
	if err := WriteGitHub(&buf, findings); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "github_overflow.golden"), buf.Bytes())
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if kind, _, ok := strings.Cut(line, " file="); ok && strings.HasPrefix(kind, "::") {
			count[kind]++
		}
	}
	want := map[string]int{"::error": 10, "::warning": 7, "::notice": 6}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("annotations per type (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(buf.String(), "::notice::4 more findings not annotated (GitHub shows 10 of each type per step): see the log\n") {
		t.Errorf("no summary notice at the end:\n%s", buf.String())
	}
	for _, f := range findings {
		if !strings.Contains(buf.String(), fmt.Sprintf("finding %d", f.Line-1)) {
			t.Errorf("finding %d lost", f.Line-1)
		}
	}
}

// TestWriteGitHubNoticeRoom: with 10 info findings and an overflow
// elsewhere, only 9 are annotated so that the summary notice is the tenth.
func TestWriteGitHubNoticeRoom(t *testing.T) {
	for _, tc := range []struct {
		errors, notices        int
		wantNotices, wantPlain int
	}{
		{errors: 10, notices: 10, wantNotices: 10, wantPlain: 0},
		{errors: 11, notices: 10, wantNotices: 9, wantPlain: 2},
		{errors: 0, notices: 11, wantNotices: 9, wantPlain: 2},
	} {
		t.Run(fmt.Sprintf("%d errors %d notices", tc.errors, tc.notices), func(t *testing.T) {
			var findings []Finding
			for range tc.errors {
				findings = append(findings, Finding{File: "a.sql", Line: 1, Column: 1, Code: "SA001", Severity: SeverityError, Message: "e"})
			}
			for range tc.notices {
				findings = append(findings, Finding{File: "a.sql", Line: 1, Column: 1, Code: "SA101", Severity: SeverityInfo, Message: "n"})
			}
			var buf bytes.Buffer
			if err := WriteGitHub(&buf, findings); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			notices := strings.Count(out, "::notice file=")
			summary := strings.Count(out, "::notice::")
			plain := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "a.sql:1:1: ") {
					plain++
				}
			}
			if notices+summary > GitHubAnnotationLimit || notices != tc.wantNotices || plain != tc.wantPlain {
				t.Errorf("notices %d + summary %d, plain lines %d; want notices %d, plain %d:\n%s", notices, summary, plain, tc.wantNotices, tc.wantPlain, out)
			}
			if (plain > 0) != (summary == 1) {
				t.Errorf("summary notices %d with %d plain lines", summary, plain)
			}
		})
	}
}
