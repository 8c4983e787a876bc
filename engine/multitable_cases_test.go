package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// Multi-table migrations (docs/multi-table.md): the canonical case checked
// after every single write, the extract and merge cases, write conflicts
// between the versions on the same rows, lock order at complete, the
// backfill of a column taken from another table racing a write, columns
// renamed earlier in the migration, and recursion.

// --- helpers ---

// TestMultiTableJunctionEveryStep runs the canonical 1:N to N:M migration
// with old- and new-version writes of every kind (single and multi-row,
// key changes, upserts, a user and its membership in either order in one
// transaction, extra N:M memberships), checking both versions after every
// single statement; then complete or abort.
func TestMultiTableJunctionEveryStep(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, tables(t, "junction"))
		p := begin(t, e, "", "", e.migs("", "001_junction.toml", junctionMigration(t)))
		vs := p.res.VersionSchema
		ctx := e.ctx
		var extras []string
		check := func(conn *pgx.Conn) { t.Helper(); junctionCheck(t, ctx, conn, vs, extras) }
		check(p.new)
		// Start analyzed the table it filled: the sync triggers look rows
		// up in it, and without statistics the planner scans it whole.
		want(t, "account_users rows as its statistics have them", []string{"300"},
			p.q(p.new, `SELECT reltuples::int FROM pg_class WHERE oid = 'public.account_users'::regclass`))
		// users g: account 1 + g % 5; admin when even, else member.
		runSteps(t, p, []step{
			{who: "old", sqls: []string{`INSERT INTO users VALUES (1001, 'o1', 2, 'member')`},
				read: `SELECT account_id, role FROM account_users WHERE user_id = 1001`, want: "2|member"},
			{who: "old", sqls: []string{`INSERT INTO users VALUES (1002, 'o2', 3, 'admin'), (1003, 'o3', 3, 'member')`}},
			{who: "old", sqls: []string{`UPDATE users SET account_id = 4 WHERE id = 1`},
				read: `SELECT account_id FROM account_users WHERE user_id = 1`, want: "4"},
			{who: "old", sqls: []string{`UPDATE users SET account_role = 'owner' WHERE id = 3`}},
			{who: "old", sqls: []string{`UPDATE users SET account_id = 1, account_role = 'lead' WHERE id = 4`}},
			{who: "old", sqls: []string{`UPDATE users SET account_id = 1 WHERE account_id = 3 AND id < 50`}},
			{who: "old", sqls: []string{`UPDATE users SET name = 'renamed by old' WHERE id = 6`}},
			{who: "old", sqls: []string{`DELETE FROM users WHERE id = 5`}},
			{who: "old", sqls: []string{`DELETE FROM users WHERE id IN (10, 11, 1002)`}},
			{who: "old", sqls: []string{`UPDATE users SET id = 3000 WHERE id = 12`}},
			{who: "old", sqls: []string{`INSERT INTO users VALUES (13, 'x', 2, 'member') ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id`}},
			{who: "old", sqls: []string{`INSERT INTO users VALUES (1004, 'o4', NULL, 'member')`}, code: "23502"},
			{who: "old", sqls: []string{`UPDATE users SET account_role = NULL WHERE id = 8`}, code: "23502"},
			// A user and its membership in one transaction, in both orders.
			{who: "new", sqls: []string{`INSERT INTO users (id, name) VALUES (2001, 'n1')`, `INSERT INTO account_users VALUES (3, 2001, 'admin')`},
				read: `SELECT account_id, account_role FROM users WHERE id = 2001`, want: "3|admin"},
			{who: "new", sqls: []string{`INSERT INTO account_users VALUES (2, 2002, 'member')`, `INSERT INTO users (id, name) VALUES (2002, 'n2')`}, noMid: true,
				read: `SELECT account_id, account_role FROM users WHERE id = 2002`, want: "2|member"},
			{who: "new", sqls: []string{`UPDATE account_users SET account_id = 4 WHERE user_id = 2001`},
				read: `SELECT account_id FROM users WHERE id = 2001`, want: "4"},
			{who: "new", sqls: []string{`UPDATE account_users SET role = 'boss' WHERE user_id = 7`},
				read: `SELECT account_role FROM users WHERE id = 7`, want: "boss"},
			{who: "new", sqls: []string{`UPDATE account_users SET role = 'team' WHERE account_id = 2 AND user_id < 40`}},
			{who: "new", sqls: []string{`UPDATE users SET name = 'renamed by new' WHERE id = 14`},
				read: `SELECT name, account_id FROM users WHERE id = 14`, want: "renamed by new|5"},
			{who: "new", sqls: []string{`DELETE FROM account_users WHERE user_id = 9`},
				read: `SELECT coalesce(account_id::text, 'NULL') FROM users WHERE id = 9`, want: "NULL"},
			{who: "new", sqls: []string{`DELETE FROM account_users WHERE user_id = 15`, `DELETE FROM users WHERE id = 15`},
				read: `SELECT count(*) FROM users WHERE id = 15`, want: "0"},
			{who: "new", sqls: []string{`INSERT INTO users (id, name) VALUES (2003, 'no membership')`}},
			// The old version overrides and removes what the new one wrote.
			{who: "old", sqls: []string{`UPDATE users SET account_role = 'overridden' WHERE id = 7`},
				read: `SELECT role FROM account_users WHERE user_id = 7`, want: "overridden"},
			{who: "old", sqls: []string{`UPDATE users SET account_id = 2 WHERE id = 2001`},
				read: `SELECT account_id, role FROM account_users WHERE user_id = 2001`, want: "2|admin"},
			{who: "old", sqls: []string{`DELETE FROM users WHERE id = 2002`},
				read: `SELECT count(*) FROM account_users WHERE user_id = 2002`, want: "0"},
			// The new version left user 9 without an account: the old
			// version's NOT NULL still holds for the old version's writes.
			{who: "old", sqls: []string{`UPDATE users SET name = 'x' WHERE id = 9`}, code: "23502"},
		}, check)

		// A second membership (N:M): the old version sees the first one.
		extras = []string{"5|24|admin"}
		runSteps(t, p, []step{
			{who: "new", sqls: []string{`INSERT INTO account_users VALUES (1, 24, 'guest')`},
				read: `SELECT account_id, account_role FROM users WHERE id = 24`, want: "1|guest"},
			{who: "new", sqls: []string{`INSERT INTO account_users VALUES (1, 24, 'chief') ON CONFLICT (account_id, user_id) DO UPDATE SET role = EXCLUDED.role`},
				read: `SELECT account_id, account_role FROM users WHERE id = 24`, want: "1|chief"},
			// The old version changes the role of the membership it sees;
			// the other one is kept.
			{who: "old", sqls: []string{`UPDATE users SET account_role = 'chief2' WHERE id = 24`},
				read: `SELECT account_id, role FROM account_users WHERE user_id = 24 ORDER BY 1`, want: "1|chief2, 5|admin"},
		}, check)
		extras = nil
		runSteps(t, p, []step{
			{who: "new", sqls: []string{`DELETE FROM account_users WHERE account_id = 1 AND user_id = 24`},
				read: `SELECT account_id, account_role FROM users WHERE id = 24`, want: "5|admin"},
		}, check)

		if path == "complete" {
			newUsers := p.q(p.new, `SELECT * FROM users ORDER BY id`)
			members := p.q(p.new, `SELECT * FROM account_users ORDER BY user_id, account_id`)
			p.complete()
			want(t, "users after complete", newUsers, p.q(p.new, `SELECT * FROM users ORDER BY id`))
			want(t, "memberships after complete", members, p.q(p.new, `SELECT * FROM account_users ORDER BY user_id, account_id`))
			want(t, "users columns", []string{"id", "name"}, e.columnNames("public", "users"))
			want(t, "account_users columns", []string{"account_id integer not null", "user_id integer not null", "role text not null"}, e.columns("public", "account_users"))
			p.exec(p.new, `INSERT INTO account_users VALUES (5, 2001, 'member')`)
			return
		}
		// Users 9 and 2003 have no membership, hence no account for the
		// old version: abort cannot restore NOT NULL until they have one.
		if _, err := e.m.Abort(ctx); err == nil || !strings.Contains(err.Error(), "account_id") {
			t.Fatalf("abort with accounts the new version left NULL: err = %v, want a NOT NULL failure naming account_id", err)
		}
		p.exec(p.old, `UPDATE users SET account_id = 1, account_role = 'member' WHERE account_id IS NULL`)
		oldUsers := p.q(p.old, `SELECT * FROM users ORDER BY id`)
		p.abort()
		want(t, "users after abort", oldUsers, p.q(p.old, `SELECT * FROM users ORDER BY id`))
	})
}

