package cli_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgtest"
)

// TestLintTargetVersion: lint reads the target PostgreSQL version from the
// server that --pg-version, else --url, else DATABASE_URL, else the libpq
// PG* variables name, else uses 15; a server reachable only through PG*
// (as a login role that is not a superuser) is used, and one that cannot be
// reached is an error naming the variables, not a silent default.
func TestLintTargetVersion(t *testing.T) {
	db := pgtest.New(t)
	role, password := fdwRole(t)
	live, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	roleURL := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", role, password, live.Host, live.Port, live.Database)
	const deadURL = "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5"
	major := pgtest.ServerMajor(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "m.sql")
	writeFile(t, file, "SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY i ON t (c);\n")

	livePG := map[string]string{"PGHOST": live.Host, "PGPORT": fmt.Sprint(live.Port), "PGDATABASE": live.Database,
		"PGUSER": role, "PGPASSWORD": password, "PGSSLMODE": "disable"}
	deadPG := map[string]string{"PGHOST": "127.0.0.1", "PGPORT": "1", "PGDATABASE": "none", "PGUSER": "nobody",
		"PGPASSWORD": "hunter2-secret", "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "5"}
	// The test cluster trusts local logins, so a wrong password would pass:
	// a database that does not exist shows that PGDATABASE is read.
	noSuchDB := map[string]string{}
	for k, v := range livePG {
		noSuchDB[k] = v
	}
	noSuchDB["PGDATABASE"] = "no_such_db_for_lint"
	for _, tc := range []struct {
		name        string
		pg          map[string]string
		databaseURL string
		args        []string
		wantVersion int    // 0: want an error
		wantErr     string // in stderr
	}{
		{name: "PG* only", pg: livePG, wantVersion: major},
		{name: "nothing: default", wantVersion: 15},
		{name: "flag beats PG*", pg: deadPG, args: []string{"--pg-version", "14"}, wantVersion: 14},
		{name: "DATABASE_URL beats PG*", pg: deadPG, databaseURL: roleURL, wantVersion: major},
		{name: "--url beats DATABASE_URL", pg: deadPG, databaseURL: deadURL, args: []string{"--url", roleURL}, wantVersion: major},
		{name: "PG* unreachable", pg: deadPG, wantErr: "read the target version from the server of the PG* variables (PGHOST=127.0.0.1 PGPORT=1 PGDATABASE=none PGUSER=nobody PGPASSWORD=xxxxx)"},
		{name: "PG* missing database", pg: noSuchDB, wantErr: "read the target version from the server of the PG* variables"},
		{name: "DATABASE_URL unreachable", databaseURL: deadURL, wantErr: "read the target version from the server of --url or DATABASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE",
				"PGSSLMODE", "PGCONNECT_TIMEOUT", "STRATA_URL", "STRATA_CONFIG"} {
				t.Setenv(v, tc.pg[v])
			}
			t.Setenv("DATABASE_URL", tc.databaseURL)
			t.Chdir(dir)
			args := append([]string{"lint", "--format", "json"}, tc.args...)
			code, stdout, stderr := runMain(t, append(args, "m.sql")...)
			if tc.wantVersion == 0 {
				if code == 0 || !strings.Contains(stderr, tc.wantErr) || !strings.Contains(stderr, "hint: ") {
					t.Errorf("exit %d, stderr %q; want an error containing %q and a hint", code, stderr, tc.wantErr)
				}
				for _, secret := range []string{"hunter2", password} {
					if strings.Contains(stderr, secret) {
						t.Errorf("stderr shows a password: %q", stderr)
					}
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			var rep struct {
				FormatVersion int `json:"format_version"`
				PGVersion     int `json:"pg_version"`
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("%v: %q", err, stdout)
			}
			if rep.FormatVersion != 1 || rep.PGVersion != tc.wantVersion {
				t.Errorf("format_version %d, pg_version %d; want 1, %d", rep.FormatVersion, rep.PGVersion, tc.wantVersion)
			}
		})
	}
}
