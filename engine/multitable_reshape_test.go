package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// Multi-table migrations (docs/multi-table.md): the canonical case checked
// after every single write, the extract and merge cases, write conflicts
// between the versions on the same rows, lock order at complete, the
// backfill of a column taken from another table racing a write, columns
// renamed earlier in the migration, and recursion.

// --- helpers ---

// extractCheck: both versions show the same users, names, streets and
// cities (a user without an address has NULL ones for the old version), and
// no address belongs to a user that does not exist.
func extractCheck(t *testing.T, ctx context.Context, conn *pgx.Conn, vs string) {
	t.Helper()
	v := pgx.Identifier{vs}.Sanitize()
	old := queryStrings(t, ctx, conn, `SELECT id, name, coalesce(street, '-'), coalesce(city, '-') FROM public.users ORDER BY id`)
	derived := queryStrings(t, ctx, conn, `SELECT u.id, u.name, coalesce(a.street, '-'), coalesce(a.city, '-') FROM `+v+`.users u
		LEFT JOIN `+v+`.addresses a ON a.user_id = u.id ORDER BY u.id`)
	if diff := cmp.Diff(derived, old); diff != "" {
		t.Errorf("old version's users differ from the new version's users and addresses (-new +old):\n%s", diff)
	}
	if got := queryStrings(t, ctx, conn, `SELECT user_id FROM `+v+`.addresses a WHERE NOT EXISTS (SELECT 1 FROM `+v+`.users u WHERE u.id = a.user_id)`); len(got) > 0 {
		t.Errorf("addresses of users that do not exist: %v", got)
	}
}

func TestMultiTableExtract(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "multitable/extract")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		vs := p.res.VersionSchema
		ctx := e.ctx
		check := func(conn *pgx.Conn) { t.Helper(); extractCheck(t, ctx, conn, vs) }
		check(p.new)
		want(t, "addresses after start", []string{"200"}, p.q(p.new, `SELECT count(*) FROM addresses`))
		want(t, "new version's users", []string{"id", "name"}, e.columnNames(vs, "users"))
		runSteps(t, p, []step{
			{who: "old", sqls: []string{`INSERT INTO users VALUES (1001, 'o', '1 Old Rd', 'Oldtown')`},
				read: `SELECT street, city FROM addresses WHERE user_id = 1001`, want: "1 Old Rd|Oldtown"},
			{who: "old", sqls: []string{`UPDATE users SET street = '2 Moved Ave' WHERE id = 2`},
				read: `SELECT street, city FROM addresses WHERE user_id = 2`, want: "2 Moved Ave|city 2"},
			{who: "old", sqls: []string{`UPDATE users SET city = NULL WHERE id = 3`},
				read: `SELECT street, coalesce(city, 'NULL') FROM addresses WHERE user_id = 3`, want: "3 Main St|NULL"},
			{who: "old", sqls: []string{`UPDATE users SET name = 'renamed by old' WHERE id = 5`},
				read: `SELECT u.name, a.street FROM users u JOIN addresses a ON a.user_id = u.id WHERE u.id = 5`, want: "renamed by old|5 Main St"},
			{who: "old", sqls: []string{`DELETE FROM users WHERE id = 4`},
				read: `SELECT count(*) FROM addresses WHERE user_id = 4`, want: "0"},
			{who: "old", sqls: []string{`INSERT INTO users (id, name) VALUES (1002, 'no street')`}, code: "23502"},
			{who: "new", sqls: []string{`INSERT INTO users VALUES (2001, 'n')`, `INSERT INTO addresses VALUES (2001, '9 New St', 'Newville')`},
				read: `SELECT street, city FROM users WHERE id = 2001`, want: "9 New St|Newville"},
			{who: "new", sqls: []string{`UPDATE addresses SET city = 'Elsewhere' WHERE user_id = 6`},
				read: `SELECT street, city FROM users WHERE id = 6`, want: "6 Main St|Elsewhere"},
			{who: "new", sqls: []string{`UPDATE users SET name = 'renamed by new' WHERE id = 7`},
				read: `SELECT name, street FROM users WHERE id = 7`, want: "renamed by new|7 Main St"},
			{who: "new", sqls: []string{`DELETE FROM addresses WHERE user_id = 8`, `INSERT INTO addresses VALUES (8, '8 Rebuilt Rd', NULL)`},
				read: `SELECT street, coalesce(city, 'NULL') FROM users WHERE id = 8`, want: "8 Rebuilt Rd|NULL"},
			{who: "new", sqls: []string{`DELETE FROM addresses WHERE user_id = 9`, `DELETE FROM users WHERE id = 9`},
				read: `SELECT count(*) FROM users WHERE id = 9`, want: "0"},
			// Each version changes rows the other one wrote.
			{who: "old", sqls: []string{`UPDATE users SET street = '3 Old-updated' WHERE id = 2001`},
				read: `SELECT street, city FROM addresses WHERE user_id = 2001`, want: "3 Old-updated|Newville"},
			{who: "new", sqls: []string{`UPDATE addresses SET street = '4 New-updated' WHERE user_id = 1001`},
				read: `SELECT street, city FROM users WHERE id = 1001`, want: "4 New-updated|Oldtown"},
			// A user without an address yet: no street for the old version,
			// which may not write the row without giving it one.
			{who: "new", sqls: []string{`INSERT INTO users VALUES (2002, 'no address yet')`},
				read: `SELECT coalesce(street, 'NULL') FROM users WHERE id = 2002`, want: "NULL"},
			{who: "old", sqls: []string{`UPDATE users SET name = 'x' WHERE id = 2002`}, code: "23502"},
			{who: "new", sqls: []string{`INSERT INTO addresses VALUES (2002, '5 Late St', NULL)`},
				read: `SELECT street FROM users WHERE id = 2002`, want: "5 Late St"},
			{who: "old", sqls: []string{`UPDATE users SET name = 'fine now' WHERE id = 2002`},
				read: `SELECT name FROM users WHERE id = 2002`, want: "fine now"},
		}, check)
		if path == "complete" {
			users := p.q(p.new, `SELECT * FROM users ORDER BY id`)
			addresses := p.q(p.new, `SELECT * FROM addresses ORDER BY user_id`)
			p.complete()
			want(t, "users after complete", users, p.q(p.new, `SELECT * FROM users ORDER BY id`))
			want(t, "addresses after complete", addresses, p.q(p.new, `SELECT * FROM addresses ORDER BY user_id`))
			want(t, "users columns", []string{"id integer not null", "name text not null"}, e.columns("public", "users"))
			want(t, "addresses columns", []string{"user_id integer not null", "street text not null", "city text"}, e.columns("public", "addresses"))
			return
		}
		users := p.q(p.old, `SELECT * FROM users ORDER BY id`)
		p.abort()
		want(t, "users after abort", users, p.q(p.old, `SELECT * FROM users ORDER BY id`))
	})
}

