// Package convertsql runs every `strata convert --from sql` golden
// (convert/testdata/sql/*.txtar) against real PostgreSQL: the converted
// migration lints clean, and its whole lifecycle works. For each golden:
//
//   - complete: setup.sql, then start; the old version (base tables) runs
//     old.sql and the new version (its version schema) runs new.sql, both
//     as a login role that is not a superuser; then complete. Nothing of
//     strata's is left, and the structure equals what running input.sql
//     directly gives, except for the differences written in the golden's
//     complete.diff section (e.g. a column that a type change moved to the
//     end of the table).
//   - abort: the same up to the two versions' writes, then abort: the
//     structure is as before start (abort.diff lists what abort cannot
//     undo, e.g. enum values).
//
// A golden whose statements need a newer server says so in a "min_pg: N"
// line of its comment; on an older one only the conversion and the lint
// are checked.
//
// The rows the two versions' statements return are compared with the
// old.out and new.out sections. `go test ./test/convertsql -update`
// rewrites old.out, new.out, complete.diff and abort.diff.
package convertsql

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/convert"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/internal/pgtest"
)

var update = flag.Bool("update", false, "rewrite old.out, new.out, complete.diff and abort.diff in convert/testdata/sql")

func TestMain(m *testing.M) { pgtest.Main(m) }

const goldenDir = "../../convert/testdata/sql"

type golden struct {
	shape string
	path  string
	a     *txtar.Archive
}

func (g *golden) section(name string) string {
	for _, f := range g.a.Files {
		if f.Name == name {
			return string(f.Data)
		}
	}
	return ""
}

