package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteSARIFGolden(t *testing.T) {
	findings, _ := goldenFindings(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, findings, SARIFOptions{ToolVersion: "1.2.3-test", BaseDir: wd}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "sarif.golden"), buf.Bytes())
	checkSARIF(t, buf.Bytes(), len(findings))
}

// checkSARIF checks the fields SARIF 2.1.0 and GitHub code scanning require,
// decoding the log generically (not with the writer's own types).
func checkSARIF(t *testing.T, data []byte, wantResults int) {
	t.Helper()
	var log map[string]any
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	str := func(m any, path ...string) string {
		t.Helper()
		for _, p := range path {
			mm, ok := m.(map[string]any)
			if !ok {
				t.Errorf("%s: not an object", strings.Join(path, "."))
				return ""
			}
			m = mm[p]
		}
		s, _ := m.(string)
		if s == "" {
			t.Errorf("%s: missing or empty", strings.Join(path, "."))
		}
		return s
	}
	num := func(m any, path ...string) int {
		t.Helper()
		for _, p := range path {
			m = m.(map[string]any)[p]
		}
		f, ok := m.(float64)
		if !ok {
			t.Errorf("%s: not a number", strings.Join(path, "."))
		}
		return int(f)
	}
	if v := str(log, "version"); v != "2.1.0" {
		t.Errorf("version %q, want 2.1.0", v)
	}
	str(log, "$schema")
	runs, _ := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	run := runs[0]
	if got := str(run, "tool", "driver", "name"); got != "strata" {
		t.Errorf("driver name %q", got)
	}
	str(run, "tool", "driver", "version")
	str(run, "tool", "driver", "informationUri")
	if got := str(run, "columnKind"); got != "unicodeCodePoints" {
		t.Errorf("columnKind %q", got)
	}
	docs, err := os.ReadFile(filepath.Join("..", "docs", "lint.md"))
	if err != nil {
		t.Fatal(err)
	}
	levels := []string{"error", "warning", "note"}
	rules, _ := run.(map[string]any)["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)
	if len(rules) != len(allRules) {
		t.Errorf("%d rules, want %d", len(rules), len(allRules))
	}
	var ids []string
	for _, r := range rules {
		id := str(r, "id")
		ids = append(ids, id)
		str(r, "shortDescription", "text")
		if l := str(r, "defaultConfiguration", "level"); !slices.Contains(levels, l) {
			t.Errorf("rule %s: level %q", id, l)
		}
		help := str(r, "helpUri")
		anchor, ok := strings.CutPrefix(help, DocsURL+"#")
		if !ok {
			t.Errorf("rule %s: helpUri %q not on %s", id, help, DocsURL)
		}
		// The anchor GitHub makes of the rule's heading in docs/lint.md.
		heading := fmt.Sprintf("\n### %s %s\n", id, str(r, "name"))
		if !bytes.Contains(docs, []byte(heading)) || anchor != strings.ToLower(strings.ReplaceAll(strings.TrimSpace(heading[5:]), " ", "-")) {
			t.Errorf("rule %s: helpUri anchor %q does not match a heading %q of docs/lint.md", id, anchor, strings.TrimSpace(heading))
		}
	}
	results, _ := run.(map[string]any)["results"].([]any)
	if len(results) != wantResults {
		t.Errorf("%d results, want %d", len(results), wantResults)
	}
	for i, r := range results {
		id := str(r, "ruleId")
		if idx := num(r, "ruleIndex"); idx < 0 || idx >= len(ids) || ids[idx] != id {
			t.Errorf("result %d: ruleIndex %d does not point at %s", i, idx, id)
		}
		if l := str(r, "level"); !slices.Contains(levels, l) {
			t.Errorf("result %d: level %q", i, l)
		}
		str(r, "message", "text")
		locs, _ := r.(map[string]any)["locations"].([]any)
		if len(locs) != 1 {
			t.Fatalf("result %d: %d locations", i, len(locs))
		}
		uri := str(locs[0], "physicalLocation", "artifactLocation", "uri")
		if strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "..") || strings.Contains(uri, ":") {
			t.Errorf("result %d: uri %q is not relative to the working folder", i, uri)
		}
		if n := num(locs[0], "physicalLocation", "region", "startLine"); n < 1 {
			t.Errorf("result %d: startLine %d", i, n)
		}
		if n := num(locs[0], "physicalLocation", "region", "startColumn"); n < 1 {
			t.Errorf("result %d: startColumn %d", i, n)
		}
	}
}

func TestWriteSARIFEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, nil, SARIFOptions{ToolVersion: "x"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"results": []`) {
		t.Errorf("no findings should give an empty results array, got\n%s", buf.String())
	}
	checkSARIF(t, buf.Bytes(), 0)
}

func TestFileURI(t *testing.T) {
	base := filepath.FromSlash("/work/project")
	for _, tc := range []struct{ file, base, want string }{
		{"migrations/001.sql", "", "migrations/001.sql"},
		{filepath.FromSlash("/work/project/migrations/001.sql"), base, "migrations/001.sql"},
		{filepath.FromSlash("/work/project/a b%.sql"), base, "a%20b%25.sql"},
		{filepath.FromSlash("/work/other/x.sql"), base, "file:///work/other/x.sql"},
		{filepath.FromSlash("/work/project2/x.sql"), base, "file:///work/project2/x.sql"},
		{filepath.FromSlash("/abs/x.sql"), "", "file:///abs/x.sql"},
		{"db:1.sql", "", "./db:1.sql"},
	} {
		if got := fileURI(tc.file, tc.base); got != tc.want {
			t.Errorf("fileURI(%q, %q) = %q, want %q", tc.file, tc.base, got, tc.want)
		}
	}
}

// TestWriteSARIFMatchesEncodingJSON: the hand-written SARIF writer writes
// what encoding/json writes for the same document, byte for byte.
func TestWriteSARIFMatchesEncodingJSON(t *testing.T) {
	golden, _ := goldenFindings(t)
	odd := "quote\" <b> & \n\t\x01 é \u2028 bad\xff"
	for _, tc := range []struct {
		name     string
		findings []Finding
		opts     SARIFOptions
	}{
		{"none", nil, SARIFOptions{}},
		{"golden", golden, SARIFOptions{ToolVersion: "v1"}},
		{"escapes", []Finding{{File: odd, Line: 3, Column: 4, Code: "SA001", Severity: SeverityError, Message: odd},
			{File: "x.sql", Line: 1, Column: 1, Code: "SA101", Severity: SeverityInfo, Message: "m"}}, SARIFOptions{ToolVersion: odd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := WriteSARIF(&got, tc.findings, tc.opts); err != nil {
				t.Fatal(err)
			}
			// The same document, through encoding/json.
			doc := sarifDoc(tc.findings, tc.opts)
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(doc); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("WriteSARIF differs from encoding/json (-want +got):\n%s", diff)
			}
			if len(doc.Runs) != 1 || len(doc.Runs[0].Results) != len(tc.findings) || len(doc.Runs[0].Tool.Driver.Rules) != len(allRules) {
				t.Errorf("decoded %d runs", len(doc.Runs))
			}
		})
	}
}
