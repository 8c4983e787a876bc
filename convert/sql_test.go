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

	"github.com/stratapg/strata/migration"
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

// TestSQLFallbacks checks the statements that stay custom SQL (or are
// dropped), which the lifecycle goldens cannot all show (their SQL is
// unsafe as written and does not lint clean): the action types produced
// and the warning that says why.
func TestSQLFallbacks(t *testing.T) {
	for _, c := range []struct {
		name, sql string
		types     []string
		warn      string // a substring of the only warning; "" for none
	}{
		{"index tablespace", "CREATE INDEX CONCURRENTLY i ON t (a) TABLESPACE fast;", []string{"custom"},
			"add_index has no form for TABLESPACE; kept as custom SQL; strata runs custom SQL in a transaction, where CONCURRENTLY fails"},
		{"drop cascade", "DROP TABLE t CASCADE;", []string{"custom"}, "no form for CASCADE; kept as custom SQL; abort cannot undo it"},
		{"other schema index", "CREATE INDEX i ON audit.t (a);", []string{"custom"}, "audit.t is not in the managed schema (public)"},
		{"identity on existing table", "ALTER TABLE t ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;", []string{"custom"},
			"add_column adds identity and generated columns only to tables created in the same migration"},
		{"identity on new table", "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;", []string{"create_table", "add_column"}, ""},
		{"drop primary key", "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t DROP CONSTRAINT t_pkey;", []string{"create_table", "custom"}, "no form for dropping a primary key"},
		{"add exclusion", "ALTER TABLE t ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&);", []string{"custom"},
			"no form for adding exclusion constraints; kept as custom SQL; abort runs the inverse ALTER TABLE \"t\" DROP CONSTRAINT IF EXISTS \"x\""},
		{"validate unknown", "ALTER TABLE t VALIDATE CONSTRAINT c;", []string{"custom"}, "VALIDATE CONSTRAINT of a constraint this file did not add"},
		{"not valid kept", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;", []string{"add_check"}, "added NOT VALID, but strata validates it at start"},
		{"references without columns", "ALTER TABLE t ADD FOREIGN KEY (u) REFERENCES users;", []string{"custom"},
			"REFERENCES users names no columns"},
		{"partitioned", "CREATE TABLE t (id bigint PRIMARY KEY) PARTITION BY RANGE (id);", []string{"custom"}, "no form for partitioned tables; kept as custom SQL (abort drops what it creates)"},
		{"extension", "CREATE EXTENSION IF NOT EXISTS pg_trgm;", []string{"custom"}, "abort runs the inverse DROP EXTENSION IF EXISTS \"pg_trgm\""},
		{"trigger", "CREATE TRIGGER tg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();", []string{"custom"}, "abort runs the inverse DROP TRIGGER IF EXISTS \"tg\" ON \"t\""},
		{"rename index", "ALTER INDEX i RENAME TO j;", []string{"custom"}, "abort runs the inverse ALTER INDEX IF EXISTS \"j\" RENAME TO \"i\""},
		{"comment on existing table", "COMMENT ON TABLE t IS 'x';", []string{"custom"}, "no strata action for COMMENT ON TABLE of a table the file does not create"},
		{"comment is null", "COMMENT ON COLUMN t.c IS NULL;", []string{"custom"}, "no form for removing a comment"},
		{"statement_timeout", "SET statement_timeout = '1min';\nDROP INDEX i;", []string{"remove_index"}, "dropped: strata sets lock_timeout"},
		{"drop column known not null", "CREATE TABLE t (id bigint PRIMARY KEY, a text NOT NULL);\nALTER TABLE t DROP COLUMN a;", []string{"create_table", "remove_column"},
			"t.a is NOT NULL without a default: strata needs down"},
		{"drop column known nullable", "CREATE TABLE t (id bigint PRIMARY KEY, a text);\nALTER TABLE t DROP COLUMN a;", []string{"create_table", "remove_column"}, ""},
		{"rename then default merged", "ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t ALTER COLUMN b SET DEFAULT 1;", []string{"alter_column"}, ""},
		{"two defaults not merged", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1;\nALTER TABLE t ALTER COLUMN a SET DEFAULT 2;", []string{"alter_column", "alter_column"}, ""},
		{"other column not merged", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1, ALTER COLUMN b SET DEFAULT 2;", []string{"alter_column", "alter_column"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Convert(SQL, []Input{{Name: "m.sql", Data: []byte(c.sql)}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := migrationOf(res.Files[0])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.types, m); diff != "" {
				t.Errorf("action types (-want +got):\n%s\n%s", diff, res.Files[0].Data)
			}
			switch {
			case c.warn == "" && len(res.Warnings) > 0:
				t.Errorf("warnings: %v", res.Warnings)
			case c.warn != "" && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Msg, c.warn)):
				t.Errorf("warnings: %v\nwant one containing %q", res.Warnings, c.warn)
			}
		})
	}
}

