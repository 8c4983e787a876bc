package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
)

// badInputSetup is the database every bad-input case starts from.
const badInputSetup = `
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO users (name, email) VALUES ('alice', 'a@example.com'), ('bob', NULL);`

// goodMigration is a valid migration that bad ones are paired with, to show
// that one bad file stops every file from being applied.
const goodMigration = `
[[actions]]
type = "add_column"
table = "users"
column = { name = "nickname", type = "text" }
`

// longName is a migration name whose version schema, "public_" + longName,
// is 64 bytes: one more than PostgreSQL allows.
var longName = "001_" + strings.Repeat("x", 64-len("public_")-len("001_"))

// TestBadInput runs strata start and strata migrate on migration folders that
// are wrong in one way each. Every run must exit with status 1, print exactly
// the expected message (naming the file, the line and the key) and leave the
// database exactly as it was: same catalog, same rows, and no strata state
// schema if there was none before.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string // file name -> content
		want  string            // exact stderr
	}{
		{
			name: "malformed TOML",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = users
column = { name = "nickname", type = "text" }
`},
			want: "strata: migrations/001_bad.toml:3: syntax error: expected value but found \"users\" instead\n",
		},
		{
			name: "malformed JSON",
			files: map[string]string{"001_bad.json": `{
  "actions": [
    {"type": "add_column", "table": "users",,
     "column": {"name": "nickname", "type": "text"}}
  ]
}
`},
			want: "strata: migrations/001_bad.json:3: syntax error: invalid character ',' looking for beginning of object key string\n",
		},
		{
			name: "unknown top-level key",
			files: map[string]string{"001_bad.toml": `descripton = "typo"

[[actions]]
type = "add_column"
table = "users"
column = { name = "nickname", type = "text" }
`},
			want: "strata: migrations/001_bad.toml:1: descripton: unknown key (did you mean \"description\"?)\n",
		},
		{
			name: "unknown key in an action",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
tabel = "users"
column = { name = "nickname", type = "text" }
`},
			want: "strata: migrations/001_bad.toml:1: actions[0].table: missing required key\n" +
				"strata: migrations/001_bad.toml:3: actions[0].tabel: unknown key (did you mean \"table\"?)\n",
		},
		{
			name: "key of another action type",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "users"
column = { name = "nickname", type = "text" }
new_name = "people"
`},
			want: "strata: migrations/001_bad.toml:5: actions[0].new_name: unknown key for add_column (it is a key of rename_table, rename_constraint)\n",
		},
		{
			name: "unknown key in a column",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "users"
  [actions.column]
  name = "nickname"
  type = "text"
  nulable = false
`},
			want: "strata: migrations/001_bad.toml:7: actions[0].column.nulable: unknown key (did you mean \"nullable\"?)\n",
		},
		{
			name: "unknown key in JSON",
			files: map[string]string{"001_bad.json": `{
  "actions": [
    {
      "type": "add_column",
      "table": "users",
      "column": {"name": "nickname", "type": "text", "colour": "red"}
    }
  ]
}
`},
			want: "strata: migrations/001_bad.json:6: actions[0].column.colour: unknown key\n",
		},
		{
			name: "unknown action type",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_colum"
table = "users"
`},
			want: `strata: migrations/001_bad.toml:2: actions[0].type: unknown action type "add_colum" (did you mean "add_column"?)` + "\n",
		},
		{
			name: "missing action type",
			files: map[string]string{"001_bad.toml": `[[actions]]
table = "users"
column = { name = "nickname", type = "text" }
`},
			want: "strata: migrations/001_bad.toml:1: actions[0].type: missing required key\n",
		},
		{
			name: "missing required field",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
column = { name = "nickname", type = "text" }
`},
			want: "strata: migrations/001_bad.toml:1: actions[0].table: missing required key\n",
		},
		{
			name: "missing required field of a column",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "users"
  [actions.column]
  name = "nickname"
`},
			want: "strata: migrations/001_bad.toml:4: actions[0].column.type: missing required key\n",
		},
		{
			name: "missing required field in JSON",
			files: map[string]string{"001_bad.json": `{
  "actions": [
    {"type": "rename_table", "table": "users"}
  ]
}
`},
			want: "strata: migrations/001_bad.json:3: actions[0].new_name: missing required key\n",
		},
		{
			name:  "missing actions",
			files: map[string]string{"001_bad.toml": "description = \"nothing to do\"\n"},
			want:  "strata: migrations/001_bad.toml: actions: missing required key\n",
		},
		{
			name: "wrong type",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "users"
  [actions.column]
  name = "nickname"
  type = "text"
  nullable = "no"
`},
			want: "strata: migrations/001_bad.toml:7: actions[0].column.nullable: expected boolean, got string\n",
		},
		{
			name: "wrong type in JSON",
			files: map[string]string{"001_bad.json": `{
  "actions": [
    {"type": "remove_table", "table": ["users"]}
  ]
}
`},
			want: "strata: migrations/001_bad.json:3: actions[0].table: expected string, got array\n",
		},
		{
			name: "missing table",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "userz"
column = { name = "nickname", type = "text" }
`},
			want: "strata: migrations/001_bad.toml:3: actions[0].table: table \"userz\" does not exist in schema \"public\" (did you mean \"users\"?)\n",
		},
		{
			name: "missing column",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "alter_column"
table = "users"
column = "emial"
changes = { name = "email_address" }
`},
			want: "strata: migrations/001_bad.toml:4: actions[0].column: column \"emial\" does not exist in table \"users\" (did you mean \"email\"?)\n",
		},
		{
			name: "missing table in JSON",
			files: map[string]string{"001_bad.json": `{
  "actions": [
    {"type": "rename_table", "table": "people", "new_name": "persons"}
  ]
}
`},
			want: "strata: migrations/001_bad.json:3: actions[0].table: table \"people\" does not exist in schema \"public\"\n",
		},
		{
			name: "missing column in an expression",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "users"
up = "lower(emial)"
  [actions.column]
  name = "email_lower"
  type = "text"
  nullable = false
`},
			want: "strata: migrations/001_bad.toml:4: actions[0].up: invalid expression \"lower(emial)\": column \"emial\" does not exist\n",
		},
		{
			name: "unknown column type",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "add_column"
table = "users"
column = { name = "nickname", type = "txet" }
`},
			want: "strata: migrations/001_bad.toml:4: actions[0].column.type: invalid type \"txet\": type \"txet\" does not exist\n",
		},
		{
			name: "missing table in a later migration",
			files: map[string]string{
				"001_good.toml": goodMigration,
				"002_bad.toml": `[[actions]]
type = "remove_column"
table = "accounts"
column = "owner"
`},
			want: "strata: migrations/002_bad.toml:3: actions[0].table: table \"accounts\" does not exist in schema \"public\"\n",
		},
		{
			name: "a later action refers to a column removed earlier",
			files: map[string]string{"001_bad.toml": `[[actions]]
type = "remove_column"
table = "users"
column = "email"

[[actions]]
type = "alter_column"
table = "users"
column = "email"
changes = { comment = "gone already" }
`},
			want: "strata: migrations/001_bad.toml:9: actions[1].column: column \"email\" does not exist in table \"users\"\n",
		},
		{
			name: "one bad file among good ones",
			files: map[string]string{
				"001_good.toml": goodMigration,
				"002_bad.json":  `{"actions": [{"type": "remove_table"}]}`,
			},
			want: "strata: migrations/002_bad.json:1: actions[0].table: missing required key\n",
		},
		{
			name:  "too-long migration name",
			files: map[string]string{longName + ".toml": goodMigration},
			want:  "strata: migrations/" + longName + `.toml: name: version schema name "public_` + longName + `" is 64 bytes; PostgreSQL allows at most 63: shorten the migration name` + "\n",
		},
		{
			name: "too-long name set in the file",
			files: map[string]string{"001_short.toml": `name = "` + longName + `"
` + goodMigration},
			want: `strata: migrations/001_short.toml:1: name: version schema name "public_` + longName + `" is 64 bytes; PostgreSQL allows at most 63: shorten the migration name` + "\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			migs := filepath.Join(dir, "migrations")
			if err := os.Mkdir(migs, 0o777); err != nil {
				t.Fatal(err)
			}
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(migs, name), []byte(content), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			for _, initFirst := range []bool{false, true} {
				db := pgtest.New(t)
				db.Exec(t, badInputSetup)
				if initFirst {
					runCLI(t, 0, "init", "--url", db.URL)
				}
				before := snapshotAll(t, db)
				for _, cmd := range []string{"start", "migrate", "plan"} {
					stderr := runCLI(t, 1, cmd, "--url", db.URL, "--dir", migs)
					// Show files as a user who typed --dir migrations sees them.
					stderr = strings.ReplaceAll(stderr, migs+string(filepath.Separator), "migrations/")
					// The problems, then one hint line of the two kinds.
					i := strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")
					if hint := stderr[i+1:]; hint != badFileHint && hint != badPlanHint {
						t.Errorf("strata %s: last line %q, want a hint line", cmd, hint)
					} else {
						stderr = stderr[:i+1]
					}
					if diff := cmp.Diff(tc.want, stderr); diff != "" {
						t.Errorf("strata %s (init first: %v): stderr (-want +got):\n%s", cmd, initFirst, diff)
					}
					if diff := cmp.Diff(before, snapshotAll(t, db)); diff != "" {
						t.Errorf("strata %s (init first: %v) changed the database (-before +after):\n%s", cmd, initFirst, diff)
					}
				}
				if !initFirst && strings.Contains(before, "\nstrata ") {
					t.Errorf("the state schema exists before init:\n%s", before)
				}
			}
		})
	}
}

