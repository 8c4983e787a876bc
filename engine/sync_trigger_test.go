package engine_test

import (
	"strings"
	"testing"
)

// Regression: the sync trigger's "did a column the writer sees change?"
// test compared the columns with IS DISTINCT FROM, which needs an equality
// operator: every write to a table with a json, point or xml column failed
// with "operator does not exist: json = json" once a phase was in progress.
func TestSyncTriggerColumnsWithoutEquality(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "sync_trigger/columns_without_equality")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("public", fx.migrations()...))
		p.exec(p.old, `UPDATE docs SET body = '{"o": 1}', spot = point(0, 1), amount = '70' WHERE id = 7`)
		p.exec(p.new, `UPDATE docs SET body = '{"n": 1}', spot = point(1, 0), amount = 80 WHERE id = 8`)
		p.exec(p.old, `UPDATE docs SET body = '{"o": 2}' WHERE id = 9`)
		p.exec(p.new, `UPDATE docs SET spot = point(2, 2) WHERE id = 10`)
		p.exec(p.old, `INSERT INTO docs VALUES (100, '{}', point(3, 3), '100')`)
		p.exec(p.new, `INSERT INTO docs VALUES (101, '{}', point(4, 4), 101)`)
		for _, c := range p.both() {
			want(t, c.name+" version reads", []string{
				`7|{"o": 1}|(0,1)|70`, `8|{"n": 1}|(1,0)|80`, `9|{"o": 2}|(9,9)|9`,
				`10|{"n" : 10}|(2,2)|10`, "100|{}|(3,3)|100", "101|{}|(4,4)|101"},
				p.q(c.c, "SELECT id, body::text, spot::text, amount FROM docs WHERE id IN (7, 8, 9, 10, 100, 101) ORDER BY id"))
		}
		if path == "complete" {
			p.complete()
		} else {
			p.abort()
		}
	})
}

// Once the backfill is done, the sync trigger has no WHEN clause and its
// function no backfill test: PostgreSQL compiles a trigger's WHEN clause
// for every statement, which cost each single-row write of both versions
// about as much as the trigger itself.
func TestSyncTriggerSteadyState(t *testing.T) {
	fx := loadFixture(t, "sync_trigger/steady_state")
	e := newEnv(t, tables(t, "users"))
	p := begin(t, e, "", "", e.migs("public", fx.migrations()...))
	got := p.q(p.old, `SELECT t.tgqual IS NULL, f.prosrc FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid
		WHERE t.tgrelid = 'public.users'::regclass AND t.tgname = '_strata_sync'`)
	if len(got) != 1 || !strings.HasPrefix(got[0], "true|") {
		t.Fatalf("sync trigger after start: want no WHEN clause, got %q", got)
	}
	if strings.Contains(got[0], "strata.backfill") {
		t.Errorf("sync trigger function still tests strata.backfill after the backfill:\n%s", got[0])
	}
	// The up expression reads the row directly.
	if !strings.Contains(got[0], "length(new.email) * 2") {
		t.Errorf("sync trigger function does not assign from NEW directly:\n%s", got[0])
	}
	p.exec(p.old, "INSERT INTO users (email) VALUES ('abc@x.org')")
	want(t, "elen of an old-version insert", []string{"18"}, p.q(p.new, "SELECT elen FROM users WHERE email = 'abc@x.org'"))
	// An old-version update that changes nothing the old version sees
	// leaves the new version's value alone.
	p.exec(p.new, "UPDATE users SET elen = 5 WHERE id = 3")
	p.exec(p.old, "UPDATE users SET name = name WHERE id = 3")
	want(t, "elen after an old-version no-op update", []string{"5"}, p.q(p.new, "SELECT elen FROM users WHERE id = 3"))
	p.exec(p.old, "UPDATE users SET email = 'xyzw' || email WHERE id = 3")
	want(t, "elen after an old-version update of email", []string{"24"}, p.q(p.new, "SELECT elen FROM users WHERE id = 3"))
	p.complete()
}
