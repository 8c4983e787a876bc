// Package interop checks that strata adopts databases built by goose and
// golang-migrate, run as Go libraries: baseline --from records their files
// without re-running them, and migrate then applies only what is new.
package interop

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	_ "github.com/golang-migrate/migrate/v4/source/file"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
)

func strata(t *testing.T, url string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), append([]string{"--url", url}, args...), nil, &out, &errb)
	return out.String(), errb.String(), code
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

func adopt(t *testing.T, url, dir, tool string) {
	t.Helper()
	out, errs, code := strata(t, url, "--dir", dir, "baseline", "--from", tool)
	if code != 0 {
		t.Fatalf("baseline: exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "recorded as applied (from "+tool+")") {
		t.Fatalf("baseline: %s", out)
	}
	write(t, dir, map[string]string{"00006_strata_new.sql": "ALTER TABLE accounts ADD COLUMN note text;\n"})
	out, errs, code = strata(t, url, "--dir", dir, "migrate")
	if code != 0 || strings.TrimSpace(out) != "migrated 00006_strata_new" {
		t.Fatalf("migrate: exit %d: %q %s", code, out, errs)
	}
	out, _, code = strata(t, url, "--dir", dir, "history")
	if code != 0 || strings.Count(out, " ok") != 6 || strings.Contains(out, "changed") || strings.Contains(out, "missing") {
		t.Fatalf("history:\n%s", out)
	}
	out, _, code = strata(t, url, "--dir", dir, "migrate")
	if code != 0 || !strings.Contains(out, "nothing to migrate") {
		t.Fatalf("second migrate: %s", out)
	}
}

func TestGoose(t *testing.T) {
	db := pgtest.New(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"00001_accounts.sql": "-- +goose Up\nCREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n-- +goose Down\nDROP TABLE accounts;\n",
		"00002_seed.sql":     "-- +goose Up\nINSERT INTO accounts VALUES (1, 'a@x');\n-- +goose Down\nDELETE FROM accounts;\n",
		"00003_fn.sql": "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION touch() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\n-- +goose StatementEnd\n" +
			"-- +goose Down\nDROP FUNCTION touch();\n",
		"00004_email_idx.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n-- +goose Down\nDROP INDEX CONCURRENTLY accounts_email_idx;\n",
		"00005_logs.sql":      "-- +goose Up\nCREATE TABLE logs (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE logs;\n",
	})
	sdb, err := sql.Open("pgx", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if err := goose.SetDialect("postgres"); err != nil {
		t.Fatal(err)
	}
	if err := goose.Up(sdb, dir); err != nil {
		t.Fatal(err)
	}
	adopt(t, db.URL, dir, "goose")
	var n int
	if err := sdb.QueryRow("SELECT count(*) FROM accounts").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the seed ran again: %d rows (%v)", n, err)
	}
}

func TestGolangMigrate(t *testing.T) {
	db := pgtest.New(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"00001_accounts.up.sql":    "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
		"00001_accounts.down.sql":  "DROP TABLE accounts;\n",
		"00002_seed.up.sql":        "INSERT INTO accounts VALUES (1, 'a@x');\n",
		"00002_seed.down.sql":      "DELETE FROM accounts;\n",
		"00003_logs.up.sql":        "CREATE TABLE logs (id bigint PRIMARY KEY);\n",
		"00003_logs.down.sql":      "DROP TABLE logs;\n",
		"00004_email_idx.up.sql":   "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_idx ON accounts (email);\n",
		"00004_email_idx.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS accounts_email_idx;\n",
		"00005_more.up.sql":        "ALTER TABLE logs ADD COLUMN msg text;\n",
		"00005_more.down.sql":      "ALTER TABLE logs DROP COLUMN msg;\n",
	})
	u := strings.Replace(db.URL, "postgres://", "pgx5://", 1)
	mg, err := migrate.New("file://"+dir, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Up(); err != nil {
		t.Fatal(err)
	}
	mg.Close()
	adopt(t, db.URL, dir, "golang-migrate")
}