// header returns the value of a "key: value" line of the archive's comment.
func (g *golden) header(key string) string {
	for _, l := range strings.Split(string(g.a.Comment), "\n") {
		if v, ok := strings.CutPrefix(l, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (g *golden) set(name, data string) {
	for i := range g.a.Files {
		if g.a.Files[i].Name == name {
			if data == "" {
				g.a.Files = append(g.a.Files[:i], g.a.Files[i+1:]...)
				return
			}
			g.a.Files[i].Data = []byte(data)
			return
		}
	}
	if data != "" {
		g.a.Files = append(g.a.Files, txtar.File{Name: name, Data: []byte(data)})
	}
}

func TestConvertedLifecycle(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 25 {
		t.Fatalf("%d goldens in %s, want at least 25", len(paths), goldenDir)
	}
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		g := &golden{shape: strings.TrimSuffix(filepath.Base(p), ".txtar"), path: p, a: a}
		t.Run(g.shape, func(t *testing.T) {
			t.Parallel()
			res, err := convert.Convert(convert.SQL, []convert.Input{{Name: g.shape + ".sql", Data: []byte(g.section("input.sql"))}})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(res.Files[0].Data); got != g.section("output.toml") {
				t.Fatalf("the converted file is not the golden's output.toml (run go test ./convert -update):\n%s", got)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, res.Files[0].Name), res.Files[0].Data, 0o666); err != nil {
				t.Fatal(err)
			}
			lintClean(t, dir, g.header("lint"))
			if v := g.header("min_pg"); v != "" {
				min, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("min_pg: %q is not a major version", v)
				}
				if major := pgtest.ServerMajor(t); major < min {
					t.Skipf("the statements need PostgreSQL %d, the test server is %d: the conversion and lint were checked, not the lifecycle", min, major)
				}
			}
			oldOut, newOut, completeDiff := runComplete(t, g, dir)
			abortDiff := runAbort(t, g, dir)
			if *update {
				g.set("old.out", oldOut)
				g.set("new.out", newOut)
				g.set("complete.diff", completeDiff)
				g.set("abort.diff", abortDiff)
				if err := os.WriteFile(g.path, txtar.Format(g.a), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, c := range []struct{ name, got string }{
				{"old.out", oldOut}, {"new.out", newOut}, {"complete.diff", completeDiff}, {"abort.diff", abortDiff},
			} {
				if diff := cmp.Diff(g.section(c.name), c.got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, diff)
				}
			}
		})
	}
}

// strata runs the CLI in-process and fails the test on a non-zero exit.
func strata(t *testing.T, url, dir string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--url", url, "--dir", dir}, args...)
	if code := cli.Main(ctx, full, nil, &out, &errb); code != 0 {
		t.Fatalf("strata %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

// lintClean runs `strata lint` on the converted file: no finding at all,
// or exactly the codes the golden's "lint:" header line lists (for a
// statement kept as custom SQL that is unsafe as written).
func lintClean(t *testing.T, dir, want string) {
	t.Helper()
	var out, errb bytes.Buffer
	cli.Main(context.Background(), []string{"lint", "--pg-version", "16", "--format", "json", dir}, nil, &out, &errb)
	var report struct {
		FormatVersion int `json:"format_version"`
		Findings      []struct {
			Code string `json:"code"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil || report.FormatVersion != 1 {
		t.Fatalf("strata lint: %v (format_version %d)\n%s%s", err, report.FormatVersion, out.String(), errb.String())
	}
	var codes []string
	for _, f := range report.Findings {
		codes = append(codes, f.Code)
	}
	if got := strings.Join(codes, " "); got != want {
		var text bytes.Buffer
		cli.Main(context.Background(), []string{"lint", "--pg-version", "16", dir}, nil, &text, &text)
		t.Fatalf("strata lint: findings %q, want %q\n%s", got, want, text.String())
	}
}

// database is a fresh database with the golden's setup.sql run and a login
// role that is not a superuser, with the usual grants of an application.
type database struct {
	url, appURL, role string
}

func newDatabase(t *testing.T, setup string) *database {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	admin := connect(t, db.URL, "")
	role := "app_" + db.Name[len(db.Name)-8:] // the database's random suffix
	q := pgx.Identifier{role}.Sanitize()
	exec(t, admin, "CREATE ROLE "+q+" LOGIN NOSUPERUSER PASSWORD "+pgquery.Literal(role))
	// Runs before pgtest drops the database (clean-ups run last in, first
	// out): the role's privileges in it go first, then the role.
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP OWNED BY "+q+"; DROP ROLE "+q); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	if setup != "" {
		execScript(t, admin, setup)
	}
	exec(t, admin, "GRANT USAGE ON SCHEMA public TO "+q+";"+
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+q+";"+
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "+q+";"+
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+q+";"+
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "+q)
	admin.Close(ctx)
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &database{url: db.URL, role: role, appURL: fmt.Sprintf("postgres://%s:%s@%s:%d/%s", role, role, cfg.Host, cfg.Port, cfg.Database)}
}

func connect(t *testing.T, url, searchPath string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	if searchPath != "" {
		cfg.RuntimeParams["search_path"] = searchPath
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// execScript runs a script statement by statement (so that statements that
// cannot run in a transaction block work) and returns the rows of each as
// text, one line per row, columns separated by "|".
func execScript(t *testing.T, c *pgx.Conn, script string) string {
	t.Helper()
	f, err := pgquery.Parse(script)
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	var b strings.Builder
	for _, st := range f.Statements {
		rows, err := c.Query(context.Background(), st.Text, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", st.Text, err)
		}
		for rows.Next() {
			vals := rows.RawValues() // text: the simple protocol
			parts := make([]string, len(vals))
			for i, v := range vals {
				if v == nil {
					parts[i] = "NULL"
				} else {
					parts[i] = string(v)
				}
			}
			b.WriteString(strings.Join(parts, "|") + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", st.Text, err)
		}
	}
	return b.String()
}

// dump is `strata dump` without the list of applied migrations, the app
// role (named after the database) written as "app".
func dump(t *testing.T, db *database, dir string) string {
	t.Helper()
	out := strings.ReplaceAll(strata(t, db.url, dir, "dump"), db.role, "app")
	if i := strings.Index(out, "\n-- Applied migrations:"); i >= 0 {
		out = out[:i+1]
	}
	return out
}

// twoVersions runs old.sql as the old version and new.sql as the new one.
func twoVersions(t *testing.T, g *golden, db *database, dir string) (string, string) {
	t.Helper()
	vs := strings.TrimSpace(strata(t, db.url, dir, "schema-name"))
	oldConn := connect(t, db.appURL, "public")
	defer oldConn.Close(context.Background())
	newConn := connect(t, db.appURL, vs+", public")
	defer newConn.Close(context.Background())
	oldOut := execScript(t, oldConn, g.section("old.sql"))
	newOut := execScript(t, newConn, g.section("new.sql"))
	return oldOut, newOut
}

func runComplete(t *testing.T, g *golden, dir string) (oldOut, newOut, diff string) {
	t.Helper()
	// What running the SQL itself gives.
	ref := newDatabase(t, g.section("setup.sql"))
	refConn := connect(t, ref.url, "")
	execScript(t, refConn, g.section("input.sql"))
	refConn.Close(context.Background())
	want := dump(t, ref, dir)

	db := newDatabase(t, g.section("setup.sql"))
	strata(t, db.url, dir, "start")
	oldOut, newOut = twoVersions(t, g, db, dir)
	strata(t, db.url, dir, "complete", "--watch", "0")
	noLeftovers(t, db.url, "")
	return oldOut, newOut, lineDiff(want, dump(t, db, dir))
}

func runAbort(t *testing.T, g *golden, dir string) string {
	t.Helper()
	db := newDatabase(t, g.section("setup.sql"))
	before := dump(t, db, dir)
	strata(t, db.url, dir, "start")
	twoVersions(t, g, db, dir)
	vs := strings.TrimSpace(strata(t, db.url, dir, "schema-name"))
	strata(t, db.url, dir, "abort")
	noLeftovers(t, db.url, vs)
	return lineDiff(before, dump(t, db, dir))
}

// noLeftovers checks that no object of strata's phase is left in the
// managed schema, and that the version schema vs (if given) is gone.
func noLeftovers(t *testing.T, url, vs string) {
	t.Helper()
	c := connect(t, url, "")
	defer c.Close(context.Background())
	var found []string
	rows, err := c.Query(context.Background(), `
SELECT 'column ' || a.attrelid::regclass || '.' || a.attname FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
 WHERE r.relnamespace = 'public'::regnamespace AND a.attname LIKE '\_strata%' AND NOT a.attisdropped
UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE '\_strata%'
UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname LIKE '\_strata%'
UNION ALL SELECT 'relation ' || relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE '\_strata%'
UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = $1`, vs)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		found = append(found, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("left behind: %s", strings.Join(found, ", "))
	}
}

// lineDiff lists the lines only in a ("-") and only in b ("+"), in order
// (a longest-common-subsequence diff without context); "" when equal.
func lineDiff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+" + y[j] + "\n")
			j++
		default:
			out.WriteString("-" + x[i] + "\n")
			i++
		}
	}
	return out.String()
}
