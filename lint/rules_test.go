package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/stratapg/strata/migration"
)

// The rule tests live in testdata/<CODE>/cases.txtar. Each file of the
// archive is one SQL snippet, linted on its own:
//
//   - files under trigger/ must produce at least one finding of the rule; if
//     lines carry a "-- want" comment, the rule's findings must be exactly on
//     those lines;
//   - files under clean/ must produce no finding of the rule.
//
// A first line "-- test: opt opt..." configures the run: pg=N (PGVersion),
// tx (InTransaction), timeout (AssumeLockTimeout), type:table.col=TYPE
// (ColumnTypes) and notnull:table.col (NotNullColumns).
func TestRules(t *testing.T) {
	for _, r := range Rules() {
		t.Run(r.Code, func(t *testing.T) {
			path := filepath.Join("testdata", r.Code, "cases.txtar")
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatalf("no test cases for %s (%s): %v", r.Code, r.Name, err)
			}
			var triggers, cleans int
			for _, f := range ar.Files {
				f := f
				switch {
				case strings.HasPrefix(f.Name, "trigger/"):
					triggers++
				case strings.HasPrefix(f.Name, "clean/"):
					cleans++
				default:
					t.Fatalf("%s: file %s is neither trigger/ nor clean/", path, f.Name)
				}
				t.Run(f.Name, func(t *testing.T) {
					cfg, err := parseTestConfig(string(f.Data))
					if err != nil {
						t.Fatal(err)
					}
					cfg.Enable = append(cfg.Enable, r.Code)
					var findings []Finding
					if strings.HasSuffix(f.Name, ".toml") {
						// A migration file: the rules of LintMigration.
						m, err := migration.Parse(f.Name, f.Data)
						if err != nil {
							t.Fatal(err)
						}
						findings, err = LintMigration(m, f.Data, cfg)
						if err != nil {
							t.Fatal(err)
						}
					} else {
						findings, err = LintSQL(f.Name, f.Data, cfg)
						if err != nil {
							t.Fatal(err)
						}
					}
					var lines []int // distinct, in order
					for _, fd := range findings {
						if fd.Code == r.Code && !slices.Contains(lines, fd.Line) {
							lines = append(lines, fd.Line)
						}
					}
					if strings.HasPrefix(f.Name, "clean/") {
						if len(lines) > 0 {
							t.Errorf("%s reported on a clean case:\n%s", r.Code, describe(findings, r.Code))
						}
						return
					}
					want := wantLines(string(f.Data))
					if len(want) == 0 {
						if len(lines) == 0 {
							t.Errorf("%s not reported; findings:\n%s", r.Code, describe(findings, ""))
						}
						return
					}
					if !slices.Equal(want, lines) {
						t.Errorf("%s reported on lines %v, want %v; findings:\n%s", r.Code, lines, want, describe(findings, ""))
					}
				})
			}
			if triggers < 3 || cleans < 3 {
				t.Errorf("%s has %d trigger and %d clean cases, want at least 3 of each", path, triggers, cleans)
			}
		})
	}
}

func parseTestConfig(src string) (Config, error) {
	var cfg Config
	first, _, _ := strings.Cut(src, "\n")
	opts, ok := strings.CutPrefix(strings.TrimPrefix(strings.TrimSpace(first), "# "), "-- test:") // "# -- test:" in TOML
	if !ok {
		return cfg, nil
	}
	for _, o := range strings.Fields(opts) {
		switch {
		case o == "tx":
			cfg.InTransaction = true
		case o == "timeout":
			cfg.AssumeLockTimeout = true
		case strings.HasPrefix(o, "pg="):
			v, err := strconv.Atoi(strings.TrimPrefix(o, "pg="))
			if err != nil {
				return cfg, fmt.Errorf("bad test option %q", o)
			}
			cfg.PGVersion = v
		case strings.HasPrefix(o, "type:"):
			k, v, ok := strings.Cut(strings.TrimPrefix(o, "type:"), "=")
			if !ok {
				return cfg, fmt.Errorf("bad test option %q", o)
			}
			if cfg.ColumnTypes == nil {
				cfg.ColumnTypes = map[string]string{}
			}
			cfg.ColumnTypes[k] = v
		case strings.HasPrefix(o, "notnull:"):
			cfg.NotNullColumns = append(cfg.NotNullColumns, strings.TrimPrefix(o, "notnull:"))
		default:
			return cfg, fmt.Errorf("unknown test option %q", o)
		}
	}
	return cfg, nil
}

// wantLines returns the 1-based lines that carry a "-- want" comment.
func wantLines(src string) []int {
	var out []int
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "-- want") {
			out = append(out, i+1)
		}
	}
	return out
}

func describe(findings []Finding, code string) string {
	var b strings.Builder
	for _, f := range findings {
		if code == "" || f.Code == code {
			fmt.Fprintf(&b, "  %d:%d %s %s\n", f.Line, f.Column, f.Code, f.Message)
		}
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// TestEveryRuleDocumented checks the fields every rule must have.
func TestEveryRuleDocumented(t *testing.T) {
	names := map[string]bool{}
	for _, r := range Rules() {
		if r.Code == "" || r.Name == "" || r.Message == "" || r.Why == "" || r.SafeWay == "" || r.Group == "" {
			t.Errorf("%s (%s) lacks a field: %+v", r.Code, r.Name, r)
		}
		switch r.Severity {
		case SeverityError, SeverityWarning, SeverityInfo:
		default:
			t.Errorf("%s has severity %q", r.Code, r.Severity)
		}
		if (r.Severity == SeverityInfo) != (r.Group == GroupHygiene) {
			t.Errorf("%s: severity %s in group %s", r.Code, r.Severity, r.Group)
		}
		if names[r.Name] {
			t.Errorf("duplicate rule name %s", r.Name)
		}
		names[r.Name] = true
		file := filepath.Join(strings.ReplaceAll("rule_"+r.Name, "-", "_") + ".go")
		if _, err := os.Stat(file); err != nil {
			t.Errorf("%s: rule file %s missing", r.Code, file)
		}
	}
}
