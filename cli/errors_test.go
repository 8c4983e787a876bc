package cli_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgcluster"
	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/internal/pgtest"
)

var updateErrors = flag.Bool("update-errors", false, "rewrite testdata/errors.golden with what strata printed")

// errCase is one realistic mistake: what strata is run with, the exit
// status it must give, and the secrets that must not be printed. Its exact
// stderr is in testdata/errors.golden.
type errCase struct {
	name  string
	args  []string // {url}: the case's database; {dir}: its migrations folder; {auth}: host:port of the cluster with password logins; {server}: host:port of the test server; {work}: the case's folder
	env   map[string]string
	files map[string]string // in {work}; migrations go under migrations/
	setup string            // SQL run on the case's database first
	// before are strata runs (same placeholders) that must succeed first.
	before [][]string
	// cancelOn cancels the run when stderr shows this text (Ctrl-C).
	cancelOn string
	code     int
	secrets  []string
}

const errUsers = `CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO users (name, email) SELECT 'user' || i, NULL FROM generate_series(1, 400) i;`

const addEmail2 = `
[[actions]]
type = "add_column"
table = "users"
column = { name = "nickname", type = "text" }
`

// authRole and authPassword log in to the password cluster.
const (
	authRole     = "app_owner"
	authPassword = "Corr3ct-Horse"
)

