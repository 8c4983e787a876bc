package lint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/migration"
)

func TestConfigEnabled(t *testing.T) {
	rule := func(code string) Rule { return registry[code].Rule }
	cases := []struct {
		cfg  Config
		code string
		want bool
	}{
		{Config{}, "SA001", true},
		{Config{}, "SA103", false},
		{Config{EnableInfo: true}, "SA103", true},
		{Config{Enable: []string{"SA103"}}, "SA103", true},
		{Config{Enable: []string{"prefer-timestamptz"}}, "SA103", true},
		{Config{Enable: []string{"hygiene"}}, "SA106", true},
		{Config{Enable: []string{"all"}}, "SA106", true},
		{Config{Enable: []string{"hygiene"}}, "SA104", true},
		{Config{Disable: []string{"sa001"}}, "SA001", false},
		{Config{Disable: []string{"compat"}}, "SA018", false},
		{Config{Disable: []string{"compat"}}, "SA001", true},
		{Config{Enable: []string{"SA103"}, Disable: []string{"hygiene"}}, "SA103", false},
		{Config{Disable: []string{"all"}}, "SA000", false},
	}
	for _, c := range cases {
		if got := c.cfg.Enabled(rule(c.code)); got != c.want {
			t.Errorf("%+v: Enabled(%s) = %v, want %v", c.cfg, c.code, got, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Enable: []string{"SA999"}},
		{Disable: []string{"nonsense"}},
		{PGVersion: 3},
		{ColumnTypes: map[string]string{"nodot": "int"}},
		{ColumnTypes: map[string]string{"t.c": "not a type ("}},
	} {
		_, err := LintSQL("m.sql", []byte("SELECT 1"), cfg)
		if err == nil || strings.HasPrefix(err.Error(), "lint: ") { // an error, without a package prefix
			t.Errorf("LintSQL with %+v: error %v", cfg, err)
		}
	}
	if _, err := LintPaths([]string{"does-not-exist"}, Config{}); err == nil {
		t.Error("LintPaths of a missing path: no error")
	}
}

// TestLintPathsUnreadableFileHidesNothing is the regression test for one
// file that cannot be read (here larger than migration.MaxFileSize) making
// LintPaths return no finding of the others.
func TestLintPathsUnreadableFileHidesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.sql", "c.sql"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("CREATE INDEX i ON t (x);\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := filepath.Join(dir, "b.sql")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, migration.MaxFileSize+1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	findings, err := LintPaths([]string{dir}, Config{})
	var me *migration.Error
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "b.sql") {
		t.Fatalf("error %v, want a *migration.Error naming b.sql", err)
	}
	files := map[string]bool{}
	for _, f := range findings {
		files[filepath.Base(f.File)] = true
	}
	if !files["a.sql"] || !files["c.sql"] {
		t.Errorf("findings of %v, want a.sql's and c.sql's too", files)
	}
}

func TestLintPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The first file creates the table; the second, a later migration, sees
	// it as existing, with the column types the first one declared.
	first := write("migrations/001_create.sql", "CREATE TABLE users (id bigint, name varchar(20), score int);\nCREATE INDEX ON users (name);\n")
	second := write("migrations/002_alter.sql", "SET lock_timeout = '1s';\n"+
		"ALTER TABLE users ALTER COLUMN name TYPE varchar(50);\n"+
		"ALTER TABLE users ALTER COLUMN score TYPE bigint;\n"+
		"SELEC 1;\n")
	write("migrations/notes.txt", "not SQL")
	extra := write("other/extra.psql", "DROP INDEX users_name_idx;\n")
	got, err := LintPaths([]string{filepath.Join(dir, "migrations"), extra}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	type loc struct {
		File string
		Line int
		Code string
	}
	var locs []loc
	for _, f := range got {
		locs = append(locs, loc{f.File, f.Line, f.Code})
	}
	want := []loc{
		{second, 3, "SA004"},
		{second, 4, "SA000"},
		{extra, 1, "SA011"},
		{extra, 1, "SA015"},
	}
	if diff := cmp.Diff(want, locs); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, f := range got {
		if f.Code == "SA004" && !strings.Contains(f.Message, "integer is not binary coercible to bigint") {
			t.Errorf("SA004 message = %q", f.Message)
		}
	}
	_ = first
}

func TestNoTransactionDirective(t *testing.T) {
	src := "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n"
	got, err := LintSQL("m.sql", []byte(src), Config{InTransaction: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("findings: %v", shorten(got))
	}
}

func TestFindingFields(t *testing.T) {
	src := "SET lock_timeout = '1s';\n  ALTER TABLE users\n    ADD COLUMN n int NOT NULL;\n"
	got, err := LintSQL("m.sql", []byte(src), Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := registry["SA003"]
	want := []Finding{{
		File: "m.sql", Line: 3, Column: 16, Code: "SA003", Rule: r.Name, Severity: SeverityError,
		Message:   `adding NOT NULL column "n" without a DEFAULT to table "users" fails if the table has rows`,
		Why:       r.Why,
		SafeWay:   r.SafeWay,
		Statement: "ALTER TABLE users\n    ADD COLUMN n int NOT NULL",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestRulesOrderAndCopy(t *testing.T) {
	rs := Rules()
	for i := 1; i < len(rs); i++ {
		if rs[i-1].Code >= rs[i].Code {
			t.Errorf("Rules not ordered: %s before %s", rs[i-1].Code, rs[i].Code)
		}
	}
	rs[0].Severity = "changed"
	if Rules()[0].Severity == "changed" {
		t.Error("Rules returns the registry itself")
	}
}

// TestRobustPrefixes lints every prefix of a varied file: partial statements,
// unterminated strings and comments must give findings, never a panic.
func TestRobustPrefixes(t *testing.T) {
	var all strings.Builder
	for _, r := range Rules() {
		data, err := os.ReadFile(filepath.Join("testdata", r.Code, "cases.txtar"))
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
	}
	src := all.String()
	step := max(1, len(src)/400) // about 400 prefixes
	if step%2 == 0 {
		step++
	}
	if testing.Short() {
		step *= 4
	}
	for i := 0; i <= len(src); i += step {
		if _, err := LintSQL("p.sql", []byte(src[:i]), Config{EnableInfo: true, InTransaction: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"", "   ", "-- only a comment", "/* unterminated", ";;;", "\x00", "SELECT $$", "BEGIN"} {
		if _, err := LintSQL("e.sql", []byte(s), Config{}); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}