// --- both versions writing the same user at the same moment ---

// TestMultiTableSameUserBothVersions forces the interleaving in which an
// old-version write to a user and a new-version write to the same user's
// membership meet: a third session holds the user's row, the old-version
// write queues for it first, then the new-version write (an UPDATE or
// DELETE of a membership has locked that row before its trigger runs), and
// then the holder lets go.
//
// The old-version write holds the user and needs the membership (its
// trigger writes it); the new-version write holds the membership and needs
// the user (its trigger recomputes it). When both change the membership
// itself, that is a real cycle, which no trigger can order differently
// (PostgreSQL locks the target row of an UPDATE or DELETE before any row
// trigger runs): PostgreSQL cancels one of the two with a deadlock error
// (40P01, which apps retry), and the data stays consistent. Every other
// pair must go through.
func TestMultiTableSameUserBothVersions(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		extras   []string
		cycle    bool // both write the membership: one may get 40P01
	}{
		{name: "old renames user, new changes role", old: `UPDATE users SET name = 'renamed' WHERE id = 1`, new: `UPDATE account_users SET role = 'boss' WHERE user_id = 1`},
		{name: "old renames user, new moves membership", old: `UPDATE users SET name = 'renamed' WHERE id = 1`, new: `UPDATE account_users SET account_id = 5 WHERE user_id = 1`},
		{name: "old renames user, new deletes membership", old: `UPDATE users SET name = 'renamed' WHERE id = 1`, new: `DELETE FROM account_users WHERE user_id = 1`},
		{name: "old changes role, new adds membership", old: `UPDATE users SET account_role = 'owner' WHERE id = 1`, new: `INSERT INTO account_users VALUES (5, 1, 'guest')`, extras: []string{"5|1|guest"}},
		{name: "old moves user, new adds membership", old: `UPDATE users SET account_id = 3 WHERE id = 1`, new: `INSERT INTO account_users VALUES (5, 1, 'guest')`, extras: []string{"5|1|guest"}},
		{name: "old changes role, new changes role", old: `UPDATE users SET account_role = 'owner' WHERE id = 1`, new: `UPDATE account_users SET role = 'boss' WHERE user_id = 1`, cycle: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tables(t, "junction"))
			res := e.start(e.migs("", "001_junction.toml", junctionMigration(t)))
			ctx := e.ctx
			oldc := e.versionConn("", "public")
			newc := e.versionConn(res.VersionSchema, "public")
			watch := e.db.Conn(t)
			holder := e.db.Conn(t)
			exec(t, ctx, holder, `BEGIN`)
			exec(t, ctx, holder, `SELECT 1 FROM users WHERE id = 1 FOR UPDATE`)
			oldDone := asyncExec(ctx, oldc, c.old)
			waitLockWait(t, ctx, watch, oldc.PgConn().PID())
			newDone := asyncExec(ctx, newc, c.new)
			waitLockWait(t, ctx, watch, newc.PgConn().PID())
			exec(t, ctx, holder, `COMMIT`)
			oldErr, newErr := <-oldDone, <-newDone
			switch {
			case oldErr == nil && newErr == nil:
			case c.cycle && (oldErr == nil) != (newErr == nil) && sqlState(oldErr)+sqlState(newErr) == "40P01":
				t.Logf("known limitation: a write conflict on the same membership: old: %v, new: %v", oldErr, newErr)
				if newErr != nil {
					c.extras = nil
				}
			default:
				t.Errorf("old: %v, new: %v", oldErr, newErr)
			}
			junctionCheck(t, ctx, newc, res.VersionSchema, c.extras)
		})
	}
}