func errorCases() []errCase {
	mig := map[string]string{"migrations/001_nickname.toml": addEmail2}
	return []errCase{
		{name: "scheme typo", args: []string{"--url", "postgress://app:Pw4-scheme@localhost/app", "status", "--dir", "{dir}"}, files: mig, code: 1, secrets: []string{"Pw4-scheme"}},
		{name: "one slash after the scheme", args: []string{"--url", "postgresql:/localhost/app", "status", "--dir", "{dir}"}, files: mig, code: 1},
		{name: "wrong port", args: []string{"--url", "postgres://app:Pw4-port@127.0.0.1:1/app", "status", "--dir", "{dir}"}, files: mig, code: 1, secrets: []string{"Pw4-port"}},
		{name: "wrong port in DATABASE_URL", args: []string{"init"}, env: map[string]string{"DATABASE_URL": "postgres://app:Pw4-env@127.0.0.1:1/app"}, code: 1, secrets: []string{"Pw4-env"}},
		{name: "wrong password", args: []string{"--url", "postgres://" + authRole + ":Wr0ng-Horse@{auth}/postgres?sslmode=prefer", "init"}, code: 1, secrets: []string{"Wr0ng-Horse"}},
		{name: "wrong PGPASSWORD", args: []string{"init"}, env: map[string]string{"PGHOST": "127.0.0.1", "PGPORT": "{authport}", "PGUSER": authRole, "PGDATABASE": "postgres", "PGPASSWORD": "Wr0ng-PGPASS"}, code: 1, secrets: []string{"Wr0ng-PGPASS"}},
		{name: "unescaped @ in a URL password", args: []string{"--url", "postgres://" + authRole + ":p@ss-Wr0ng@{auth}/postgres", "init"}, code: 1, secrets: []string{"p@ss-Wr0ng", "ss-Wr0ng"}},
		{name: "unescaped @ and / in a URL password", args: []string{"--url", "postgres://" + authRole + ":p@ss/W0rd@{auth}/postgres", "init"}, code: 1, secrets: []string{"p@ss/W0rd", "ss/W0rd", "W0rd"}},
		{name: "password with a space in a key/value string", args: []string{"--url", "host=127.0.0.1 port={authport} user=" + authRole + " password='open sesame' dbname=postgres", "init"}, code: 1, secrets: []string{"open sesame"}},
		{name: "password that is a word of the message", args: []string{"--url", "postgres://" + authRole + ":failed@{auth}/postgres", "init"}, code: 1, secrets: []string{"failed"}},
		{name: "database missing", args: []string{"--url", "postgres://postgres:Pw4-db@{server}/nosuchdb?sslmode=disable", "init"}, code: 1, secrets: []string{"Pw4-db"}},
		{name: "TLS required by a server without it", args: []string{"--url", "postgres://postgres@{server}/postgres?sslmode=require", "init"}, code: 1},
		{name: "unknown host", args: []string{"--url", "postgres://app@nosuchhost.invalid:5432/app?connect_timeout=20", "init"}, code: 1},
		{name: "role missing", args: []string{"--url", "postgres://nosuchrole@{server}/postgres?sslmode=disable", "init"}, code: 1},
		{name: "missing migrations folder", args: []string{"--url", "{url}", "start", "--dir", "{work}/migrationz"}, code: 1},
		{name: "unknown --schema on start", args: []string{"--url", "{url}", "start", "--schema", "nosuch", "--dir", "{dir}"}, files: mig, setup: errUsers, code: 1},
		{name: "status --schema nosuch", args: []string{"--url", "{url}", "status", "--schema", "nosuch", "--dir", "{dir}"}, files: mig, setup: errUsers, code: 1},
		{name: "typo in an action type", args: []string{"--url", "{url}", "start", "--dir", "{dir}"}, files: map[string]string{"migrations/001_x.toml": "[[actions]]\ntype = \"add_colum\"\ntable = \"users\"\ncolumn = { name = \"nickname\", type = \"text\" }\n"}, setup: errUsers, code: 1},
		{name: "typo in a key", args: []string{"--url", "{url}", "start", "--dir", "{dir}"}, files: map[string]string{"migrations/001_x.toml": "[[actions]]\ntype = \"add_column\"\ntabel = \"users\"\ncolumn = { name = \"nickname\", type = \"text\" }\n"}, setup: errUsers, code: 1},
		{name: "missing column named by an action", args: []string{"--url", "{url}", "start", "--dir", "{dir}"}, files: map[string]string{"migrations/001_x.toml": "[[actions]]\ntype = \"remove_column\"\ntable = \"users\"\ncolumn = \"nmae\"\n"}, setup: errUsers, code: 1},
		{name: "missing table", args: []string{"--url", "{url}", "start", "--dir", "{dir}"}, files: map[string]string{"migrations/001_x.toml": "[[actions]]\ntype = \"add_column\"\ntable = \"user\"\ncolumn = { name = \"nickname\", type = \"text\" }\n"}, setup: errUsers, code: 1},
		{name: "complete with nothing started", args: []string{"--url", "{url}", "complete", "--dir", "{dir}"}, files: mig, setup: errUsers, before: [][]string{{"--url", "{url}", "init"}}, code: 1},
		{name: "abort with nothing started", args: []string{"--url", "{url}", "abort", "--dir", "{dir}"}, files: mig, setup: errUsers, before: [][]string{{"--url", "{url}", "init"}}, code: 1},
		{name: "start while a phase is in progress", args: []string{"--url", "{url}", "start", "--dir", "{work}/more"},
			files: map[string]string{"migrations/001_nickname.toml": addEmail2, "more/001_nickname.toml": addEmail2, "more/002_email2.toml": "[[actions]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"email2\", type = \"text\" }\n"},
			setup: errUsers, before: [][]string{{"--url", "{url}", "start", "--dir", "{dir}"}}, code: 1},
		{name: "Ctrl-C during a backfill", args: []string{"--url", "{url}", "start", "--dir", "{dir}", "--max-rows-per-second", "40", "--batch-size", "10", "--batch-target", "-1s"},
			files: map[string]string{"migrations/001_upper.toml": "[[actions]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"shout\", type = \"text\" }\nup = \"upper(name)\"\n"},
			setup: errUsers, cancelOn: "backfill users: ", code: 1},
		{name: "bad --version-schema-style", args: []string{"plan", "--version-schema-style", "reshap"}, code: 2},
		{name: "unknown command", args: []string{"strat"}, code: 2},
		{name: "unknown subcommand", args: []string{"scenario", "craete"}, code: 2},
		{name: "unknown flag", args: []string{"start", "--shema", "app"}, code: 2},
		{name: "bad flag value", args: []string{"start", "--batch-size", "lots"}, code: 2},
		{name: "bad duration", args: []string{"start", "--lock-timeout", "5"}, code: 2},
		{name: "invalid TOML in a migration", args: []string{"--url", "{url}", "start", "--dir", "{dir}"}, files: map[string]string{"migrations/001_x.toml": "[[actions]]\ntype = \"add_column\"\ntable = users\n"}, setup: errUsers, code: 1},
		{name: "migration file too large", args: []string{"--url", "{url}", "start", "--dir", "{dir}"}, files: map[string]string{"migrations/001_x.toml": "big"}, setup: errUsers, code: 1},
		{name: "lint of a missing file", args: []string{"lint", "--pg-version", "16", "{work}/nosuch.sql"}, code: 1},
		{name: "strata.toml with an unknown key", args: []string{"--config", "{work}/strata.toml", "status"}, files: map[string]string{"strata.toml": "shcema = \"app\"\nurl = \"postgres://app:Pw4-toml@127.0.0.1:1/app\"\n"}, code: 1, secrets: []string{"Pw4-toml"}},
		{name: "strata.toml with invalid TOML", args: []string{"--config", "{work}/strata.toml", "status"}, files: map[string]string{"strata.toml": "schema = \"app\"\nlock_timeout = 2s\n"}, code: 1},
		{name: "strata.toml url with the wrong port", args: []string{"--config", "{work}/strata.toml", "init"}, files: map[string]string{"strata.toml": "schema = \"app\"\nurl = \"postgres://app:Pw4-toml@127.0.0.1:1/app\"\n"}, code: 1, secrets: []string{"Pw4-toml"}},
	}
}

