package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
)

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = cli.Main(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestClientsExitStatus: the exit status of clients and complete's watch:
// 2 for bad flag values, 1 for a refusal by --require-idle-old (the old
// version being the base tables here), 0 with a warning (even with -q) for
// a session connected before the phase.
func TestClientsExitStatus(t *testing.T) {
	for _, args := range [][]string{
		{"clients", "--watch", "-1s"}, {"clients", "--watch", "soon"}, {"clients", "extra"},
		{"complete", "--watch", "-2s"}, {"complete", "--require-idle-old=maybe"},
	} {
		if code, _, stderr := runMain(t, append([]string{"--url", "postgres://nobody@127.0.0.1:1/x"}, args...)...); code != 2 {
			t.Errorf("strata %v: exit %d, want 2; stderr %q", args, code, stderr)
		}
	}

	db := pgtest.New(t)
	db.Exec(t, "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL); INSERT INTO users (name) VALUES ('alice')")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "001_full_name.toml"), []byte(`[[actions]]
type = "alter_column"
table = "users"
column = "name"
changes = { name = "full_name" }
`), 0o666); err != nil {
		t.Fatal(err)
	}
	base := []string{"--url", db.URL, "--dir", dir}
	connect := func(app string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(db.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["application_name"] = app
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	early := connect("early-app")
	time.Sleep(10 * time.Millisecond)
	if code, _, stderr := runMain(t, append(base, "start")...); code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	old := connect("base-app")
	ctx := context.Background()
	if _, err := old.Exec(ctx, "BEGIN; SELECT name FROM users"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, append(base, "-q", "complete", "--watch", "200ms", "--require-idle-old")...)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "strata: complete refused: 1 session(s) used the old version (base tables of public) in the last 200ms") ||
		!strings.Contains(stderr, `application_name "base-app"`) || !strings.Contains(stderr, "locks public.users in") ||
		!strings.Contains(stderr, "\nhint: ") {
		t.Errorf("refusal: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if _, err := old.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, append(base, "-q", "complete", "--watch", "200ms")...)
	if code != 0 || stdout != "completed 001_full_name\n" ||
		!strings.HasPrefix(stderr, "strata: warning: 1 session(s) connected before the phase started (probably the old version (base tables of public); not seen using it in the last 200ms):\n") ||
		!strings.Contains(stderr, `application_name "early-app"`) || !strings.Contains(stderr, "\nhint: completing anyway") {
		t.Errorf("complete with a probably old session: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	_ = early
}