// TestMultiTableCompleteLockOrder: complete locks both tables of a
// multi-table migration, and an app statement may lock them too, in the
// other order: a new-version insert into users locks users, then its sync
// trigger reads account_users. Complete must not hold account_users while
// it waits for users, or the app statement becomes the victim of a deadlock.
// The interleaving is forced: a third session holds account_users, so that
// complete queues for it; the app statement locks users and queues for
// account_users behind complete; then the third session lets go.
func TestMultiTableCompleteLockOrder(t *testing.T) {
	for _, path := range []string{"complete", "abort"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			var holder *pgx.Conn
			hold := func() { // also called on abort's goroutine: no t.Fatal
				if _, err := holder.Exec(context.Background(), `BEGIN; LOCK TABLE account_users IN SHARE MODE`); err != nil {
					t.Errorf("lock account_users: %v", err)
				}
			}
			e := newEnv(t, tables(t, "junction"), func(o *engine.Options) {
				o.AfterStep = func(phase string, s engine.Step) {
					// Abort drops the version schema first; the triggers next.
					if phase == "abort" && s.ID == "drop-version-schema" {
						hold()
					}
				}
			})
			res := e.start(e.migs("", "001_junction.toml", junctionMigration(t)))
			ctx := e.ctx
			holder = e.db.Conn(t)
			// After abort has dropped the new version, the app is the old
			// version, whose insert into users writes account_users through
			// the trigger.
			app := e.versionConn(res.VersionSchema, "public")
			sql := `INSERT INTO users (id, name) VALUES (5001, 'new user')`
			if path == "abort" {
				app = e.versionConn("", "public")
				sql = `INSERT INTO users VALUES (5001, 'old user', 1, 'member')`
			} else {
				hold()
			}
			watch := e.db.Conn(t)
			done := make(chan error, 1)
			go func() {
				var err error
				if path == "complete" {
					_, err = e.m.Complete(ctx)
				} else {
					_, err = e.m.Abort(ctx)
				}
				done <- err
			}()
			waitStrataLockWait(t, ctx, watch)
			appDone := asyncExec(ctx, app, sql)
			// strata's first lock attempts are short (50 ms, doubling) and
			// it then waits an idle blocker out of the queue, so on a busy
			// machine the app statement may arrive after strata left the
			// queue: then it does not wait, and the interleaving was not
			// forced (logged; the statement and the phase must still
			// succeed without a deadlock).
			if !lockWaitWithin(ctx, watch, app.PgConn().PID(), appDone, 10*time.Second) {
				t.Logf("the app statement did not queue behind strata this time (machine too slow to force the interleaving)")
			}
			exec(t, ctx, holder, `COMMIT`)
			if err := <-appDone; err != nil {
				t.Errorf("app statement: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			e.assertClean("")
		})
	}
}

// --- extract columns into a new table ---
