package engine_test

import (
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestLifecycleAddIdentityColumn adds an identity column to the existing
// table users: no rewrite, existing rows numbered by the batched backfill,
// rows of both versions numbered by the default until complete makes it an
// identity column that continues past every value given.
func TestLifecycleAddIdentityColumn(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"identity_always", "identity_by_default"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bothPaths(t, func(t *testing.T, path string) {
				var batches atomic.Int64
				fx := loadFixture(t, "lifecycle/add_column/"+name)
				e := newEnv(t, tables(t, "users"), countBatches(&batches))
				node := e.relfilenode("public", "users")
				p := begin(t, e, "", "", e.migs("", fx.migrations()...))
				if got := e.relfilenode("public", "users"); got != node {
					t.Errorf("start rewrote users: relfilenode %s -> %s", node, got)
				}
				if batches.Load() < 3 {
					t.Errorf("backfill of 250 rows ran in %d batches, want at least 3 with BatchSize 100", batches.Load())
				}
				// Existing rows are numbered, each with its own value.
				want(t, "existing rows: count, numbered, distinct", []string{"250|250|250"},
					p.q(p.new, "SELECT count(*), count(ticket), count(DISTINCT ticket) FROM users"))
				// The old version does not see the column; its inserts are
				// numbered by the default.
				if got := e.seenColumns("", "public", "users"); len(got) != len(usersColumns(t))+1 {
					t.Errorf("physical users: %v", got)
				}
				oldID := p.one(p.old, "INSERT INTO users (email, name) VALUES ('old@old.org', 'old') RETURNING id")
				oldTicket := p.one(p.new, "SELECT ticket FROM users WHERE id = $1", oldID)
				newTicket := p.one(p.new, "INSERT INTO users (email, name) VALUES ('new@new.org', 'new') RETURNING ticket")
				for _, v := range []string{oldTicket, newTicket} {
					if v == "" {
						t.Fatalf("an insert during the phase got no ticket")
					}
				}
				want(t, "tickets after inserts of both versions: distinct", []string{"252|252"},
					p.q(p.new, "SELECT count(ticket), count(DISTINCT ticket) FROM users"))
				// The new version cannot write NULL (the validated check; a
				// validated NOT NULL constraint on PostgreSQL 18).
				p.fails(p.new, p.notNull(), "INSERT INTO users (email, ticket) VALUES ('null@x.org', NULL)")
				// Updates of both versions keep the numbers.
				before := p.one(p.new, "SELECT ticket FROM users WHERE id = 8")
				p.exec(p.old, "UPDATE users SET name = 'eight-old' WHERE id = 8")
				p.exec(p.new, "UPDATE users SET name = 'nine-new' WHERE id = 9")
				want(t, "ticket of an updated row", []string{before}, p.q(p.new, "SELECT ticket FROM users WHERE id = 8"))
				p.exec(p.old, "DELETE FROM users WHERE id = 3")

				if path == "abort" {
					p.abort()
					want(t, "sequences after abort", []string{"users_id_seq"}, p.q(e.catalogConn(),
						"SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace ORDER BY 1"))
					return
				}
				maxBefore := p.one(p.new, "SELECT max(ticket) FROM users")
				p.complete()
				want(t, "users after complete", append(usersColumns(t), fx.text("want/column")), e.columns("public", "users"))
				if got := e.relfilenode("public", "users"); got != node {
					t.Errorf("users was rewritten: relfilenode %s -> %s", node, got)
				}
				cat := e.catalogConn()
				want(t, "identity sequence", []string{"public.users_ticket_seq"},
					p.q(cat, "SELECT pg_get_serial_sequence('public.users', 'ticket')"))
				want(t, "sequences after complete", []string{"users_id_seq", "users_ticket_seq"}, p.q(cat,
					"SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace ORDER BY 1"))
				want(t, "rows after complete: count, numbered, distinct", []string{"251|251|251"},
					p.q(cat, "SELECT count(*), count(ticket), count(DISTINCT ticket) FROM users"))
				// The identity continues past every value: inserts of the
				// new version and of the base table get numbers above the
				// maximum.
				mx, _ := strconv.Atoi(maxBefore)
				for _, c := range []namedConn{{"new", p.new}, {"base", cat}} {
					got, _ := strconv.Atoi(p.one(c.c, "INSERT INTO users (email) VALUES ('after-"+c.name+"@x.org') RETURNING ticket"))
					if got <= mx {
						t.Errorf("%s insert after complete got ticket %d, want above %d", c.name, got, mx)
					}
					mx = got
				}
				want(t, "identity sequence past the maximum", []string{"true"}, p.q(cat,
					"SELECT last_value >= (SELECT max(ticket) FROM users) FROM public.users_ticket_seq"))
				if name == "identity_always" {
					// GENERATED ALWAYS refuses a value unless told to override.
					p.fails(p.new, "428C9", "INSERT INTO users (email, ticket) VALUES ('explicit@x.org', 1)")
					want(t, "insert overriding the identity", []string{"1"},
						p.q(p.new, "INSERT INTO users (email, ticket) OVERRIDING SYSTEM VALUE VALUES ('explicit@x.org', 1) RETURNING ticket"))
				} else {
					want(t, "explicit value into a BY DEFAULT identity", []string{"7"},
						p.q(p.new, "INSERT INTO users (email, ticket) VALUES ('explicit@x.org', 7) RETURNING ticket"))
				}
			})
		})
	}
}

