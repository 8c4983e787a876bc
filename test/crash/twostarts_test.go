package crash_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	slowName = "001_slow"

	// start takes over 2s: a custom action sleeps (and logs each run of
	// start's steps), then a real change.
	slowMigration = `
[[actions]]
type = "custom"
start = "INSERT INTO start_log DEFAULT VALUES; SELECT pg_sleep(2)"

[[actions]]
type = "add_column"
table = "items"
  [actions.column]
  name = "note"
  type = "text"
`
	slowSetup = `CREATE TABLE items (id bigserial PRIMARY KEY, val text NOT NULL);
		INSERT INTO items (val) SELECT g::text FROM generate_series(1, 100) g;
		CREATE TABLE start_log (n bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());`
)

// twoStarts launches two `strata start` processes at the same moment and
// returns the one that succeeded and the other; exactly one must succeed.
func twoStarts(t *testing.T, e *env, args ...string) (winner, loser result) {
	t.Helper()
	a := e.spawn("", append([]string{"start"}, args...)...)
	b := e.spawn("", append([]string{"start"}, args...)...)
	// Wait for both at once, so that each one's time is its own.
	ch := make(chan result, 1)
	go func() { ch <- b.waitErr() }()
	ra, rb := a.waitErr(), <-ch
	for _, r := range []result{ra, rb} {
		if r.err != nil {
			t.Fatalf("strata start: %v", r.err)
		}
	}
	switch {
	case ra.code == 0 && rb.code != 0:
		winner, loser = ra, rb
	case rb.code == 0 && ra.code != 0:
		winner, loser = rb, ra
	default:
		t.Fatalf("want exactly one of two concurrent starts to succeed:\nfirst: %s\nsecond: %s", ra, rb)
	}
	if loser.signal != 0 {
		t.Fatalf("the refused start was killed: %s", loser)
	}
	t.Logf("winner took %s; loser exited %d after %s: %s", winner.took.Round(time.Millisecond),
		loser.code, loser.took.Round(time.Millisecond), strings.TrimSpace(loser.stderr))
	if !strings.Contains(winner.stdout, "started "+slowName) {
		t.Errorf("the successful start printed:\n%s", winner.stdout)
	}
	// Exactly one phase, started once and completely.
	st := e.wantPhase("started")
	if diff := cmp.Diff([]string{slowName}, st.InProgress); diff != "" {
		t.Errorf("in progress (-want +got):\n%s", diff)
	}
	if got := e.query("SELECT count(*) FROM start_log"); !cmp.Equal(got, []string{"1"}) {
		t.Errorf("start's steps ran %v times, want 1", got)
	}
	// add_column gives items the new version's shape: its version schema
	// has no view of it, the new version reaches the table.
	vs := "public_" + slowName
	if got := e.query(`SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1),
		(SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = 'items' AND column_name = 'note')`, vs); !cmp.Equal(got, []string{"1|1"}) {
		t.Errorf("the new version schema and items.note: %v, want both", got)
	}
	e.ok("complete")
	e.wantIdle(slowName)
	e.assertClean()
	return winner, loser
}

// TestTwoStartsAtOnce: the second strata refuses at once, naming the other
// process.
func TestTwoStartsAtOnce(t *testing.T) {
	e := newEnv(t, slowSetup, slowName+".toml", slowMigration)
	e.ok("init")
	_, loser := twoStarts(t, e)
	// It names the holder (recorded in the lease) and says what to do.
	for _, want := range []string{"another strata (pid ", ", host ", ", started ", "holds the lock on schema strata", "hint: "} {
		if !strings.Contains(loser.stderr, want) {
			t.Errorf("the refused start's stderr does not say %q:\n%s", want, loser.stderr)
		}
	}
	if loser.took > 1500*time.Millisecond {
		t.Errorf("the refused start took %s: it should refuse at once", loser.took)
	}
}

// TestTwoStartsLockWait: with --lock-wait, the second strata waits for the
// first to finish, then finds the phase it started in progress and refuses.
func TestTwoStartsLockWait(t *testing.T) {
	e := newEnv(t, slowSetup, slowName+".toml", slowMigration)
	e.ok("init")
	winner, loser := twoStarts(t, e, "--lock-wait", "10s")
	if !strings.Contains(loser.stderr, "in progress") || strings.Contains(loser.stderr, "another strata") {
		t.Errorf("the waiting start's stderr should say a phase is in progress:\n%s", loser.stderr)
	}
	if loser.took < 1500*time.Millisecond || loser.took > 9*time.Second {
		t.Errorf("the waiting start exited after %s (the first took %s): it should have waited for the first", loser.took, winner.took)
	}
}