// --- merge a table into another ---

// mergeMigration merges profiles.bio into users.bio (tables/merge's
// merge.toml).
func mergeMigration(t testing.TB) string {
	t.Helper()
	return loadFixture(t, "tables/merge").file("merge.toml")
}

// mergeCheck: both versions show the same users and names, and each user's
// bio in the new version is its profile's in the old one, except for the
// users whose bio the new version wrote itself (newBio, id -> bio; the
// removed table has no down, so those writes stay in the new version).
// mergeCheck reads users through conn, a client of the new version (users
// resolves through its search_path: a version schema holds no view of a
// table whose shape is the physical one).
func mergeCheck(t *testing.T, ctx context.Context, conn *pgx.Conn, _ string, newBio map[string]string) {
	t.Helper()
	old := queryStrings(t, ctx, conn, `SELECT u.id, u.name, coalesce(p.bio, '-') FROM public.users u LEFT JOIN public.profiles p ON p.user_id = u.id ORDER BY u.id`)
	for i, r := range old {
		f := strings.SplitN(r, "|", 3)
		if b, ok := newBio[f[0]]; ok {
			old[i] = f[0] + "|" + f[1] + "|" + b
		}
	}
	derived := queryStrings(t, ctx, conn, `SELECT id, name, coalesce(bio, '-') FROM users ORDER BY id`)
	if diff := cmp.Diff(old, derived); diff != "" {
		t.Errorf("new version's users differ from the old version's users and profiles (-old +new):\n%s", diff)
	}
}