// TestAddColumnRefusals: add_column problems found before start.
func TestAddColumnRefusals(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "refusals/add_column")
	e := newEnv(t, tables(t, "users"))
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			c := fx.in(t).sub(name)
			startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
		})
	}
}

// TestIdentityResumes: strata is cut off (its lock connection terminated)
// right after one step of an identity column's start or complete; nothing
// after the cut commits, and running the phase again resumes it and ends
// with the same identity column.
func TestIdentityResumes(t *testing.T) {
	t.Parallel()
	cuts := []struct{ phase, step string }{
		{"start", "add-column:users.ticket"},
		{"start", "backfill:users"},
		{"start", "validate:users.ticket"},
		{"complete", "set-not-null:users.ticket"},
		{"complete", "identity:users.ticket"},
		{"complete", "drop-sequence:users.ticket"},
	}
	if pgtest.ServerMajor(t) >= 18 {
		// The NOT NULL constraint validated at start keeps its place
		// through complete: there is no set-not-null step to cut after.
		cuts = slices.DeleteFunc(cuts, func(c struct{ phase, step string }) bool { return c.step == "set-not-null:users.ticket" })
	}
	for _, cut := range cuts {
		t.Run(cut.phase+"/"+cut.step, func(t *testing.T) {
			t.Parallel()
			fx := loadFixture(t, "lifecycle/add_column/identity_always")
			var killed bool
			var killErr error
			var e *env
			e = newEnv(t, tables(t, "users"), func(o *engine.Options) {
				o.AfterStep = func(phase string, st engine.Step) {
					if phase == cut.phase && st.ID == cut.step && !killed {
						killed = true
						killErr = terminateLockHolder(e)
					}
				}
			})
			migs := e.migs("", fx.migrations()...)
			_, err := e.m.Start(e.ctx, migs)
			if cut.phase == "complete" {
				if err != nil {
					t.Fatalf("start: %v", err)
				}
				_, err = e.m.Complete(e.ctx)
			}
			if killErr != nil || !killed {
				t.Fatalf("cut after %s: killed %v, %v", cut.step, killed, killErr)
			}
			if !errors.Is(err, engine.ErrLockLost) {
				t.Fatalf("%s cut after %s: err = %v, want ErrLockLost", cut.phase, cut.step, err)
			}
			m, err := engine.New(e.db.URL, engine.Options{BatchSize: 100, BatchTarget: -1, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			if cut.phase == "start" {
				res, err := m.Start(e.ctx, migs)
				if err != nil || !res.Resumed {
					t.Fatalf("start again: %+v, %v; want it to resume", res, err)
				}
			}
			if _, err := m.Complete(e.ctx); err != nil {
				t.Fatalf("complete: %v", err)
			}
			e.assertClean("")
			cat := e.catalogConn()
			want(t, "users after complete", append(usersColumns(t), fx.text("want/column")), e.columns("public", "users"))
			want(t, "rows: count, distinct, sequence past the maximum", []string{"250|250|true"}, queryStrings(t, e.ctx, cat,
				`SELECT count(*), count(DISTINCT ticket), (SELECT last_value FROM public.users_ticket_seq) >= max(ticket) FROM users`))
			want(t, "insert after complete", []string{"251"}, queryStrings(t, e.ctx, cat,
				"INSERT INTO users (email) VALUES ('after@x.org') RETURNING ticket"))
		})
	}
}
