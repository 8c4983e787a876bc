package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/engine"
)

// defaultWidth is the width progress lines fit in when the terminal's is
// unknown (output to a file or a pipe).
const defaultWidth = 80

// progress shows backfill progress: on a terminal, a line per table redrawn
// in place with a bar, rows done, this run's rate and the ETA; elsewhere, a
// plain line at most every few seconds (and when a table is done). Every
// line fits the width (the terminal's, else 80 columns): fields that do not
// fit are left out, the table name is shortened. A line left open on the
// terminal is ended (end, breakLine) before anything else is written and
// when the command ends, interrupted or not.
type progress struct {
	w     io.Writer
	tty   bool
	width func() int
	every time.Duration
	quiet bool
	now   func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	open bool // a terminal line without its newline yet
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, every: 5 * time.Second, quiet: quiet, now: time.Now, last: map[string]time.Time{},
		width: func() int { return defaultWidth }}
	if f, ok := underlying(w).(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.width = func() int {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
				return w
			}
			return defaultWidth
		}
	}
	return p
}

func (p *progress) report(pr backfill.Progress) {
	if p == nil || p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// A terminal line may not end in its last column: some terminals wrap
	// there.
	width := p.width()
	if p.tty {
		width--
	}
	if p.tty {
		if !pr.Done && now.Sub(p.last[pr.Table]) < 100*time.Millisecond {
			return
		}
		p.last[pr.Table] = now
		fmt.Fprintf(p.w, "\r\033[K%s", progressLine(pr, width, true))
		p.open = true
		if pr.Done {
			p.endLine()
			for _, l := range doneLines(pr, width) {
				fmt.Fprintln(p.w, l)
			}
		}
		return
	}
	if !pr.Done && now.Sub(p.last[pr.Table]) < p.every {
		return
	}
	p.last[pr.Table] = now
	fmt.Fprintln(p.w, progressLine(pr, width, false))
	if pr.Done {
		for _, l := range doneLines(pr, width) {
			fmt.Fprintln(p.w, l)
		}
	}
}

// breakLine ends an open terminal line, so that a log line or an error
// starts on a line of its own.
func (p *progress) breakLine() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}

func (p *progress) endLine() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// progressLine renders one progress report in at most width columns. The
// fields, most important first: the table, rows done, this run's rate, the
// ETA or what the backfill waits for, then sizes. What does not fit is left
// out, least important first: first the table name is shortened (to 16
// columns at least), then counts are abbreviated (4.6M), then fields are
// dropped. The bar (bar only) takes what is left, up to 30 columns.
func progressLine(pr backfill.Progress, width int, bar bool) string {
	rate := pr.Rate()
	frac := -1.0
	rows := []string{countText(pr.RowsDone) + " rows", shortCount(pr.RowsDone) + " rows"}
	if pr.RowsEstimate > 0 {
		frac = float64(pr.RowsDone) / float64(pr.RowsEstimate)
		if pr.Done || frac > 1 {
			frac = 1
		}
		pct := fmt.Sprintf(" (%.0f%%)", 100*frac)
		rows = []string{countText(pr.RowsDone) + "/~" + countText(pr.RowsEstimate) + " rows" + pct,
			shortCount(pr.RowsDone) + "/~" + shortCount(pr.RowsEstimate) + pct, strings.TrimSpace(pct)}
	}
	rates := []string{rateText(rate), shortCount(int64(rate+0.5)) + "/s"}
	var status []string // full and short form
	switch {
	case len(pr.BlockingPIDs) > 0:
		status = []string{"waiting for a lock held by " + pidsText(pr.BlockingPIDs), "lock: " + pidsText(pr.BlockingPIDs)}
	case pr.Paused != "":
		status = []string{"paused: " + pr.Paused, "paused"}
	case pr.Done:
		status = []string{"done in " + pr.Elapsed.Round(time.Millisecond).String(), "done"}
	case rate > 0 && pr.RowsEstimate > pr.RowsDone:
		eta := time.Duration(float64(pr.RowsEstimate-pr.RowsDone) / rate * float64(time.Second))
		status = []string{"ETA " + eta.Round(time.Second).String()}
	}
	var extra []string // least important first
	if pr.SpaceBlocked != "" && !pr.Done {
		extra = append(extra, "space not reused")
	}
	if pr.SizeNow > 0 && !pr.Done {
		extra = append([]string{fmt.Sprintf("+%s of ~%s", bytesText(max(pr.SizeNow-pr.SizeBefore, 0)), bytesText(pr.ExpectedExtra))}, extra...)
	}
	const head = "backfill "
	minTable := min(cols(pr.Table), 16)
	build := func(fields []string) (string, bool) {
		body := strings.Join(fields, ", ")
		room := width - cols(head) - len(": ") - cols(body)
		if room < minTable {
			return "", false
		}
		return head + shorten(pr.Table, room) + ": ", true
	}
	var prefix, body string
	found := false
	// What is left out as the width shrinks, in order: the extra fields
	// (last first), then the long forms of rows, rate and status, then
	// the status, then the rate.
	ri, rti, si := 0, 0, 0
	fields := func(withStatus, withRate bool, nExtra int) []string {
		f := []string{rows[ri]}
		if withRate {
			f = append(f, rates[rti])
		}
		if withStatus && len(status) > 0 {
			f = append(f, status[si])
		}
		return append(f, extra[:nExtra]...)
	}
	var candidates [][]string
	for n := len(extra); n >= 0; n-- {
		candidates = append(candidates, fields(true, true, n))
	}
	ri = 1
	candidates = append(candidates, fields(true, true, 0))
	rti = 1
	candidates = append(candidates, fields(true, true, 0))
	if len(status) > 1 {
		si = 1
		candidates = append(candidates, fields(true, true, 0))
	}
	candidates = append(candidates, fields(false, true, 0), fields(false, false, 0))
	for _, r := range rows[2:] {
		candidates = append(candidates, []string{r})
	}
	for _, fields := range candidates {
		if p, ok := build(fields); ok {
			prefix, body, found = p, strings.Join(fields, ", "), true
			break
		}
	}
	if !found {
		return shorten(head+pr.Table+": "+rows[len(rows)-1], width)
	}
	line := prefix + body
	if bar && frac >= 0 {
		// [####......] after the table name, as wide as what is left
		// allows (at most 30).
		if n := min(30, width-cols(line)-3); n >= 10 {
			done := int(frac * float64(n))
			line = prefix + "[" + strings.Repeat("#", done) + strings.Repeat(".", n-done) + "] " + body
		}
	}
	return line
}