func TestMultiTableMerge(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, tables(t, "merge"))
		p := begin(t, e, "", "", e.migs("", "001_merge.toml", mergeMigration(t)))
		vs := p.res.VersionSchema
		ctx := e.ctx
		newBio := map[string]string{}
		check := func(conn *pgx.Conn) { t.Helper(); mergeCheck(t, ctx, conn, vs, newBio) }
		check(p.new)
		want(t, "new version's relations (profiles removed)", []string{"profiles v"}, e.relations(vs))
		runSteps(t, p, []step{
			{who: "old", sqls: []string{`UPDATE profiles SET bio = 'changed' WHERE user_id = 2`},
				read: `SELECT bio FROM users WHERE id = 2`, want: "changed"},
			{who: "old", sqls: []string{`INSERT INTO profiles VALUES (7, 'new profile')`},
				read: `SELECT bio FROM users WHERE id = 7`, want: "new profile"},
			{who: "old", sqls: []string{`DELETE FROM profiles WHERE user_id = 3`},
				read: `SELECT coalesce(bio, 'NULL') FROM users WHERE id = 3`, want: "NULL"},
			{who: "old", sqls: []string{`INSERT INTO users VALUES (1001, 'o1')`, `INSERT INTO profiles VALUES (1001, 'bio of 1001')`},
				read: `SELECT name, bio FROM users WHERE id = 1001`, want: "o1|bio of 1001"},
			{who: "old", sqls: []string{`INSERT INTO profiles VALUES (1002, 'early bio')`, `INSERT INTO users VALUES (1002, 'late user')`},
				read: `SELECT name, bio FROM users WHERE id = 1002`, want: "late user|early bio"},
			{who: "old", sqls: []string{`UPDATE profiles SET user_id = 14 WHERE user_id = 4`},
				read: `SELECT id, coalesce(bio, 'NULL') FROM users WHERE id IN (4, 14) ORDER BY id`, want: "4|NULL, 14|bio 4"},
			{who: "old", sqls: []string{`UPDATE profiles SET bio = bio || '!' WHERE user_id BETWEEN 20 AND 29`},
				read: `SELECT bio FROM users WHERE id = 25`, want: "bio 25!"},
			{who: "old", sqls: []string{`UPDATE users SET name = 'renamed by old' WHERE id = 6`},
				read: `SELECT name, bio FROM users WHERE id = 6`, want: "renamed by old|bio 6"},
			{who: "old", sqls: []string{`DELETE FROM users WHERE id = 5`},
				read: `SELECT count(*) FROM users WHERE id = 5`, want: "0"},
			{who: "new", sqls: []string{`UPDATE users SET name = 'renamed by new' WHERE id = 9`},
				read: `SELECT name FROM users WHERE id = 9`, want: "renamed by new"},
			{who: "new", sqls: []string{`DELETE FROM users WHERE id = 10`},
				read: `SELECT count(*) FROM users WHERE id = 10`, want: "0"},
		}, check)
		// The new version writes bios itself: the old version does not see
		// them (its profiles are untouched).
		newBio["2001"] = "own bio"
		runSteps(t, p, []step{
			{who: "new", sqls: []string{`INSERT INTO users VALUES (2001, 'n1', 'own bio')`},
				read: `SELECT name FROM users WHERE id = 2001`, want: "n1"},
		}, check)
		newBio["8"] = "edited by new"
		runSteps(t, p, []step{
			{who: "new", sqls: []string{`UPDATE users SET bio = 'edited by new' WHERE id = 8`},
				read: `SELECT bio FROM profiles WHERE user_id = 8`, want: "bio 8"},
		}, check)
		if path == "complete" {
			users := p.q(p.new, `SELECT * FROM users ORDER BY id`)
			p.complete()
			want(t, "users after complete", users, p.q(p.new, `SELECT * FROM users ORDER BY id`))
			want(t, "users columns", []string{"id integer not null", "name text not null", "bio text"}, e.columns("public", "users"))
			want(t, "tables", []string{"users r"}, e.relations("public"))
			return
		}
		users := p.q(p.old, `SELECT id, name FROM users ORDER BY id`)
		profiles := p.q(p.old, `SELECT * FROM profiles ORDER BY user_id`)
		p.abort()
		want(t, "users after abort", users, p.q(p.old, `SELECT id, name FROM users ORDER BY id`))
		want(t, "profiles after abort", profiles, p.q(p.old, `SELECT * FROM profiles ORDER BY user_id`))
	})
}

