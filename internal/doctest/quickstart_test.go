package doctest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestQuickStart runs the README's quick start against a real server: the
// migration of its first step starts on a users table holding every kind of
// value the old app can write (a NULL name, a score that is not a number,
// one too big for integer), the old and the new app versions both write and
// read through their search_path, strata start prints what the README shows,
// and complete finishes.
func TestQuickStart(t *testing.T) {
	var migrationBlock, startBlock *Block
	for _, b := range docBlocks(t) {
		if b.File != "README.md" {
			continue
		}
		if b.Lang == "toml" && strings.Contains(b.Text, "# migrations/001_users_v2.toml") && migrationBlock == nil {
			migrationBlock = &b
		}
		if b.Lang == "sh" && strings.Contains(b.Text, "strata start") && startBlock == nil {
			startBlock = &b
		}
	}
	if migrationBlock == nil || startBlock == nil {
		t.Fatal("README.md has no quick-start migration (# migrations/001_users_v2.toml) or strata start block")
	}
	ctx := context.Background()
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE users (id bigserial PRIMARY KEY, name text, score text)`)
	db.Exec(t, `INSERT INTO users (name, score) VALUES ('ann lee', '42'), (NULL, '7'), ('bob', NULL), ('cy', 'n/a'), ('dee', '99999999999'), ('', ' 5')`)

	dir := filepath.Join(t.TempDir(), "migrations")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "001_users_v2.toml"), []byte(migrationBlock.Text), 0o644); err != nil {
		t.Fatal(err)
	}
	strata := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"--url", db.URL, "--dir", dir}, args...)
		if code := cli.Main(ctx, args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("strata %s: exit %d\n%s%s", strings.Join(args[4:], " "), code, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	strata("init")
	out := strata("start")
	// The output the README shows after `strata start`, as comments.
	var want []string
	after := false
	for _, l := range strings.Split(startBlock.Text, "\n") {
		l = strings.TrimSpace(l)
		if l == "strata start" {
			after = true
			continue
		}
		if after && strings.HasPrefix(l, "# ") {
			want = append(want, strings.TrimPrefix(l, "# "))
		}
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("strata start printed\n%s\nthe README shows\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	app := func(searchPath string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(db.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["search_path"] = searchPath
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	rows := func(c *pgx.Conn, sql string, args ...any) []string {
		t.Helper()
		rs, err := c.Query(ctx, sql, args...)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var out []string
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, v := range vals {
				if v == nil {
					parts = append(parts, "NULL")
				} else {
					parts = append(parts, fmt.Sprint(v))
				}
			}
			out = append(out, strings.Join(parts, "|"))
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}
	oldApp := app("public")
	newApp := app("public_001_users_v2, public")

	// The old app writes what it always could: a NULL name, a score that is
	// not a number.
	rows(oldApp, `INSERT INTO users (name, score) VALUES (NULL, 'abc'), ('eve smith', '12') RETURNING id`)
	rows(oldApp, `UPDATE users SET score = 'lots' WHERE name = 'bob'`)
	// The new app writes its shape.
	rows(newApp, `INSERT INTO users (name, score, display_name) VALUES ('fay', 5, 'Fay F.')`)

	wantNew := []string{
		"ann lee|42|Ann Lee", "NULL|7|", "bob|NULL|Bob", "cy|NULL|Cy", "dee|NULL|Dee", "|NULL|",
		"NULL|NULL|", "eve smith|12|Eve Smith", "fay|5|Fay F.",
	}
	if got := rows(newApp, `SELECT name, score, display_name FROM users ORDER BY id`); !slices.Equal(got, wantNew) {
		t.Errorf("the new app reads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantNew, "\n"))
	}
	wantOld := []string{
		"ann lee|42", "NULL|7", "bob|lots", "cy|n/a", "dee|99999999999", "| 5", "NULL|abc", "eve smith|12", "fay|5",
	}
	if got := rows(oldApp, `SELECT name, score FROM users ORDER BY id`); !slices.Equal(got, wantOld) {
		t.Errorf("the old app reads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantOld, "\n"))
	}

	strata("complete")
	if got := rows(newApp, `SELECT count(*), count(display_name), pg_typeof(min(score))::text FROM users`); !slices.Equal(got, []string{"9|9|integer"}) {
		t.Errorf("after complete: %v", got)
	}
}

// TestQuickStartOldForm is the regression test of the quick start's first
// form (up = "score::integer", up = "initcap(name)"): on values the old app
// can write, start fails, and strata lint warns about both expressions,
// while the README's migration lints clean.
func TestQuickStartOldForm(t *testing.T) {
	old := `[[actions]]
type = "alter_column"
table = "users"
column = "score"
up = "score::integer"
down = "score::text"
changes = { type = "integer" }

[[actions]]
type = "add_column"
table = "users"
up = "initcap(name)"
column = { name = "display_name", type = "text", nullable = false }
`
	var readme string
	for _, b := range docBlocks(t) {
		if b.File == "README.md" && b.Lang == "toml" && strings.Contains(b.Text, "# migrations/001_users_v2.toml") {
			readme = b.Text
			break
		}
	}
	ctx := context.Background()
	run := func(src string, args ...string) (int, string) {
		dir := filepath.Join(t.TempDir(), "migrations")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "001_users_v2.toml"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := cli.Main(ctx, append([]string{"--dir", dir}, args...), strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if _, out := run(old, "lint", "--pg-version", "15"); strings.Count(out, "SA030") != 2 {
		t.Errorf("strata lint of the old quick start: want 2 SA030 warnings, got\n%s", out)
	}
	if code, out := run(readme, "lint", "--pg-version", "15"); code != 0 || strings.Contains(out, "SA030") {
		t.Errorf("strata lint of the README quick start: exit %d\n%s", code, out)
	}
	for _, tc := range []struct{ name, rows string }{
		{"null name", `(NULL, '7')`},
		{"score not a number", `('cy', 'n/a')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.New(t)
			db.Exec(t, `CREATE TABLE users (id bigserial PRIMARY KEY, name text, score text)`)
			db.Exec(t, `INSERT INTO users (name, score) VALUES ('ann', '1'), `+tc.rows)
			if code, out := run(old, "--url", db.URL, "start"); code != 1 {
				t.Errorf("start of the old quick start on %s: exit %d, want 1\n%s", tc.rows, code, out)
			}
		})
	}
}
