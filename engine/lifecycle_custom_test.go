package engine_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stratapg/strata/engine"
)

func TestLifecycleCustom(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/custom/phase_log")
		customStart, customComplete, customAbort := fx.text("want/start.sql"), fx.text("want/complete.sql"), fx.text("want/abort.sql")
		e := newEnv(t, tables(t, "users")+fx.setup())
		migs := e.migs("", fx.migrations()...)

		// The plan records each part, verbatim, in its own phase only.
		plan, err := e.m.Plan(e.ctx, migs)
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range []struct {
			name  string
			steps []engine.Step
		}{{"start", plan.Start}, {"complete", plan.Complete}, {"abort", plan.Abort}} {
			var got []string
			for _, st := range ph.steps {
				for _, s := range st.SQL {
					for _, c := range []string{customStart, customComplete, customAbort} {
						if strings.Contains(s, c) {
							if s != c {
								t.Errorf("%s step %s: custom SQL not verbatim:\n%s", ph.name, st.ID, s)
							}
							got = append(got, c)
						}
					}
				}
			}
			wantSQL := map[string]string{"start": customStart, "complete": customComplete, "abort": customAbort}[ph.name]
			want(t, "custom SQL of the "+ph.name+" phase", []string{wantSQL}, got)
		}

		p := begin(t, e, "", "", migs)
		logQuery := "SELECT phase, note FROM phase_log ORDER BY n"
		want(t, "log after start", []string{"start|semi;colon 'quoted'2"}, p.q(p.old, logQuery))
		want(t, "lookup, new version", []string{"a", "b"}, p.q(p.new, "SELECT k FROM lookup ORDER BY k"))
		p.exec(p.new, "INSERT INTO lookup (k) VALUES ('c') ON CONFLICT (k) DO NOTHING")

		// Both versions read and write as usual.
		oldID := p.one(p.old, "INSERT INTO users (email, name) VALUES ('old@x.org', 'old') RETURNING id")
		newID := p.one(p.new, "INSERT INTO users (email, name) VALUES ('new@x.org', 'new') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id")
		p.exec(p.old, "UPDATE users SET name = 'five-old' WHERE id = 5")
		p.exec(p.new, "INSERT INTO users (email, name) VALUES ('u6@x.org', 'six-new') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name")
		p.exec(p.new, "DELETE FROM users WHERE id = 3")
		p.exec(p.old, "DELETE FROM users WHERE id = 4")
		usersQuery := "SELECT id, name FROM users WHERE id IN (3, 4, 5, 6, $1, $2) ORDER BY id"
		wantUsers := []string{"5|five-old", "6|six-new", oldID + "|old", newID + "|new"}
		for _, v := range p.both() {
			want(t, v.name+" version: users", wantUsers, p.q(v.c, usersQuery, oldID, newID))
		}
		// Nothing but start ran so far.
		want(t, "log before "+path, []string{"start|semi;colon 'quoted'2"}, p.q(p.old, logQuery))

		if path == "abort" {
			p.abort()
			// The abort SQL ran once, before the new table was dropped.
			want(t, "log after abort", []string{"start|semi;colon 'quoted'2", "abort|a,b,c"}, p.q(e.catalogConn(), logQuery))
			want(t, "users after abort", wantUsers, p.q(e.catalogConn(), usersQuery, oldID, newID))
			return
		}
		p.complete()
		want(t, "log after complete", []string{"start|semi;colon 'quoted'2", "complete|a,b,c"}, p.q(e.catalogConn(), logQuery))
		if rels := e.relations("public"); !slices.Contains(rels, "lookup r") {
			t.Errorf("lookup is missing after complete: %v", rels)
		}
		want(t, "new version after complete", wantUsers, p.q(p.new, usersQuery, oldID, newID))
	})
}