// TestMultiTableLinkBackfillRace: an old-version write to the merged table
// that commits while the backfill of the new column waits for the row it
// locked must not be overwritten by the backfill with what it read before.
func TestMultiTableLinkBackfillRace(t *testing.T) {
	var e *env
	var released chan struct{}
	e = newEnv(t, tables(t, "merge"), func(o *engine.Options) {
		o.AfterStep = func(phase string, s engine.Step) {
			if phase != "start" || s.ID != "cross-trigger:users" {
				return
			}
			// The cross-table triggers exist: an old-version transaction
			// changes user 50's profile and adds one for user 7 (which had
			// none), which locks both users' rows, and commits once the
			// backfill waits for them.
			holder := e.versionConn("", "public")
			exec(t, e.ctx, holder, `BEGIN`)
			exec(t, e.ctx, holder, `UPDATE profiles SET bio = 'changed during backfill' WHERE user_id = 50`)
			exec(t, e.ctx, holder, `INSERT INTO profiles VALUES (7, 'added during backfill')`)
			released = make(chan struct{})
			watch := e.db.Conn(t)
			go func() {
				defer close(released)
				for {
					if ok, err := strataWaiting(e.ctx, watch); err != nil || ok {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				holder.Exec(e.ctx, `COMMIT`)
			}()
		}
	})
	res := e.start(e.migs("", "001_merge.toml", mergeMigration(t)))
	<-released
	newc := e.versionConn(res.VersionSchema, "public")
	got := queryStrings(t, e.ctx, newc, `SELECT id, coalesce(bio, '-') FROM users WHERE id IN (7, 50, 51) ORDER BY id`)
	want(t, "users.bio after profile writes raced the backfill", []string{"7|added during backfill", "50|changed during backfill", "51|bio 51"}, got)
	mergeCheck(t, e.ctx, newc, res.VersionSchema, nil)
}

// --- names of the version an expression comes from ---

// TestMultiTableRenamedColumns: create_table.up values and add_column.up
// values come from the old version, so they may name a column as the old
// version does even when an earlier action of the migration renamed it
// (and as of the action too, as single-table up expressions may).
func TestMultiTableRenamedColumns(t *testing.T) {
	for _, name := range []string{"account_role", "role_name", "users.account_role", "users.role_name"} {
		t.Run("fill with "+name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tables(t, "junction"))
			fx := loadFixture(t, "multitable/renamed_columns")
			mig := fx.file("rename_role.toml") + strings.NewReplacer(`role = "account_role"`, fmt.Sprintf("role = %q", name), `column = "account_role"`, `column = "role_name"`).Replace(junctionMigration(t))
			res := e.start(e.migs("", "001_junction.toml", mig))
			oldc := e.versionConn("", "public")
			newc := e.versionConn(res.VersionSchema, "public")
			want(t, "filled memberships", []string{"2|1|member", "3|2|admin"},
				queryStrings(t, e.ctx, newc, `SELECT account_id, user_id, role FROM account_users WHERE user_id IN (1, 2) ORDER BY user_id`))
			exec(t, e.ctx, oldc, `UPDATE users SET account_role = 'owner' WHERE id = 1`)
			exec(t, e.ctx, newc, `UPDATE account_users SET role = 'boss' WHERE user_id = 2`)
			want(t, "membership after an old-version role change", []string{"owner"},
				queryStrings(t, e.ctx, newc, `SELECT role FROM account_users WHERE user_id = 1`))
			want(t, "old view after a new-version role change", []string{"boss"},
				queryStrings(t, e.ctx, oldc, `SELECT account_role FROM users WHERE id = 2`))
			junctionCheck(t, e.ctx, newc, res.VersionSchema, nil)
			e.complete()
			e.assertClean("")
		})
	}
	// remove_column.down comes from the new version: its final names work,
	// here of a column of the new table renamed by a later action.
	t.Run("down with a later name", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, tables(t, "junction"))
		fx := loadFixture(t, "multitable/renamed_columns")
		mig := strings.Replace(junctionMigration(t), `value = "account_users.role"`, `value = "account_users.kind"`, 1) + fx.file("rename_kind.toml")
		res := e.start(e.migs("", "001_junction.toml", mig))
		oldc := e.versionConn("", "public")
		newc := e.versionConn(res.VersionSchema, "public")
		exec(t, e.ctx, newc, `UPDATE account_users SET kind = 'boss' WHERE user_id = 2`)
		want(t, "old view after a new-version role change", []string{"boss"},
			queryStrings(t, e.ctx, oldc, `SELECT account_role FROM users WHERE id = 2`))
		e.complete()
		e.assertClean("")
		want(t, "account_users columns", []string{"account_id", "user_id", "kind"}, e.columnNames("public", "account_users"))
	})
	t.Run("merge with the old name", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, tables(t, "merge"))
		fx := loadFixture(t, "multitable/renamed_columns")
		mig := fx.file("rename_bio.toml") + mergeMigration(t)
		res := e.start(e.migs("", "001_merge.toml", mig))
		oldc := e.versionConn("", "public")
		newc := e.versionConn(res.VersionSchema, "public")
		exec(t, e.ctx, oldc, `UPDATE profiles SET bio = 'changed' WHERE user_id = 2`)
		want(t, "bios", []string{"1|bio 1", "2|changed"}, queryStrings(t, e.ctx, newc, `SELECT id, bio FROM users WHERE id IN (1, 2) ORDER BY id`))
		mergeCheck(t, e.ctx, newc, res.VersionSchema, nil)
		e.complete()
		e.assertClean("")
	})
}

