package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func ptr[T any](v T) *T { return &v }

// readFixture returns testdata/name.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustParse parses src as file and fails the test on error.
func mustParse(t *testing.T, file, src string) *Migration {
	t.Helper()
	m, err := Parse(file, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	return m
}

// The spec's example: split a 1:N relation into an N:M junction table.
var splitRelationActions = []Action{
	&CreateTable{
		Name: "account_users",
		Columns: []Column{
			{Name: "account_id", Type: "INTEGER", Nullable: true},
			{Name: "user_id", Type: "INTEGER", Nullable: true},
			{Name: "role", Type: "TEXT", Nullable: false},
		},
		PrimaryKey: []string{"account_id", "user_id"},
		Up: &TableUp{
			Table: "users",
			Values: []ColumnValue{
				{Column: "user_id", Expr: "id"},
				{Column: "account_id", Expr: "account_id"},
				{Column: "role", Expr: "account_role"},
			},
			Where: "account_users.user_id = users.id",
		},
	},
	&RemoveColumn{
		Table:  "users",
		Column: "account_id",
		Down:   &Value{Table: "account_users", Expr: "account_users.account_id", Where: "users.id = account_users.user_id"},
	},
	&RemoveColumn{
		Table:  "users",
		Column: "account_role",
		Down:   &Value{Table: "account_users", Expr: "account_users.role", Where: "users.id = account_users.user_id"},
	},
}

func TestParseSpecExample(t *testing.T) {
	for _, fixture := range []string{"split_relation.toml", "split_relation.json"} {
		t.Run(fixture, func(t *testing.T) {
			data := readFixture(t, fixture)
			file := "migrations/007_" + fixture
			m, err := Parse(file, data)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			want := &Migration{
				Name:     "007_split_relation",
				File:     file,
				Checksum: hex.EncodeToString(sum[:]),
				Actions:  splitRelationActions,
				Kind:     strings.TrimPrefix(path.Ext(fixture), "."),
			}
			if diff := cmp.Diff(want, m, cmpopts.IgnoreFields(Migration{}, "Lines")); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			if err := m.Validate("public"); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestParseSpecExampleLines(t *testing.T) {
	m := mustParse(t, "x.toml", string(readFixture(t, "split_relation.toml")))
	want := map[string]int{
		"actions[0]":                     1,
		"actions[0].type":                2,
		"actions[0].primary_key":         4,
		"actions[0].primary_key[1]":      4,
		"actions[0].columns[0]":          5,
		"actions[0].columns[2].name":     12,
		"actions[0].columns[2].nullable": 14,
		"actions[0].up":                  15,
		"actions[0].up.values.role":      17,
		"actions[1]":                     20,
		"actions[1].down":                24,
		"actions[2].down.where":          36,
	}
	for k, l := range want {
		if got := m.Lines[k]; got != l {
			t.Errorf("Lines[%q] = %d, want %d", k, got, l)
		}
	}
	j := mustParse(t, "x.json", string(readFixture(t, "split_relation.json")))
	wantJSON := map[string]int{
		"actions":                        2,
		"actions[0]":                     3,
		"actions[0].type":                4,
		"actions[0].primary_key[1]":      6,
		"actions[0].columns[2]":          10,
		"actions[0].columns[2].nullable": 10,
		"actions[0].up.values.role":      14,
		"actions[2].down.where":          35,
	}
	for k, l := range wantJSON {
		if got := j.Lines[k]; got != l {
			t.Errorf("JSON Lines[%q] = %d, want %d", k, got, l)
		}
	}
}

var allActions = []Action{
	&CreateTable{
		Name: "accounts",
		Columns: []Column{
			{Name: "id", Type: "BIGINT", Nullable: false, Generated: "ALWAYS AS IDENTITY"},
			{Name: "owner_id", Type: "BIGINT", Nullable: false},
			{Name: "slug", Type: "TEXT", Nullable: true, Default: ptr("''"), Comment: ptr("URL name")},
		},
		Comment:        ptr("one per owner"),
		PrimaryKey:     []string{"id"},
		PrimaryKeyName: "accounts_pk",
		ForeignKeys: []ForeignKey{{
			Name: "accounts_owner_fk", Columns: []string{"owner_id"},
			ReferencedTable: "users", ReferencedColumns: []string{"id"},
			OnDelete: "CASCADE", OnUpdate: "NO ACTION",
			Match: "FULL", Deferrable: true, InitiallyDeferred: true,
		}},
		Checks: []Check{{Name: "slug_lower", Expression: "slug = lower(slug)", NoInherit: true}},
		Unique: []Unique{{Name: "accounts_slug_key", Columns: []string{"slug"}, Include: []string{"owner_id"},
			NullsNotDistinct: true, Deferrable: true, StorageParameters: []Param{{Name: "fillfactor", Value: "80"}}}},
		Exclude: []Exclude{
			{
				Name: "accounts_no_twin", Method: "gist",
				Elements: []ExcludeElement{
					{IndexColumn: IndexColumn{Column: "owner_id"}, Operator: "="},
					{IndexColumn: IndexColumn{Expression: "lower(slug)", Opclass: "text_ops"}, Operator: "="},
				},
				Where: "slug <> ''", Include: []string{"id"},
				StorageParameters: []Param{{Name: "buffering", Value: "auto", Quoted: true}},
				Deferrable:        true, InitiallyDeferred: true,
			},
			{Elements: []ExcludeElement{{Raw: "slug WITH ="}}},
		},
		Up: &TableUp{
			Table:  "users",
			Values: []ColumnValue{{Column: "owner_id", Expr: "id"}, {Column: "slug", Expr: "lower(users.name)"}},
			Where:  "accounts.owner_id = users.id",
		},
	},
	&AddColumn{
		Table:  "users",
		Column: Column{Name: "email_lower", Type: "TEXT", Nullable: false},
		Up:     &Value{Expr: "lower(email)"},
	},
	&AddColumn{
		Table:  "users",
		Column: Column{Name: "plan", Type: "TEXT", Nullable: true},
		Up:     &Value{Table: "accounts", Expr: "accounts.plan", Where: "accounts.owner_id = users.id"},
	},
	&AlterColumn{
		Table:  "users",
		Column: "age",
		Changes: ColumnChanges{
			Name: ptr("age_years"), Type: ptr("INTEGER"), Nullable: ptr(false),
			Default: ptr("0"), Comment: ptr("in years"),
		},
		Up:   "COALESCE(age::integer, 0)",
		Down: "age_years::text",
	},
	&RemoveColumn{Table: "users", Column: "legacy", Down: &Value{Expr: "'x'"}},
	&RenameTable{Table: "people", NewName: "persons"},
	&RemoveTable{Table: "old_stuff"},
	&AddIndex{Table: "users", Index: Index{
		Name: "users_email_idx",
		Columns: []IndexColumn{
			{Column: "email"}, {Expression: "(lower(name))"},
			{Column: "name", Opclass: "text_pattern_ops", Collate: "C", Sort: "desc", Nulls: "last"},
			{Expression: "age + 1", Opclass: "my_ops", OpclassParameters: []Param{
				{Name: "siglen", Value: "32"}, {Name: "fast", Value: "true"}, {Name: "ratio", Value: "0.5"}, {Name: "mode", Value: "x", Quoted: true}}},
		},
		Unique: true, NullsNotDistinct: true,
		Method: "gin", Where: "deleted_at IS NULL", Include: []string{"id"},
		StorageParameters: []Param{{Name: "fillfactor", Value: "70"}, {Name: "deduplicate_items", Value: "false"}},
	}},
	&RemoveIndex{Index: "users_old_idx"},
	&AddForeignKey{Table: "posts", ForeignKey: ForeignKey{
		Name: "posts_author_fk", Columns: []string{"author_id"},
		ReferencedTable: "users", ReferencedColumns: []string{"id"}, OnDelete: "SET NULL",
	}},
	&RemoveForeignKey{Table: "posts", ForeignKey: "posts_old_fk"},
	&AddCheck{Table: "users", Check: Check{Name: "age_positive", Expression: "age > 0"}},
	&RemoveCheck{Table: "users", Check: "age_old_check"},
	&AddUnique{Table: "users", Unique: Unique{Name: "users_email_key", Columns: []string{"email", "name"}, Include: []string{"id"},
		NullsNotDistinct: true, Deferrable: true, InitiallyDeferred: true, StorageParameters: []Param{{Name: "fillfactor", Value: "90"}}}},
	&AddPrimaryKey{Table: "logs", PrimaryKey: PrimaryKey{Name: "logs_pkey", Columns: []string{"id"}, Include: []string{"at"},
		StorageParameters: []Param{{Name: "fillfactor", Value: "100"}}}},
	&RenameConstraint{Table: "users", Constraint: "age_positive", NewName: "users_age_positive"},
	&RemoveConstraint{Table: "users", Constraint: "users_old_key"},
	&SetReplicaIdentity{Table: "users", Identity: "index", Index: "users_email_key"},
	&CreateEnum{Name: "mood", Values: []string{"sad", "ok", "happy"}},
	&AlterEnum{
		Name:   "mood",
		Add:    []EnumValueAdd{{Value: "meh", After: "ok"}, {Value: "awful", Before: "sad"}},
		Rename: []EnumRename{{From: "happy", To: "glad"}},
	},
	&RemoveEnum{Enum: "old_mood"},
	&Custom{Start: "CREATE EXTENSION IF NOT EXISTS pg_trgm", Complete: "SELECT 1;\n", Abort: "SELECT 2"},
}

func TestParseAllActions(t *testing.T) {
	for _, fixture := range []string{"all_actions.toml", "all_actions.json"} {
		t.Run(fixture, func(t *testing.T) {
			m := mustParse(t, fixture, string(readFixture(t, fixture)))
			if m.Name != "003_everything" || m.Description != "covers every action" {
				t.Errorf("Name, Description = %q, %q", m.Name, m.Description)
			}
			if diff := cmp.Diff(allActions, m.Actions); diff != "" {
				t.Errorf("Actions mismatch (-want +got):\n%s", diff)
			}
			seen := map[string]bool{}
			for _, a := range m.Actions {
				seen[a.Type()] = true
			}
			for _, typ := range ActionTypes() {
				if !seen[typ] {
					t.Errorf("fixture lacks a %s action", typ)
				}
			}
		})
	}
}

// Each action type on its own, in both formats.
func TestParseEachAction(t *testing.T) {
	for i, want := range allActions {
		typ := want.Type()
		t.Run(typ, func(t *testing.T) {
			tomlSrc := readFixture(t, "all_actions.toml")
			jsonSrc := readFixture(t, "all_actions.json")
			tm := mustParse(t, "a.toml", string(tomlSrc))
			jm := mustParse(t, "a.json", string(jsonSrc))
			for _, m := range []*Migration{tm, jm} {
				if diff := cmp.Diff(want, m.Actions[i]); diff != "" {
					t.Errorf("%s: %s mismatch (-want +got):\n%s", m.File, typ, diff)
				}
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		file string
		src  string
		want Action
	}{
		{
			name: "add_column nullable defaults to true",
			file: "1.toml",
			src:  "[[actions]]\ntype = \"add_column\"\ntable = \"t\"\ncolumn = { name = \"c\", type = \"TEXT\" }\n",
			want: &AddColumn{Table: "t", Column: Column{Name: "c", Type: "TEXT", Nullable: true}},
		},
		{
			name: "add_column not null with default needs no up",
			file: "1.json",
			src:  `{"actions":[{"type":"add_column","table":"t","column":{"name":"c","type":"INT","nullable":false,"default":"0"}}]}`,
			want: &AddColumn{Table: "t", Column: Column{Name: "c", Type: "INT", Default: ptr("0")}},
		},
		{
			name: "alter_column rename only",
			file: "1.toml",
			src:  "[[actions]]\ntype = \"alter_column\"\ntable = \"t\"\ncolumn = \"a\"\nchanges.name = \"b\"\n",
			want: &AlterColumn{Table: "t", Column: "a", Changes: ColumnChanges{Name: ptr("b")}},
		},
		{
			name: "alter_column drop default and comment",
			file: "1.json",
			src:  `{"actions":[{"type":"alter_column","table":"t","column":"a","changes":{"default":"NULL","comment":""}}]}`,
			want: &AlterColumn{Table: "t", Column: "a", Changes: ColumnChanges{Default: ptr("NULL"), Comment: ptr("")}},
		},
		{
			name: "alter_column nullable true with down",
			file: "1.toml",
			src:  "[[actions]]\ntype = \"alter_column\"\ntable = \"t\"\ncolumn = \"a\"\nchanges = { nullable = true }\ndown = \"COALESCE(a, 0)\"\n",
			want: &AlterColumn{Table: "t", Column: "a", Changes: ColumnChanges{Nullable: ptr(true)}, Down: "COALESCE(a, 0)"},
		},
		{
			name: "remove_column without down",
			file: "1.toml",
			src:  "[[actions]]\ntype = \"remove_column\"\ntable = \"t\"\ncolumn = \"a\"\n",
			want: &RemoveColumn{Table: "t", Column: "a"},
		},
		{
			name: "custom with start only",
			file: "1.json",
			src:  `{"actions":[{"type":"custom","start":"SELECT 1"}]}`,
			want: &Custom{Start: "SELECT 1"},
		},
		{
			name: "values order as written",
			file: "1.toml",
			src: `[[actions]]
type = "create_table"
name = "t"
primary_key = ["z"]
columns = [{ name = "z", type = "INT" }, { name = "a", type = "INT" }, { name = "m", type = "INT" }]
[actions.up]
table = "s"
where = "t.z = s.z"
[actions.up.values]
z = "s.z"
a = "s.a"
"m" = "s.m"
`,
			want: &CreateTable{
				Name:       "t",
				Columns:    []Column{{Name: "z", Type: "INT", Nullable: true}, {Name: "a", Type: "INT", Nullable: true}, {Name: "m", Type: "INT", Nullable: true}},
				PrimaryKey: []string{"z"},
				Up: &TableUp{Table: "s", Where: "t.z = s.z", Values: []ColumnValue{
					{Column: "z", Expr: "s.z"}, {Column: "a", Expr: "s.a"}, {Column: "m", Expr: "s.m"},
				}},
			},
		},
		{
			name: "values order as written json",
			file: "1.json",
			src: `{"actions":[{"type":"create_table","name":"t","primary_key":["z"],
  "columns":[{"name":"z","type":"INT"},{"name":"a","type":"INT"}],
  "up":{"table":"s","where":"t.z = s.z","values":{"z":"s.z","a":"s.a"}}}]}`,
			want: &CreateTable{
				Name:       "t",
				Columns:    []Column{{Name: "z", Type: "INT", Nullable: true}, {Name: "a", Type: "INT", Nullable: true}},
				PrimaryKey: []string{"z"},
				Up: &TableUp{Table: "s", Where: "t.z = s.z", Values: []ColumnValue{
					{Column: "z", Expr: "s.z"}, {Column: "a", Expr: "s.a"},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.file, tt.src)
			if diff := cmp.Diff([]Action{tt.want}, m.Actions); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNameAndChecksum(t *testing.T) {
	src := "name = \"custom_name\"\n[[actions]]\ntype = \"remove_table\"\ntable = \"t\"\n"
	m := mustParse(t, "dir/0001_file_name.toml", src)
	if m.Name != "custom_name" {
		t.Errorf("Name = %q, want custom_name", m.Name)
	}
	if m.File != "dir/0001_file_name.toml" {
		t.Errorf("File = %q", m.File)
	}
	sum := sha256.Sum256([]byte(src))
	if m.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("Checksum = %q", m.Checksum)
	}
	m = mustParse(t, "dir/0001_file_name.toml", "[[actions]]\ntype = \"remove_table\"\ntable = \"t\"\n")
	if m.Name != "0001_file_name" {
		t.Errorf("Name = %q, want 0001_file_name", m.Name)
	}
}

func TestParseUnsupportedExtension(t *testing.T) {
	_, err := Parse("x.yaml", []byte("actions: []"))
	if err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want a non-ErrInvalid error", err)
	}
	if got, want := err.Error(), `x.yaml: unsupported file extension ".yaml" (want .toml or .json)`; got != want {
		t.Errorf("err = %q, want %q (no package prefix)", got, want)
	}
}
