package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/migration"
)

// runWithin runs strata in-process and returns its exit status and stderr,
// failing the test if it has not returned within a minute (a reader blocked
// on a named pipe never would).
func runWithin(t *testing.T, args ...string) (int, string) {
	t.Helper()
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var stdout, stderr bytes.Buffer
		code := cli.Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
		done <- result{code, stderr.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stderr
	case <-time.After(time.Minute):
		t.Fatalf("strata %s: still running after a minute", strings.Join(args, " "))
		return 0, ""
	}
}

// hostileFile makes the file at path: a named pipe, a symbolic link to
// /dev/zero, or a (sparse) file larger than migration.MaxFileSize.
func hostileFile(t *testing.T, kind, path string) {
	t.Helper()
	var err error
	switch kind {
	case "fifo":
		err = syscall.Mkfifo(path, 0o666)
	case "zero":
		err = os.Symlink("/dev/zero", path)
	case "big":
		err = os.WriteFile(path, nil, 0o666)
		if err == nil {
			err = os.Truncate(path, migration.MaxFileSize+1)
		}
	}
	if err != nil {
		t.Skipf("cannot make a %s here: %v", kind, err)
	}
}

var hostileMsg = map[string]string{
	"fifo": "not a regular file (a named pipe)\nhint: replace it with a regular file",
	"zero": "not a regular file (a device)\nhint: replace it with a regular file",
	"big":  "larger than the 16 MiB limit for a migration file\nhint: split it into several migrations",
}

// TestHostileMigrationFiles: start, migrate and plan refuse a migrations
// folder holding a named pipe, a link to /dev/zero or an oversized file, at
// once, naming the file with its folder, and leave the database as it was.
func TestHostileMigrationFiles(t *testing.T) {
	for _, kind := range []string{"fifo", "zero", "big"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			migs := filepath.Join(t.TempDir(), "migrations")
			if err := os.Mkdir(migs, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(migs, "001_good.toml"), []byte(goodMigration), 0o666); err != nil {
				t.Fatal(err)
			}
			hostileFile(t, kind, filepath.Join(migs, "002_bad.toml"))
			db := pgtest.New(t)
			db.Exec(t, badInputSetup)
			before := snapshotAll(t, db)
			for _, cmd := range []string{"start", "migrate", "plan"} {
				code, stderr := runWithin(t, cmd, "--url", db.URL, "--dir", migs)
				stderr = strings.ReplaceAll(stderr, migs+string(filepath.Separator), "migrations/")
				want := "strata: migrations/002_bad.toml: " + hostileMsg[kind] + "\n"
				if code != 1 || stderr != want {
					t.Errorf("strata %s: exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", cmd, code, stderr, want)
				}
				if diff := cmp.Diff(before, snapshotAll(t, db)); diff != "" {
					t.Errorf("strata %s changed the database (-before +after):\n%s", cmd, diff)
				}
			}
		})
	}
}

// TestHostileLintFiles: strata lint refuses the same files, as SQL files
// named on the command line, SQL files found in a folder and migration
// files, naming the file.
func TestHostileLintFiles(t *testing.T) {
	for _, kind := range []string{"fifo", "zero", "big"} {
		for _, name := range []string{"x.sql", "sub/x.sql", "001_x.toml"} {
			t.Run(kind+"/"+name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
					t.Fatal(err)
				}
				hostileFile(t, kind, path)
				arg := path
				if name != "x.sql" {
					arg = dir // found in the folder
				}
				code, stderr := runWithin(t, "lint", "--pg-version", "15", arg)
				want := "strata: " + path + ": " + hostileMsg[kind] + "\n"
				if code != 1 || stderr != want {
					t.Errorf("strata lint %s: exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", arg, code, stderr, want)
				}
			})
		}
	}
}
