package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/engine"
)

// progress shows backfill progress: on a terminal, a bar per table redrawn in
// place with rows done, rate and ETA; elsewhere, a plain log line at most
// every few seconds (and when a table is done).
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	quiet bool

	mu   sync.Mutex
	last map[string]time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	tty := false
	if f, ok := underlying(w).(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, every: 5 * time.Second, quiet: quiet, last: map[string]time.Time{}}
}

func (p *progress) report(pr backfill.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.tty {
		if !pr.Done && now.Sub(p.last[pr.Table]) < 100*time.Millisecond {
			return
		}
		p.last[pr.Table] = now
		end := ""
		if pr.Done {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r\033[K%s%s", line(pr, true), end)
		return
	}
	if !pr.Done && now.Sub(p.last[pr.Table]) < p.every {
		return
	}
	p.last[pr.Table] = now
	fmt.Fprintln(p.w, line(pr, false))
}

// line renders one progress report.
func line(pr backfill.Progress, bar bool) string {
	rate := 0.0
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = float64(pr.RowsDone) / s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "backfill %s: ", pr.Table)
	if pr.RowsEstimate > 0 {
		frac := float64(pr.RowsDone) / float64(pr.RowsEstimate)
		if pr.Done || frac > 1 {
			frac = 1
		}
		if bar {
			const width = 30
			n := int(frac * width)
			fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", n), strings.Repeat(".", width-n))
		}
		fmt.Fprintf(&b, "%d/~%d rows (%.0f%%)", pr.RowsDone, pr.RowsEstimate, 100*frac)
	} else {
		fmt.Fprintf(&b, "%d rows", pr.RowsDone)
	}
	fmt.Fprintf(&b, ", %.0f rows/s", rate)
	if pr.SizeNow > 0 && !pr.Done {
		fmt.Fprintf(&b, ", extra size %s (expected ~%s)", bytesText(max(pr.SizeNow-pr.SizeBefore, 0)), bytesText(pr.ExpectedExtra))
	}
	if pr.SpaceBlocked != "" {
		fmt.Fprintf(&b, "; %s", pr.SpaceBlocked)
	}
	switch {
	case pr.Paused != "":
		fmt.Fprintf(&b, ", paused: %s", pr.Paused)
	case pr.Done && pr.SizeAfter > 0:
		fmt.Fprintf(&b, ", done in %s; table size %s -> %s (expected extra ~%s, %d VACUUMs)", pr.Elapsed.Round(time.Millisecond),
			bytesText(pr.SizeBefore), bytesText(pr.SizeAfter), bytesText(pr.ExpectedExtra), pr.Vacuums)
	case pr.Done:
		fmt.Fprintf(&b, ", done in %s", pr.Elapsed.Round(time.Millisecond))
	case rate > 0 && pr.RowsEstimate > pr.RowsDone:
		eta := time.Duration(float64(pr.RowsEstimate-pr.RowsDone) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// bytesText renders a size for people (the engine's form).
func bytesText(n int64) string { return engine.BytesText(n) }