// prefixRE matches an internal package prefix at the start of a message.
var prefixRE = regexp.MustCompile(`(?m)^strata: (engine|pgexec|backfill|planner|plan|migration|state|sqlrun|scenario|catalog|pglock|pgquery|planreport|config|cli): `)

// TestErrorMessages runs each realistic mistake against a real server and
// compares strata's stderr with testdata/errors.golden: every message in
// the one form (strata: what: why), with a hint line, the right exit
// status, no internal package prefix and no secret. Connection mistakes
// about passwords run against a second cluster that asks for them (scram).
func TestErrorMessages(t *testing.T) {
	base := pgtest.New(t)
	baseURL, err := url.Parse(base.URL)
	if err != nil {
		t.Fatal(err)
	}
	auth := authCluster(t)
	goldenPath := filepath.Join("testdata", "errors.golden")
	var got strings.Builder
	for _, c := range errorCases() {
		out := runErrCase(t, c, baseURL.Host, auth)
		fmt.Fprintf(&got, "== %s\n%s\n", c.name, out)
	}
	if *updateErrors {
		if err := os.WriteFile(goldenPath, []byte(got.String()), 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update-errors to write it)", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("stderr differs from %s (-want +got):\n%s", goldenPath, diff)
	}
}

// authCluster starts a cluster where authRole logs in with authPassword
// over TCP (scram-sha-256); it returns its host:port.
func authCluster(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("SECOND CLUSTER UNAVAILABLE, SKIPPING: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", authRole, authPassword)); err != nil {
		t.Fatal(err)
	}
	var hba string
	if err := conn.QueryRow(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hba, []byte("host all "+authRole+" 127.0.0.1/32 scram-sha-256\n"+string(old)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	// The right password works: the cases' failures are the mistakes'.
	good := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres", authRole, authPassword, c.Port())
	deadline := time.Now().Add(10 * time.Second)
	for {
		gc, err := pgx.Connect(ctx, good)
		if err == nil {
			gc.Close(ctx)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the right password does not log in: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("127.0.0.1:%d", c.Port())
}

// runErrCase runs one case and returns "$ strata ARGS\nexit N\nSTDERR",
// with the case's folder, database and ports written as placeholders.
func runErrCase(t *testing.T, c errCase, server, auth string) string {
	t.Helper()
	var result string
	t.Run(c.name, func(t *testing.T) {
		work := t.TempDir()
		for name, content := range c.files {
			p := filepath.Join(work, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
				t.Fatal(err)
			}
			if content == "big" {
				hostileFile(t, "big", p)
				continue
			}
			if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
				t.Fatal(err)
			}
		}
		dbURL := ""
		if strings.Contains(strings.Join(c.args, " "), "{url}") {
			db := pgtest.New(t)
			if c.setup != "" {
				db.Exec(t, c.setup)
			}
			dbURL = db.URL
		}
		_, authPort, _ := strings.Cut(auth, ":")
		expand := func(s string) string {
			return strings.NewReplacer("{url}", dbURL, "{dir}", filepath.Join(work, "migrations"), "{work}", work,
				"{auth}", auth, "{authport}", authPort, "{server}", server).Replace(s)
		}
		expandAll := func(args []string) []string {
			out := make([]string, len(args))
			for i, a := range args {
				out[i] = expand(a)
			}
			return out
		}
		// The environment strata reads: only what the case sets.
		for _, v := range []string{"DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE", "STRATA_CONFIG", "PGSSLMODE", "PGPASSFILE"} {
			t.Setenv(v, "")
			os.Unsetenv(v)
		}
		t.Setenv("PGPASSFILE", filepath.Join(work, "no-passfile"))
		for k, v := range c.env {
			t.Setenv(k, expand(v))
		}
		for _, b := range c.before {
			if code, stderr := runCapture(t, expandAll(b), ""); code != 0 {
				t.Fatalf("strata %s: exit %d\n%s", strings.Join(b, " "), code, stderr)
			}
		}
		args := expandAll(c.args)
		code, stderr := runCapture(t, args, c.cancelOn)
		if code != c.code {
			t.Errorf("exit %d, want %d\n%s", code, c.code, stderr)
		}
		if !strings.HasPrefix(stderr, "strata: ") {
			t.Errorf("stderr does not start with \"strata: \":\n%s", stderr)
		}
		if !regexp.MustCompile(`(?m)^hint: \S`).MatchString(stderr) {
			t.Errorf("no hint line:\n%s", stderr)
		}
		if m := prefixRE.FindString(stderr); m != "" {
			t.Errorf("an internal package prefix %q:\n%s", m, stderr)
		}
		for _, s := range c.secrets {
			for _, w := range append([]string{s}, strings.Fields(s)...) {
				if strings.Contains(stderr, w) && (len(w) >= pgerr.MinWord || regexp.MustCompile(`\b`+regexp.QuoteMeta(w)+`\b`).MatchString(stderr)) {
					t.Errorf("stderr shows the secret %q:\n%s", w, stderr)
				}
			}
		}
		shown := strings.Join(c.args, " ")
		norm := strings.NewReplacer(work, "{work}", server, "{server}", auth, "{auth}", ":"+authPort+"/", ":{authport}/")
		out := norm.Replace(stderr)
		if dbURL != "" {
			u, _ := url.Parse(dbURL)
			out = strings.ReplaceAll(out, strings.TrimPrefix(u.Path, "/"), "{db}")
		}
		out = regexp.MustCompile(`pid \d+`).ReplaceAllString(out, "pid N")
		result = fmt.Sprintf("$ strata %s\nexit %d\n%s", shown, code, out)
	})
	return result
}

// runCapture runs strata in-process; when cancelOn is set, it cancels the
// context (as Ctrl-C does) once stderr shows that text.
func runCapture(t *testing.T, args []string, cancelOn string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	stderr := &watchWriter{on: cancelOn, cancel: cancel}
	code := cli.Main(ctx, args, strings.NewReader(""), &stdout, stderr)
	return code, stderr.String()
}

// watchWriter is a buffer that calls cancel once what was written contains
// on.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	on     string
	cancel func()
	done   bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.on != "" && !w.done && strings.Contains(w.buf.String(), w.on) {
		w.done = true
		w.buf.Reset() // the run's progress lines vary; the error is what counts
		go w.cancel()
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestHostilePasswords: whatever the password and however it is given (an
// escaped URL, a raw URL, a key/value string with quotes, PGPASSWORD), no
// part of it reaches stdout or stderr: not the password, not any word of it
// of pgerr.MinWord characters or more, not a shorter one as a whole word.
// Nothing listens at the address, and the strings that do not parse fail
// before connecting: no server is needed.
func TestHostilePasswords(t *testing.T) {
	passwords := []string{
		"p@ss", "p@ss@word", "a b", "open sesame now", "'q'", `it's`, `back\slash`, "x:y@z/w?#", "100%",
		"pässwörd", "密码密码", "password", "failed", "refused", "connect", "tcp", "127.0.0.1", "sslmode=disable", " lead", "trail ",
	}
	for _, pw := range passwords {
		q := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)
		forms := map[string][]string{
			"escaped url": {"--url", "postgres://" + url.UserPassword("u", pw).String() + "@127.0.0.1:1/db"},
			"raw url":     {"--url", "postgres://u:" + pw + "@127.0.0.1:1/db"},
			"kv":          {"--url", "host=127.0.0.1 port=1 user=u password='" + q + "' dbname=db"},
			"kv bad":      {"--url", "host=127.0.0.1 port=1 password='" + q + "' sslmode=bogus"},
			"url bad":     {"--url", "postgres://" + url.UserPassword("u", pw).String() + "@127.0.0.1:1/db?sslmode=bogus"},
			"typo scheme": {"--url", "postgress://u:" + pw + "@127.0.0.1:1/db"},
			"PGPASSWORD":  {},
			"shadow url":  {"--shadow-url", "postgres://" + url.UserPassword("u", pw).String() + "@127.0.0.1:1/db"},
		}
		for form, flags := range forms {
			t.Run(form+"/"+pw, func(t *testing.T) {
				for _, v := range []string{"DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE", "STRATA_CONFIG", "PGSSLMODE"} {
					t.Setenv(v, "")
					os.Unsetenv(v)
				}
				t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
				cmd := []string{"status", "--dir", t.TempDir()}
				switch form {
				case "PGPASSWORD":
					t.Setenv("PGHOST", "127.0.0.1")
					t.Setenv("PGPORT", "1")
					t.Setenv("PGPASSWORD", pw)
				case "shadow url":
					flags = append([]string{"--url", "postgres://u@127.0.0.1:1/db"}, flags...)
					cmd = []string{"drift", "--dir", t.TempDir()}
				}
				var stdout, stderr bytes.Buffer
				code := cli.Main(context.Background(), append(flags, cmd...), strings.NewReader(""), &stdout, &stderr)
				if code == 0 {
					t.Fatalf("exit 0 with nothing listening:\n%s", stderr.String())
				}
				out := stdout.String() + stderr.String()
				for _, w := range append([]string{pw}, strings.Fields(pw)...) {
					if len([]rune(w)) >= pgerr.MinWord && strings.Contains(out, w) ||
						regexp.MustCompile(`(^|[^\pL\pN])`+regexp.QuoteMeta(w)+`($|[^\pL\pN])`).MatchString(out) {
						t.Errorf("output shows %q of password %q:\n%s", w, pw, out)
					}
				}
			})
		}
	}
}
