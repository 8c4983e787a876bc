package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/backfill"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden files of cli's internal tests (progress lines)")

// golden compares got with testdata/progress/NAME.golden (-update-golden rewrites
// it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "progress", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cli -run %s -update)", err, t.Name())
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

// fakeProgress is a progress on a buffer, as on a terminal (tty) or not,
// with a clock that the reports advance.
func fakeProgress(tty bool, width int) (*progress, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &progress{w: &buf, tty: tty, every: 5 * time.Second, now: func() time.Time { return now },
		width: func() int { return width }, last: map[string]time.Time{}}
	return p, &buf, &now
}

// visible renders terminal output for a golden file: each redraw
// ("\r\033[K") starts a new "|" line, so that every state is seen.
func visible(s string) string {
	s = strings.ReplaceAll(s, "\r\033[K", "\n|")
	return strings.TrimPrefix(s, "\n")
}

// longTable is a table name too long for an 80-column line.
const longTable = "customer_order_line_items_with_a_very_long_descriptive_name"

// reports is a backfill of a long-named table, after a resume: 4.5M rows
// were done by an earlier run; this run does 50,000 rows a second.
func reports() []backfill.Progress {
	base := backfill.Progress{Table: longTable, RowsEstimate: 5_000_000, SizeBefore: 800 << 20, ExpectedExtra: 90 << 20}
	var out []backfill.Progress
	for i, s := range []int64{1, 2, 4} {
		p := base
		p.Elapsed = time.Duration(s) * time.Second
		p.RowsThisRun = 50_000 * s
		p.RowsDone = 4_500_000 + p.RowsThisRun
		p.Batches = i + 1
		if i == 1 {
			p.SizeNow = p.SizeBefore + 60<<20
		}
		if i == 2 {
			p.BlockingPIDs, p.Waited = []int{4242, 4343}, 3*time.Second
		}
		out = append(out, p)
	}
	done := base
	done.RowsDone, done.RowsThisRun, done.Elapsed, done.Done = 5_000_000, 500_000, 10*time.Second, true
	done.SizeAfter, done.Vacuums = 870<<20, 9
	done.SpaceBlocked = "space of filled rows is not reused while pid 77 keeps its transaction open (since 03:00:00): the table grows"
	return append(out, done)
}

// TestProgressGolden: progress lines at 80 columns (a terminal of 80 and
// output to a file), after a resume: no line is longer than the width, the
// rate counts only this run's rows (50,000 rows/s, not the 4.5M rows an
// earlier run did), a lock wait names the blocking pids, and the line of a
// finished table ends with a newline.
func TestProgressGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tty   bool
		width int
	}{
		{"tty80", true, 80},
		{"file80", false, 80},
		{"tty40", true, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, buf, now := fakeProgress(tc.tty, tc.width)
			for _, r := range reports() {
				*now = now.Add(6 * time.Second)
				p.report(r)
			}
			out := buf.String()
			if !strings.HasSuffix(out, "\n") {
				t.Errorf("output does not end its line: %q", out)
			}
			limit := tc.width
			if tc.tty {
				limit-- // a terminal may wrap at its last column
			}
			for _, l := range strings.Split(strings.ReplaceAll(out, "\r\033[K", "\n"), "\n") {
				if n := cols(l); n > limit {
					t.Errorf("line of %d columns (more than %d): %q", n, limit, l)
				}
			}
			if tc.width >= 80 && !strings.Contains(out, "50,000 rows/s") {
				t.Errorf("no rate of this run's rows (50,000 rows/s) in:\n%s", out)
			}
			if tc.width >= 80 && !strings.Contains(out, "lock: pids 4242, 4343") {
				t.Errorf("the lock wait does not name the blocking pids:\n%s", out)
			}
			if strings.Contains(out, "1,550,000 rows/s") || strings.Contains(out, "4,550,000 rows/s") {
				t.Errorf("the rate counts an earlier run's rows:\n%s", out)
			}
			golden(t, tc.name, visible(out))
		})
	}
}

// TestProgressInterrupted: a backfill interrupted mid-line (Ctrl-C, a
// cancelled context) leaves the terminal line open; breakLine, which Main
// calls when the command ends, ends it once, and log lines start on a line
// of their own.
func TestProgressInterrupted(t *testing.T) {
	p, buf, now := fakeProgress(true, 80)
	rs := reports()
	p.report(rs[0])
	*now = now.Add(time.Second)
	p.report(rs[1])
	if strings.HasSuffix(buf.String(), "\n") {
		t.Fatalf("a running backfill's terminal line should stay open: %q", buf.String())
	}
	p.breakLine() // the command ended: interrupted
	p.breakLine() // once only
	buf.WriteString("strata: start: interrupted\n")
	golden(t, "interrupted", visible(buf.String()))
	if strings.Count(buf.String(), "\n") != 2 {
		t.Errorf("want the progress line ended once, then the error: %q", buf.String())
	}
}

// TestProgressNilAndQuiet: no Migrator made (nil) or --quiet: nothing is
// written and nothing fails.
func TestProgressNilAndQuiet(t *testing.T) {
	var p *progress
	p.breakLine()
	p.report(backfill.Progress{Table: "t"})
	q, buf, _ := fakeProgress(true, 80)
	q.quiet = true
	q.report(reports()[0])
	q.breakLine()
	if buf.Len() != 0 {
		t.Errorf("quiet progress wrote %q", buf.String())
	}
}

func TestCountText(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 4_700_000: "4,700,000", -12345: "-12,345"} {
		if got := countText(n); got != want {
			t.Errorf("countText(%d) = %q, want %q", n, got, want)
		}
	}
}
