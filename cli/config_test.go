package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// configLine returns the line of strata config's output for key.
func configLine(t *testing.T, out, key string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, key+" ") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	t.Fatalf("no %s in:\n%s", key, out)
	return ""
}

// TestConfigPrecedence: flag > STRATA_<FLAG> (DATABASE_URL for the
// connection) > strata.toml > default, for url, dir, schema and
// lock_timeout; $VAR and ${VAR}; passwords masked; --config and
// STRATA_CONFIG.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"DATABASE_URL", "STRATA_URL", "STRATA_DIR", "STRATA_SCHEMA", "STRATA_LOCK_TIMEOUT", "STRATA_CONFIG", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"} {
		t.Setenv(v, "")
	}
	t.Setenv("DB_PASS", "s3cret-file")
	t.Setenv("APP_SCHEMA", "shop")
	writeFile(t, filepath.Join(dir, "strata.toml"), `# project file
url = "postgres://app:${DB_PASS}@db.internal:5432/shop"
dir = "db/migrations"
schema = "$APP_SCHEMA"
lock_timeout = "5s"
`)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want map[string]string
	}{
		{"file", nil, nil, map[string]string{
			"url":          "url = postgres://app:xxxxx@db.internal:5432/shop (strata.toml:2)",
			"dir":          "dir = db/migrations (strata.toml:3)",
			"schema":       "schema = shop (strata.toml:4)",
			"lock_timeout": "lock_timeout = 5s (strata.toml:5)",
			"lock_wait":    "lock_wait = 0s (default)",
		}},
		{"env", map[string]string{"DATABASE_URL": "postgres://u:envpw@envhost/db", "STRATA_DIR": "envdir", "STRATA_SCHEMA": "envschema", "STRATA_LOCK_TIMEOUT": "7s"}, nil, map[string]string{
			"url":          "url = postgres://u:xxxxx@envhost/db (env DATABASE_URL)",
			"dir":          "dir = envdir (env STRATA_DIR)",
			"schema":       "schema = envschema (env STRATA_SCHEMA)",
			"lock_timeout": "lock_timeout = 7s (env STRATA_LOCK_TIMEOUT)",
		}},
		{"strata_url beats DATABASE_URL", map[string]string{"DATABASE_URL": "postgres://u@a/db", "STRATA_URL": "postgres://u@b/db"}, nil, map[string]string{
			"url": "url = postgres://u@b/db (env STRATA_URL)",
		}},
		{"flags", map[string]string{"DATABASE_URL": "postgres://u@envhost/db", "STRATA_DIR": "envdir", "STRATA_SCHEMA": "envschema", "STRATA_LOCK_TIMEOUT": "7s"},
			[]string{"--url", "postgres://f:flagpw@flaghost/db", "--dir", "flagdir", "--schema", "flagschema", "--lock-timeout", "9s"}, map[string]string{
				"url":          "url = postgres://f:xxxxx@flaghost/db (flag --url)",
				"dir":          "dir = flagdir (flag --dir)",
				"schema":       "schema = flagschema (flag --schema)",
				"lock_timeout": "lock_timeout = 9s (flag --lock-timeout)",
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, out, errOut := run(t, dir, append(c.args, "config")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for k, want := range c.want {
				if got := configLine(t, out, k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			for _, pw := range []string{"s3cret-file", "envpw", "flagpw"} {
				if strings.Contains(out, pw) {
					t.Errorf("password %s in the output:\n%s", pw, out)
				}
			}
		})
	}

	// --config FILE and STRATA_CONFIG name another file.
	other := filepath.Join(dir, "other.toml")
	writeFile(t, other, "schema = \"other\"\n")
	code, out, _ := run(t, dir, "--config", other, "config")
	if code != 0 || configLine(t, out, "schema") != "schema = other ("+other+":1)" || !strings.Contains(out, "(flag --config)") {
		t.Errorf("--config: exit %d\n%s", code, out)
	}
	t.Setenv("STRATA_CONFIG", other)
	code, out, _ = run(t, dir, "config")
	if code != 0 || configLine(t, out, "schema") != "schema = other ("+other+":1)" || !strings.Contains(out, "(env STRATA_CONFIG)") {
		t.Errorf("STRATA_CONFIG: exit %d\n%s", code, out)
	}
	// A missing explicit file is an error.
	t.Setenv("STRATA_CONFIG", filepath.Join(dir, "missing.toml"))
	if code, _, errOut := run(t, dir, "config"); code != 1 || !strings.Contains(errOut, "missing.toml: no such file or directory") {
		t.Errorf("missing STRATA_CONFIG file: exit %d: %s", code, errOut)
	}
}

// TestConfigBadInput: unknown keys, bad values and unset variables fail
// naming the file, the line and the key.
func TestConfigBadInput(t *testing.T) {
	t.Setenv("STRATA_CONFIG", "")
	t.Setenv("NOT_SET_ANYWHERE", "")
	cases := []struct{ name, file, want string }{
		{"unknown top-level key", "dir = \"m\"\nschemas = \"x\"\n", `strata: strata.toml:2: schemas: unknown key "schemas"`},
		{"unknown foreign key", "[[foreign]]\nname = \"app\"\ninto = \"postgres://x/y\"\nuser = \"r\"\npasword_env = \"P\"\n", `strata: strata.toml:5: foreign[0].pasword_env: unknown key "pasword_env"`},
		{"unknown server key", "[[foreign]]\nname = \"app\"\ninto = \"postgres://x/y\"\nuser = \"r\"\nserver = { hots = \"h\" }\n", `strata: strata.toml:5: foreign[0].server.hots: unknown key "hots"`},
		{"bad duration", "lock_timeout = \"soon\"\n", `strata: strata.toml:1: lock_timeout: invalid value "soon": time: invalid duration`},
		{"unset variable", "url = \"${NOT_SET_ANYWHERE}\"\n", `strata: strata.toml:1: url: the environment variable NOT_SET_ANYWHERE is not set`},
		{"bad after", "[[foreign]]\nname = \"app\"\ninto = \"postgres://x/y\"\nuser = \"r\"\nafter = [\"start\"]\n", `strata: strata.toml:5: foreign[0].after[0]: "start" is not a command a sync can follow`},
		{"syntax", "dir = \n", `strata: strata.toml:1:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "strata.toml"), c.file)
			code, out, errOut := run(t, dir, "config")
			if code == 0 || !strings.HasPrefix(errOut, c.want) || out != "" {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant prefix: %s", code, out, errOut, c.want)
			}
		})
	}
}
