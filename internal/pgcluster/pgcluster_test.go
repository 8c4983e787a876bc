package pgcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startOrSkip starts a cluster, skipping loudly when no server binaries exist
// (failing instead under CI=true).
func startOrSkip(t *testing.T, opts Options) *Cluster {
	t.Helper()
	if _, err := FindBinDir(opts.BinDir); errors.Is(err, ErrNoBinaries) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgcluster: NO POSTGRESQL SERVER BINARIES (CI=true, so this is a failure): %v", err)
		}
		t.Skipf("pgcluster: NO POSTGRESQL SERVER BINARIES, SKIPPING: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started PostgreSQL %s (major %d) from %s on port %d in %v", c.Version(), c.Major(), c.BinDir(), c.Port(), time.Since(start).Round(time.Millisecond))
	return c
}

func TestStartQueryStop(t *testing.T) {
	c := startOrSkip(t, Options{Settings: map[string]string{"application_name": "strata-it's"}})
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()

	if c.Major() < 10 {
		t.Errorf("Major() = %d, want >= 10", c.Major())
	}
	if !strings.HasPrefix(c.URL("x"), "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(c.URL("x"), "/x?sslmode=disable") {
		t.Errorf("URL(x) = %q", c.URL("x"))
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	for name, want := range map[string]string{
		"fsync":                   "off",
		"full_page_writes":        "off",
		"max_connections":         "300",
		"shared_buffers":          "256MB",
		"listen_addresses":        "127.0.0.1",
		"application_name":        "strata-it's", // extra settings are applied, quoting works
		"server_encoding":         "UTF8",
		"unix_socket_directories": c.Dir(),
	} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("setting %s = %q, want %q", name, got, want)
		}
	}
	var collate string
	if err := conn.QueryRow(ctx, "SELECT datcollate FROM pg_database WHERE datname = 'postgres'").Scan(&collate); err != nil || collate != "C" {
		t.Errorf("datcollate = %q, %v; want C", collate, err)
	}
	conn.Close(ctx)

	dir := c.Dir()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := c.Stop(); err != nil { // idempotent
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still exists after Stop (stat error %v)", dir, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(cctx, c.URL("postgres")); err == nil {
		conn.Close(ctx)
		t.Error("server still accepts connections after Stop")
	}
}

// TestWatchdog checks that the cluster is torn down when its owner goes away
// without calling Stop: closing the watchdog pipe simulates process exit.
func TestWatchdog(t *testing.T) {
	c := startOrSkip(t, Options{})
	defer c.Stop()

	c.watchdogPipe.Close()
	done := make(chan error, 1)
	go func() { done <- c.watchdog.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watchdog: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("watchdog did not finish within a minute")
	}
	c.watchdog = nil
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("watchdog left %s behind (stat error %v)", c.Dir(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.URL("postgres")); err == nil {
		conn.Close(ctx)
		t.Error("server still accepts connections after the watchdog ran")
	}
}

func TestFindBinDirErrors(t *testing.T) {
	_, err := FindBinDir(t.TempDir())
	if !errors.Is(err, ErrNoBinaries) || !strings.HasPrefix(err.Error(), "pgcluster: ") {
		t.Errorf("FindBinDir(empty dir) error = %v, want ErrNoBinaries with pgcluster prefix", err)
	}
	t.Setenv(EnvBinDir, filepath.Join(t.TempDir(), "nope"))
	_, err = FindBinDir("")
	if !errors.Is(err, ErrNoBinaries) || !strings.Contains(err.Error(), EnvBinDir) {
		t.Errorf("FindBinDir with bad %s: error = %v", EnvBinDir, err)
	}
}

func TestNewestDebianBinDir(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "13", "15", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if v == "16" {
			continue // client-only install: no server binaries
		}
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := newestDebianBinDir(root), filepath.Join(root, "15", "bin"); got != want {
		t.Errorf("newestDebianBinDir = %q, want %q", got, want)
	}
}
