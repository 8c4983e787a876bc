package crash_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/stratapg/strata/engine"
)

const (
	nRows   = 3000
	migName = "001_numeric_val"
	vs      = "public_" + migName

	// items.val holds decimals as text; the last digits vary.
	itemsSetup = `CREATE TABLE items (id bigserial PRIMARY KEY, val text NOT NULL);
		INSERT INTO items (val) SELECT g || '.' || lpad((g % 100)::text, 2, '0') FROM generate_series(1, 3000) g;
		ANALYZE items;`
)

// itemsMigration is a type change with up/down and a NOT NULL column filled
// by up: start has a backfill, complete has several steps. It is the engine
// tests' tables/big_items numeric_val.toml, read from their archive so that
// the text lives in one place.
func itemsMigration(t *testing.T) string {
	t.Helper()
	const path = "../../engine/testdata/tables/big_items.txtar"
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatalf("test inputs: %v", err)
	}
	for _, f := range a.Files {
		if f.Name == "numeric_val.toml" {
			return string(f.Data)
		}
	}
	t.Fatalf("test inputs: %s has no file numeric_val.toml", path)
	return ""
}

func newItems(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, itemsSetup, migName+".toml", itemsMigration(t))
	e.ok("init")
	return e
}

// rows returns the base table as the old version sees it: "id|val".
func (e *env) rows() []string {
	e.t.Helper()
	return e.query("SELECT id, val FROM public.items ORDER BY id")
}

// checkBothVersions fails the test unless every row reads the same through
// both versions (new val = up(old val), old val = down(new val)) and whole
// = up(old val): no row was missed by the backfill.
func (e *env) checkBothVersions(wantRows int) {
	e.t.Helper()
	got := e.query(`SELECT count(*),
			count(*) FILTER (WHERE o.id IS NULL OR n.id IS NULL OR n.val IS DISTINCT FROM o.val::numeric
				OR o.val IS DISTINCT FROM n.val::text OR n.whole IS DISTINCT FROM floor(o.val::numeric)::bigint)
		FROM public.items o FULL JOIN ` + pgx.Identifier{vs}.Sanitize() + `.items n ON n.id = o.id`)
	if want := []string{fmt.Sprintf("%d|0", wantRows)}; !cmp.Equal(want, got) {
		e.t.Errorf("rows|rows inconsistent between the versions: got %v, want %v", got, want)
	}
}