// --- recursion ---

// writeCounts runs each statement in its own transaction on conn and
// compares the rows it made each table write (inserted, updated, deleted:
// pg_stat_xact_user_tables, whose counts in PostgreSQL 15 include earlier
// transactions not yet flushed, hence deltas) with the expected ones.
func writeCounts(t *testing.T, ctx context.Context, conn *pgx.Conn, tables []string, sql string, want []string) {
	t.Helper()
	counts := func(tx pgx.Tx) map[string][3]int64 {
		rows, err := tx.Query(ctx, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables WHERE schemaname = 'public'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][3]int64{}
		for rows.Next() {
			var name string
			var n [3]int64
			if err := rows.Scan(&name, &n[0], &n[1], &n[2]); err != nil {
				t.Fatal(err)
			}
			out[name] = n
		}
		return out
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	before := counts(tx)
	if _, err := tx.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	after := counts(tx)
	var got []string
	for _, name := range tables {
		b, a := before[name], after[name]
		got = append(got, fmt.Sprintf("%s ins=%d upd=%d del=%d", name, a[0]-b[0], a[1]-b[1], a[2]-b[2]))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows written by %s (-want +got):\n%s", sql, diff)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMultiTableNoRecursion: a write the sync triggers make translates into
// nothing further. It changes only columns the writing version cannot see,
// which no expression of that version reads; so a chain of writes through
// the tables stops after one step, and the count of rows each write makes
// is bounded and known.
func TestMultiTableNoRecursion(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		t.Parallel()
		// A new-version write to users recomputes accounts.owner_name;
		// that write must not recompute users.account_name, which would
		// recompute accounts.owner_name, and so on.
		fx := loadFixture(t, "multitable/cycle")
		e := newEnv(t, fx.setup())
		res := e.start(e.migs("", fx.migrations()...))
		ctx := e.ctx
		oldc := e.versionConn("", "public")
		newc := e.versionConn(res.VersionSchema, "public")
		tables := []string{"accounts", "users"}
		// An UPDATE recomputes the rows its old and its new values relate
		// to: account 1 twice, users 1, 4 and 7 twice.
		writeCounts(t, ctx, newc, tables, `UPDATE users SET name = 'renamed' WHERE id = 1`, []string{"accounts ins=0 upd=2 del=0", "users ins=0 upd=1 del=0"})
		writeCounts(t, ctx, newc, tables, `UPDATE accounts SET name = 'renamed' WHERE id = 1`, []string{"accounts ins=0 upd=1 del=0", "users ins=0 upd=6 del=0"})
		writeCounts(t, ctx, newc, tables, `UPDATE users SET account_id = 2 WHERE id = 4`, []string{"accounts ins=0 upd=0 del=0", "users ins=0 upd=1 del=0"})
		writeCounts(t, ctx, newc, tables, `INSERT INTO users VALUES (10, 'u10', 1)`, []string{"accounts ins=0 upd=0 del=0", "users ins=1 upd=0 del=0"})
		want(t, "old version's view", []string{"a1|1|renamed", "u1|1|renamed", "u10|1|renamed", "u4|2|a2"},
			queryStrings(t, ctx, oldc, `SELECT 'u' || id, account_id, account_name FROM users WHERE id IN (1, 4, 10)
				UNION ALL SELECT 'a' || id, owner_id, owner_name FROM accounts WHERE id = 1 ORDER BY 1`))
		e.complete()
		e.assertClean("")
	})
	t.Run("canonical", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, tables(t, "junction"))
		res := e.start(e.migs("", "001_junction.toml", junctionMigration(t)))
		ctx := e.ctx
		oldc := e.versionConn("", "public")
		newc := e.versionConn(res.VersionSchema, "public")
		tables := []string{"account_users", "users"}
		// Old version: the membership follows; a change to anything else
		// leaves it alone.
		writeCounts(t, ctx, oldc, tables, `UPDATE users SET name = 'renamed' WHERE id = 1`, []string{"account_users ins=0 upd=0 del=0", "users ins=0 upd=1 del=0"})
		writeCounts(t, ctx, oldc, tables, `UPDATE users SET account_role = 'owner' WHERE id = 1`, []string{"account_users ins=0 upd=1 del=0", "users ins=0 upd=1 del=0"})
		writeCounts(t, ctx, oldc, tables, `UPDATE users SET account_id = 4 WHERE id = 1`, []string{"account_users ins=1 upd=0 del=1", "users ins=0 upd=1 del=0"})
		writeCounts(t, ctx, oldc, tables, `DELETE FROM users WHERE id = 2`, []string{"account_users ins=0 upd=0 del=1", "users ins=0 upd=0 del=1"})
		// New version: the user is recomputed, once per removed column for
		// the membership's new values and once for its old ones.
		writeCounts(t, ctx, newc, tables, `UPDATE account_users SET role = 'boss' WHERE user_id = 3`, []string{"account_users ins=0 upd=1 del=0", "users ins=0 upd=4 del=0"})
		writeCounts(t, ctx, newc, tables, `INSERT INTO account_users VALUES (5, 3, 'guest')`, []string{"account_users ins=1 upd=0 del=0", "users ins=0 upd=2 del=0"})
		writeCounts(t, ctx, newc, tables, `DELETE FROM account_users WHERE user_id = 3 AND account_id = 5`, []string{"account_users ins=0 upd=0 del=1", "users ins=0 upd=2 del=0"})
		writeCounts(t, ctx, newc, tables, `UPDATE users SET name = 'renamed' WHERE id = 4`, []string{"account_users ins=0 upd=0 del=0", "users ins=0 upd=1 del=0"})
		junctionCheck(t, ctx, newc, res.VersionSchema, nil)
	})
}