// shortCount abbreviates a count: 950, 12.3k, 4.55M, 1.2G.
func shortCount(n int64) string {
	f := float64(n)
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return strconv.FormatFloat(f/1e3, 'g', 3, 64) + "k"
	case n < 1_000_000_000:
		return strconv.FormatFloat(f/1e6, 'g', 3, 64) + "M"
	}
	return strconv.FormatFloat(f/1e9, 'g', 3, 64) + "G"
}

// doneLines are the lines after a table's last progress line: its sizes
// and what kept space from being reused, wrapped to width.
func doneLines(pr backfill.Progress, width int) []string {
	var out []string
	if pr.SizeAfter > 0 {
		out = append(out, wrap(fmt.Sprintf("  table %s: size %s -> %s (expected extra ~%s, %d VACUUMs)", pr.Table,
			bytesText(pr.SizeBefore), bytesText(pr.SizeAfter), bytesText(pr.ExpectedExtra), pr.Vacuums), width, "    ")...)
	}
	if pr.SpaceBlocked != "" {
		out = append(out, wrap("  "+pr.SpaceBlocked, width, "    ")...)
	}
	return out
}

// wrap breaks s at spaces into lines of at most width columns, the lines
// after the first indented by indent; a word longer than a line is cut.
func wrap(s string, width int, indent string) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line == "" {
			line = w
			if len(out) > 0 {
				line = indent + w
			} else if strings.HasPrefix(s, "  ") {
				line = "  " + w
			}
			continue
		}
		if cols(line)+1+cols(w) > width {
			out = append(out, shorten(line, width))
			line = indent + w
			continue
		}
		line += " " + w
	}
	if line != "" {
		out = append(out, shorten(line, width))
	}
	return out
}

// cols is the columns s takes (one a rune).
func cols(s string) int { return utf8.RuneCountInString(s) }

// shorten cuts s to at most n columns, ending it with "…" when cut.
func shorten(s string, n int) string {
	if cols(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:max(n, 0)])
	}
	return string([]rune(s)[:n-1]) + "…"
}

func pidsText(pids []int) string {
	parts := make([]string, len(pids))
	for i, p := range pids {
		parts[i] = strconv.Itoa(p)
	}
	if len(pids) == 1 {
		return "pid " + parts[0]
	}
	return "pids " + strings.Join(parts, ", ")
}

// countText renders a count with thousands separators: 4,700,000.
func countText(n int64) string { return backfill.CountText(n) }

// bytesText renders a size for people (the engine's form).
func bytesText(n int64) string { return engine.BytesText(n) }