// checkCompleted fails the test unless, after complete, every row holds
// up() of what the old version had: before is e.rows() taken just before
// complete.
func (e *env) checkCompleted(before []string) {
	e.t.Helper()
	want := make([]string, len(before))
	for i, r := range before {
		_, val, _ := strings.Cut(r, "|")
		whole, _, _ := strings.Cut(val, ".")
		want[i] = r + "|" + whole
	}
	got := e.query("SELECT id, val::text, whole FROM public.items ORDER BY id")
	if diff := cmp.Diff(want, got); diff != "" {
		e.t.Errorf("rows after complete (-want +got):\n%s", diff)
	}
	cols := e.query(`SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
		WHERE attrelid = 'public.items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)
	if diff := cmp.Diff([]string{"id|bigint|true", "val|numeric|true", "whole|bigint|true"}, cols); diff != "" {
		e.t.Errorf("columns after complete (-want +got):\n%s", diff)
	}
}

// stepIDs returns the ids of steps.
func stepIDs(steps []engine.Step) []string {
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestCrashDuringBackfill kills start after its third backfill batch
// (batches start at 100 rows), writes through the old version while the
// phase is stuck, and re-runs start: the backfill resumes from its
// checkpoint (does not redo done batches), no row is missed, and complete
// then gives every row up(old value).
func TestCrashDuringBackfill(t *testing.T) {
	e := newItems(t)
	e.crash("batch:3", "start", "--batch-size", "100")
	st := e.wantPhase("starting")
	if len(st.Backfills) != 1 || st.Backfills[0].Done || st.Backfills[0].RowsDone < 300 || st.Backfills[0].RowsDone > nRows/2 {
		t.Fatalf("backfill checkpoint after the crash: %+v, want between 300 and %d rows done, not done", st.Backfills, nRows/2)
	}
	done := st.Backfills[0].RowsDone // ids 1..done are filled: the backfill goes in key order
	for _, s := range e.schemas() {
		if s == vs {
			t.Errorf("the version schema exists before start has finished")
		}
	}
	if got := e.query("SELECT count(*) FROM items WHERE whole IS NULL"); !cmp.Equal(got, []string{fmt.Sprint(nRows - done)}) {
		t.Errorf("rows not yet filled after the crash: %v, want %d", got, nRows-done)
	}
	// The old version keeps working meanwhile: a row already backfilled
	// and one not yet reached change, one not yet reached goes, two come.
	e.db.Exec(t, `UPDATE items SET val = '7777.01' WHERE id = 10;
		UPDATE items SET val = '8888.02' WHERE id = 2000;
		DELETE FROM items WHERE id = 2500;
		INSERT INTO items (val) VALUES ('9999.03'), ('5.5');`)

	r := e.ok("start", "--batch-size", "100")
	if !strings.Contains(r.stderr, "resuming") {
		t.Errorf("start after the crash did not say it resumes:\n%s", r.stderr)
	}
	st = e.wantPhase("started")
	// The rows done before the crash, then the rest of the original 3,000
	// but the deleted one: no batch done twice, the inserted rows left to
	// the sync trigger.
	if len(st.Backfills) != 1 || st.Backfills[0].RowsDone != nRows-1 || !st.Backfills[0].Done {
		t.Errorf("backfill after resuming: %+v, want %d rows done, done", st.Backfills, nRows-1)
	}
	e.checkBothVersions(nRows + 1)
	before := e.rows()
	e.ok("complete")
	e.wantIdle(migName)
	e.checkCompleted(before)
	e.assertClean()
	if diff := cmp.Diff([]string{"public", vs, "strata"}, e.schemas()); diff != "" {
		t.Errorf("schemas after complete (-want +got):\n%s", diff)
	}
}

// TestCrashDuringComplete kills complete after one of its steps: after its
// first, and complete runs again to the end; after its last, the contract
// transaction, which has recorded the end of the phase. On PostgreSQL 18
// complete has the contract only (the NOT NULL constraints validated at
// start need no SET NOT NULL step), so both are one case.
func TestCrashDuringComplete(t *testing.T) {
	steps := stepIDs(newItems(t).plan().Complete)
	cases := []string{steps[0]}
	if len(steps) > 1 {
		cases = append(cases, steps[len(steps)-1])
	}
	for _, step := range cases {
		t.Run(step, func(t *testing.T) {
			e := newItems(t)
			e.ok("start")
			e.checkBothVersions(nRows)
			before := e.rows()
			e.crash("complete:"+step, "complete")
			if step == "contract" {
				// The contract transaction records the end of the phase:
				// nothing is left to do, and complete again changes nothing.
				e.wantIdle(migName)
				if r := e.run("", "complete"); r.code == 0 || !strings.Contains(r.stderr, "no migration phase is in progress") {
					t.Errorf("complete again after the crash: %s; want it refused, no phase in progress", r)
				}
			} else {
				e.wantPhase("completing")
				// The phase is stuck in complete: start refuses.
				if r := e.run("", "start"); r.code == 0 {
					t.Errorf("start while complete is interrupted succeeded: %s", r)
				}
				// Both versions still read the data meanwhile.
				e.checkBothVersions(nRows)
				e.ok("complete")
			}
			e.wantIdle(migName)
			e.checkCompleted(before)
			e.assertClean()
			if diff := cmp.Diff([]string{"public", vs, "strata"}, e.schemas()); diff != "" {
				t.Errorf("schemas after complete (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCrashDuringAbort kills abort after its first step and re-runs it:
// the database is as before start.
func TestCrashDuringAbort(t *testing.T) {
	e := newItems(t)
	plan := e.plan()
	if len(plan.Abort) < 2 {
		t.Fatalf("abort has steps %v; the test needs at least 2", stepIDs(plan.Abort))
	}
	before := e.snapshot("public")
	rows := e.rows()
	e.ok("start")
	e.crash("abort:"+plan.Abort[0].ID, "abort")
	e.wantPhase("aborting")
	e.ok("abort")
	e.wantIdle("")
	if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
		t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(rows, e.rows()); diff != "" {
		t.Errorf("rows after abort (-before +after):\n%s", diff)
	}
	e.assertClean()
}

// TestCrashDuringStart kills start right after it installed the sync
// trigger; then abort undoes everything, or start resumes.
func TestCrashDuringStart(t *testing.T) {
	const point = "start:sync-trigger:items"
	t.Run("abort", func(t *testing.T) {
		e := newItems(t)
		if ids := stepIDs(e.plan().Start); !strings.Contains(strings.Join(ids, " "), "sync-trigger:items") {
			t.Fatalf("start has no step sync-trigger:items: %v", ids)
		}
		before := e.snapshot("public")
		rows := e.rows()
		e.crash(point, "start")
		e.wantPhase("starting")
		if r := e.run("", "complete"); r.code == 0 {
			t.Errorf("complete of an interrupted start succeeded: %s", r)
		}
		e.ok("abort")
		e.wantIdle("")
		if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
			t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(rows, e.rows()); diff != "" {
			t.Errorf("rows after abort (-before +after):\n%s", diff)
		}
		e.assertClean()
	})
	t.Run("resume", func(t *testing.T) {
		e := newItems(t)
		e.crash(point, "start")
		e.wantPhase("starting")
		e.db.Exec(t, `UPDATE items SET val = '4242.42' WHERE id = 42`)
		e.ok("start")
		e.wantPhase("started")
		e.checkBothVersions(nRows)
		before := e.rows()
		e.ok("complete")
		e.checkCompleted(before)
		e.assertClean()
	})
}

// TestCrashAtEveryStep kills strata after each step of start, complete and
// abort in turn, and checks that re-running the interrupted command (or,
// for start, aborting instead) finishes correctly.
func TestCrashAtEveryStep(t *testing.T) {
	plan := newItems(t).plan()
	for _, st := range plan.Start {
		for _, then := range []string{"resume", "abort"} {
			t.Run("start/"+st.ID+"/"+then, func(t *testing.T) {
				t.Parallel()
				e := newItems(t)
				before := e.snapshot("public")
				rows := e.rows()
				e.crash("start:"+st.ID, "start", "--batch-size", "1000")
				if then == "abort" {
					e.ok("abort")
					e.wantIdle("")
					if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
						t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
					}
					if diff := cmp.Diff(rows, e.rows()); diff != "" {
						t.Errorf("rows after abort (-before +after):\n%s", diff)
					}
					e.assertClean()
					return
				}
				// After the last step start has finished: there is
				// nothing to resume.
				if e.status().Phase == "starting" {
					e.ok("start", "--batch-size", "1000")
				}
				e.wantPhase("started")
				e.checkBothVersions(nRows)
				e.ok("complete")
				e.checkCompleted(rows)
				e.assertClean()
			})
		}
	}
	for _, st := range plan.Complete {
		t.Run("complete/"+st.ID, func(t *testing.T) {
			t.Parallel()
			e := newItems(t)
			rows := e.rows()
			e.ok("start")
			e.crash("complete:"+st.ID, "complete")
			if e.status().State == "in_progress" {
				e.ok("complete")
			}
			e.wantIdle(migName)
			e.checkCompleted(rows)
			e.assertClean()
		})
	}
	for _, st := range plan.Abort {
		t.Run("abort/"+st.ID, func(t *testing.T) {
			t.Parallel()
			e := newItems(t)
			before := e.snapshot("public")
			rows := e.rows()
			e.ok("start")
			e.crash("abort:"+st.ID, "abort")
			if e.status().State == "in_progress" {
				e.ok("abort")
			}
			e.wantIdle("")
			if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
				t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(rows, e.rows()); diff != "" {
				t.Errorf("rows after abort (-before +after):\n%s", diff)
			}
			e.assertClean()
		})
	}
}
