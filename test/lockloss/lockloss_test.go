package lockloss_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stratapg/strata/internal/pgcluster"
	"github.com/stratapg/strata/test/lockloss"
)

// EnvPairs sets the number of pairs per mode (default 5); the long run of
// .ci/run and of docs/development.md uses 50.
const EnvPairs = "STRATA_LOCKLOSS_PAIRS"

// TestLockLoss runs pairs of strata in which the first loses its lock (its
// lock connection's backend terminated) or would lose it (a DBA sets
// idle_session_timeout) during a long backfill, and requires zero overlaps:
// no write of the first committed after the second began to act. It runs
// on a cluster of its own, because the idle mode changes server settings.
func TestLockLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own and runs paired backfills")
	}
	pairs := 5
	if v := os.Getenv(EnvPairs); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of pairs", EnvPairs, v)
		}
		pairs = n
	}
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start a cluster: %v", err)
		}
		t.Skipf("start a cluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	for _, mode := range []lockloss.Mode{lockloss.Kill, lockloss.Idle} {
		t.Run(string(mode), func(t *testing.T) {
			overlaps := 0
			for i := range pairs {
				t0 := time.Now()
				out, err := lockloss.Pair(ctx, lockloss.Config{AdminURL: c.URL("postgres"), Mode: mode})
				if err != nil {
					t.Fatalf("pair %d: %v", i+1, err)
				}
				overlaps += out.Overlaps
				if out.Overlaps > 0 || len(out.Problems) > 0 {
					t.Errorf("pair %d: %s", i+1, out)
				} else {
					t.Logf("pair %d (%s): %s", i+1, time.Since(t0).Round(time.Millisecond), out)
				}
			}
			t.Logf("%s: %d pairs, %d overlaps", mode, pairs, overlaps)
		})
	}
}