func migrationOf(f File) ([]string, error) {
	m, err := migration.Parse(f.Name, f.Data)
	if err != nil {
		return nil, err
	}
	var types []string
	for _, a := range m.Actions {
		types = append(types, a.Type())
	}
	return types, nil
}

// TestSQLErrors checks input that cannot be converted: an error naming the
// file, line and column, and no file.
func TestSQLErrors(t *testing.T) {
	for _, c := range []struct{ name, sql, want string }{
		{"syntax", "ALTER TABLE t ADD COLUMN a text;\nALTER TABLE t TABEL x;\n", "cannot convert m.sql:2:15: syntax error at or near \"TABEL\""},
		{"empty", "-- nothing\n", "cannot convert m.sql: no statement to convert"},
		{"only transaction control", "BEGIN;\nCOMMIT;\n", "cannot convert m.sql: no statement to convert"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Convert(SQL, []Input{{Name: "m.sql", Data: []byte(c.sql)}})
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrNotConvertible) {
				t.Fatalf("got %v, %v; want an error containing %q", res, err, c.want)
			}
		})
	}
}

// TestSQLFileForms checks the files of other tools: golang-migrate's
// NAME.up.sql (converted) and NAME.down.sql (skipped), goose's Up section,
// and names that are not migration names.
func TestSQLFileForms(t *testing.T) {
	res, err := Convert(SQL, []Input{
		{Name: "mig/0001_users.up.sql", Data: []byte("ALTER TABLE users ADD COLUMN a text;\n")},
		{Name: "mig/0001_users.down.sql", Data: []byte("ALTER TABLE users DROP COLUMN a;\n")},
		{Name: "mig/V2__Add-Index.sql", Data: []byte("-- +goose Up\n-- +goose StatementBegin\nDROP INDEX i;\n-- +goose StatementEnd\n\n-- +goose Down\nCREATE INDEX i ON t (a);\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range res.Files {
		names = append(names, f.Name)
		if _, err := migration.Parse(f.Name, f.Data); err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff([]string{"0001_users.toml", "v2__add_index.toml"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].File != "mig/0001_users.down.sql" || !strings.Contains(res.Warnings[0].Msg, "skipped: a down migration") {
		t.Errorf("warnings: %v", res.Warnings)
	}
	types, _ := migrationOf(res.Files[1])
	if diff := cmp.Diff([]string{"remove_index"}, types); diff != "" {
		t.Errorf("goose Up section (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(res.Files[1].Data), "(its goose Up section)") {
		t.Errorf("no note of the goose section:\n%s", res.Files[1].Data)
	}
	if _, err := Convert(SQL, []Input{{Name: "x.down.sql", Data: []byte("SELECT 1;")}}); err == nil || !errors.Is(err, ErrNotConvertible) {
		t.Errorf("only down migrations: %v", err)
	}
}