// TestMultiTableInterruptedStart interrupts start after each of its steps
// (and in the middle of the fill) while an old-version client writes, then
// either aborts, which must leave the catalog as before start and nothing
// temporary, or runs start again, which must resume and give the same
// result as an uninterrupted start, through complete.
func TestMultiTableInterruptedStart(t *testing.T) {
	e0 := newEnv(t, tables(t, "junction"))
	migs := e0.migs("", "001_junction.toml", junctionMigration(t))
	plan, err := e0.m.Plan(e0.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, s := range plan.Start[:len(plan.Start)-1] {
		points = append(points, s.ID)
	}
	points = append(points, "batch 1")
	for _, point := range points {
		for _, then := range []string{"abort", "resume"} {
			t.Run(point+" then "+then, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				e := newEnv(t, tables(t, "junction"), func(o *engine.Options) {
					o.AfterStep = func(phase string, s engine.Step) {
						if phase == "start" && s.ID == point {
							cancel()
						}
					}
					o.AfterBatch = func(batch int) {
						if point == "batch 1" && batch == 1 {
							cancel()
						}
					}
				})
				before := e.snapshot("public")
				oldc := e.versionConn("", "public")
				if _, err := e.m.Start(ctx, migs); err == nil {
					t.Fatalf("start interrupted after %s succeeded", point)
				}
				// The old version writes in between.
				exec(t, e.ctx, oldc, `UPDATE users SET account_id = 5 WHERE id = 1`)
				exec(t, e.ctx, oldc, `INSERT INTO users VALUES (1001, 'x', 2, 'member')`)
				exec(t, e.ctx, oldc, `DELETE FROM users WHERE id = 2`)
				if then == "abort" {
					e.abort()
					e.assertClean("")
					want(t, "catalog after abort", []string{before}, []string{e.snapshot("public")})
					return
				}
				res := e.start(migs)
				if !res.Resumed {
					t.Errorf("start after an interruption at %s did not resume", point)
				}
				newc := e.versionConn(res.VersionSchema, "public")
				exec(t, e.ctx, oldc, `UPDATE users SET account_role = 'owner' WHERE id = 3`)
				junctionCheck(t, e.ctx, newc, res.VersionSchema, nil)
				e.complete()
				e.assertClean("")
				want(t, "memberships after complete", []string{"300|5|1|member|4|3|owner"},
					queryStrings(t, e.ctx, newc, `SELECT (SELECT count(*) FROM account_users), a.*, b.account_id, b.user_id, b.role
						FROM account_users a, account_users b WHERE a.user_id = 1 AND b.user_id = 3`))
			})
		}
	}
}