// The hints after invalid migration files, and after migrations that do
// not fit the database.
const (
	badFileHint = "hint: fix the file(s) named above and run the command again; nothing was changed (docs/migrations.md lists each action's keys)\n"
	badPlanHint = "hint: fix the migration, or the database, and run the command again; nothing was changed\n"
)

// runCLI runs strata in-process, checks its exit status and returns its
// stderr.
func runCLI(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
	if code != wantCode {
		t.Fatalf("strata %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
	}
	return stderr.String()
}

// snapshotAll is the catalog of every non-system schema plus the rows of
// users, so a change to either shows up.
func snapshotAll(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := db.Conn(t)
	snap, err := pgtest.Snapshot(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var rows string
	if err := conn.QueryRow(ctx, `SELECT string_agg(format('%s|%s|%s', id, name, email), E'\n' ORDER BY id) FROM users`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	snap += "\n== rows of users\n" + rows + "\n"
	// strata's own state: no phase may be recorded by a failed command.
	var state string
	err = conn.QueryRow(ctx, `SELECT CASE WHEN to_regclass('strata.phase') IS NULL THEN 'not installed'
		ELSE query_to_xml('SELECT * FROM strata.phase', true, false, '')::text
		  || query_to_xml('SELECT * FROM strata.history', true, false, '')::text END`).Scan(&state)
	if err != nil {
		t.Fatal(err)
	}
	return snap + "\n== strata state\n" + state + "\n"
}
