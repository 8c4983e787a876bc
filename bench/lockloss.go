package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/stratapg/strata/test/lockloss"
)

// runLockLoss is the -lockloss N mode: N pairs of strata runs per mode in
// which the first loses (kill) or would lose (idle) its lock during a long
// backfill (see test/lockloss), and the writes of the first committed after
// the second began to act are counted from the database's side. It prints
// one line per mode and exits 1 unless there were no overlaps and no
// problems. The idle mode changes server settings, so it runs only on the
// throwaway cluster the benchmark starts itself.
func runLockLoss(ctx context.Context, cfg *config) int {
	e, err := newEnv(ctx, cfg)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	defer e.close()
	modes := []lockloss.Mode{lockloss.Kill, lockloss.Idle}
	if e.cluster == nil {
		log.Printf("an external server: the idle mode (ALTER SYSTEM) is left out")
		modes = modes[:1]
	}
	code := 0
	for _, mode := range modes {
		t0 := time.Now()
		overlaps, problems := 0, 0
		for i := range cfg.lockloss {
			out, err := lockloss.Pair(ctx, lockloss.Config{AdminURL: e.adminURL, Mode: mode})
			if err != nil {
				log.Printf("%s pair %d: %v", mode, i+1, err)
				return 1
			}
			overlaps += out.Overlaps
			problems += len(out.Problems)
			if out.Overlaps > 0 || len(out.Problems) > 0 {
				log.Printf("%s pair %d: %s", mode, i+1, out)
			}
		}
		fmt.Printf("lockloss %s: %d pairs, %d overlaps, %d problems (%s)\n", mode, cfg.lockloss, overlaps, problems,
			time.Since(t0).Round(time.Second))
		if overlaps > 0 || problems > 0 {
			code = 1
		}
	}
	return code
}
