package engine_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

// usersColumns is the shape of the users table of testdata/tables/users.
func usersColumns(t testing.TB) []string {
	t.Helper()
	return loadFixture(t, "tables/users").lines("columns")
}

// countBatches returns an option that counts backfill batches in n.
func countBatches(n *atomic.Int64) func(*engine.Options) {
	return func(o *engine.Options) { o.AfterBatch = func(int) { n.Add(1) } }
}

func TestLifecycleAddColumn(t *testing.T) {
	cases := []struct {
		// name is the case's archive in testdata/lifecycle/add_column: its
		// migration, and want/column, the column after complete.
		name string
		// newWrite is the SQL literal the new version writes into extra.
		newWrite string
		// existing must hold for the extra of every row that existed
		// before start; fromOld for rows the old version inserts.
		existing, fromOld string
		backfill          bool // whether existing rows need a backfill
		check             func(t *testing.T, p *phase)
	}{{
		name:     "nullable",
		newWrite: "'nv'", existing: "extra IS NULL", fromOld: "extra IS NULL",
		check: func(t *testing.T, p *phase) {
			want(t, "comment of the view column", []string{"some extra"}, p.q(p.new,
				`SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a
				 WHERE a.attrelid = 'users'::regclass AND a.attname = 'extra'`))
		},
	}, {
		name:     "not_null_default",
		newWrite: "'premium'", existing: "extra = 'basic'", fromOld: "extra = 'basic'",
		check: func(t *testing.T, p *phase) {
			p.fails(p.new, p.notNull(), "INSERT INTO users (email, extra) VALUES ('null@x.org', NULL)")
			want(t, "new-version insert without the column", []string{"basic"},
				p.q(p.new, "INSERT INTO users (email) VALUES ('dflt@x.org') RETURNING extra"))
		},
	}, {
		name:     "not_null_up",
		newWrite: "'chosen'", existing: "extra = 'x.org'", fromOld: "extra = 'old.org'",
		backfill: true,
		check: func(t *testing.T, p *phase) {
			p.fails(p.new, p.notNull(), "INSERT INTO users (email) VALUES ('null@x.org')")
			// The form of the NOT NULL during the phase: a validated NOT
			// NULL constraint on PostgreSQL 18, a validated check before.
			form := "_strata_nn_extra|c|true"
			if pgtest.ServerMajor(t) >= 18 {
				form = "_strata_nn_extra|n|true"
			}
			want(t, "strata's NOT NULL constraint during the phase", []string{form}, p.q(p.e.catalogConn(),
				`SELECT conname || '|' || contype::text || '|' || convalidated FROM pg_constraint
				 WHERE conrelid = 'public.users'::regclass AND conname LIKE '\_strata%'`))
			// An old-version update of a column up reads recomputes it.
			p.exec(p.old, "UPDATE users SET email = 'moved@moved.org' WHERE id = 10")
			want(t, "extra after the old version changed email", []string{"moved.org"},
				p.q(p.new, "SELECT extra FROM users WHERE id = 10"))
			// An old-version update that changes nothing the old version
			// sees keeps what the new version wrote. (One that changes any
			// column the old version sees recomputes up, by design.)
			p.exec(p.new, "UPDATE users SET extra = 'kept' WHERE id = 11")
			p.exec(p.old, "UPDATE users SET name = name WHERE id = 11")
			want(t, "extra after a no-op old-version update", []string{"user 11|kept"},
				p.q(p.new, "SELECT name, extra FROM users WHERE id = 11"))
			p.exec(p.new, "UPDATE users SET extra = 'x.org' WHERE id IN (10, 11)")
		},
	}, {
		name:     "non_volatile_default",
		newWrite: "7", existing: "extra = 42", fromOld: "extra = 42",
		check: func(t *testing.T, p *phase) {
			// Existing rows read the stored default: no rewrite, no backfill.
			want(t, "atthasmissing", []string{"true"}, p.q(p.e.catalogConn(),
				"SELECT atthasmissing FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'extra'"))
		},
	}, {
		// now() is stable, not volatile: as in PostgreSQL's ADD COLUMN ...
		// DEFAULT now(), every existing row gets one value, the time of
		// start's transaction, stored once (no backfill); rows written
		// later get their own time.
		name:     "now_default",
		newWrite: "'2020-01-02 03:04:05+00'", existing: "extra <= now()", fromOld: "extra IS NOT NULL",
		check: func(t *testing.T, p *phase) {
			want(t, "distinct values of existing rows", []string{"246|1"},
				p.q(p.new, "SELECT count(*), count(DISTINCT extra) FROM users WHERE id <= 250 AND id NOT IN (6, 9)"))
			want(t, "atthasmissing", []string{"true"}, p.q(p.e.catalogConn(),
				"SELECT atthasmissing FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'extra'"))
			want(t, "an old-version insert gets its own time", []string{"true"}, p.q(p.old,
				"INSERT INTO users (email) VALUES ('later@x.org') RETURNING extra > (SELECT max(extra) FROM users WHERE id <= 250 AND id NOT IN (6, 9))"))
		},
	}, {
		name:     "volatile_default",
		newWrite: "'00000000-0000-0000-0000-000000000001'", existing: "extra IS NOT NULL", fromOld: "extra IS NOT NULL",
		backfill: true,
		check: func(t *testing.T, p *phase) {
			want(t, "distinct values of existing rows", []string{"246|246"},
				p.q(p.new, "SELECT count(*), count(DISTINCT extra) FROM users WHERE id <= 250 AND id NOT IN (6, 9)"))
		},
	}, {
		name:     "volatile_default_not_null",
		newWrite: "'2020-01-02 03:04:05+00'", existing: "extra > now() - interval '1 hour'", fromOld: "extra IS NOT NULL",
		backfill: true,
		check: func(t *testing.T, p *phase) {
			p.fails(p.new, p.notNull(), "INSERT INTO users (email, extra) VALUES ('null@x.org', NULL)")
			// clock_timestamp() changes from row to row.
			want(t, "distinct values of existing rows", []string{"true"},
				p.q(p.new, "SELECT count(DISTINCT extra) > 1 FROM users WHERE id <= 250"))
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bothPaths(t, func(t *testing.T, path string) {
				var batches atomic.Int64
				fx := loadFixture(t, "lifecycle/add_column/"+c.name)
				final := fx.text("want/column")
				e := newEnv(t, tables(t, "users"), countBatches(&batches))
				migs := e.migs("", fx.migrations()...)
				node := e.relfilenode("public", "users")
				p := begin(t, e, "", "", migs)
				if got := e.relfilenode("public", "users"); got != node {
					t.Errorf("start rewrote users: relfilenode %s -> %s", node, got)
				}
				if c.backfill != (batches.Load() > 0) {
					t.Errorf("backfill batches: %d, want a backfill: %v", batches.Load(), c.backfill)
				}
				if c.backfill && batches.Load() < 3 {
					t.Errorf("backfill of 250 rows ran in %d batches, want at least 3 with BatchSize 100", batches.Load())
				}
				// The table's shape is the new version's: no view.
				want(t, "new version schema", nil, e.relations(p.res.VersionSchema))
				if got := e.seenColumns(p.res.VersionSchema, "public", "users"); len(got) != len(usersColumns(t))+1 || got[len(got)-1][:6] != "extra " {
					t.Errorf("users as the new version sees it: %v, want its columns and extra", got)
				}

				// Existing rows have their value.
				want(t, "existing rows failing "+c.existing, []string{"0"},
					p.q(p.new, "SELECT count(*) FROM users WHERE id <= 250 AND NOT coalesce("+c.existing+", false)"))

				// Old version inserts (with RETURNING); the new version sees the row with extra filled.
				oldID := p.one(p.old, "INSERT INTO users (email, name) VALUES ('old@old.org', 'old') RETURNING id")
				want(t, "old row as the new version sees it", []string{"old|true"},
					p.q(p.new, "SELECT name, coalesce("+c.fromOld+", false) FROM users WHERE id = $1", oldID))
				// New version inserts; the old version sees the row.
				newID := p.one(p.new, "INSERT INTO users (email, name, extra) VALUES ('new@new.org', 'new', "+c.newWrite+") RETURNING id")
				want(t, "new row as the old version sees it", []string{"new@new.org|new"},
					p.q(p.old, "SELECT email, name FROM users WHERE id = $1", newID))
				want(t, "new row as the new version sees it", []string{"true"},
					p.q(p.new, "SELECT extra = "+c.newWrite+" FROM users WHERE id = $1", newID))

				// INSERT ... ON CONFLICT on the key, from both sides.
				want(t, "old upsert", []string{"5"}, p.q(p.old,
					"INSERT INTO users (email, name) VALUES ('u5@x.org', 'five-old') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id"))
				want(t, "new upsert", []string{"6|true"}, p.q(p.new,
					"INSERT INTO users (email, name, extra) VALUES ('u6@x.org', 'six-new', "+c.newWrite+") ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name, extra = EXCLUDED.extra RETURNING id, extra = "+c.newWrite))
				// UPDATE from both sides.
				p.exec(p.old, "UPDATE users SET name = 'eight-old' WHERE id = 8")
				p.exec(p.new, "UPDATE users SET name = 'nine-new', extra = "+c.newWrite+" WHERE id = 9")
				for _, v := range p.both() {
					want(t, v.name+" version: names", []string{"5|five-old", "6|six-new", "8|eight-old", "9|nine-new"},
						p.q(v.c, "SELECT id, name FROM users WHERE id IN (5, 6, 8, 9) ORDER BY id"))
				}
				want(t, "extra of rows 5, 8 (kept) and 6, 9 (written by the new version)", []string{"5|true", "6|true", "8|true", "9|true"},
					p.q(p.new, "SELECT id, CASE WHEN id IN (6, 9) THEN extra = "+c.newWrite+" ELSE coalesce("+c.existing+", false) END FROM users WHERE id IN (5, 6, 8, 9) ORDER BY id"))
				// DELETE from both sides.
				p.exec(p.old, "DELETE FROM users WHERE id = 3")
				p.exec(p.new, "DELETE FROM users WHERE id = 4")
				for _, v := range p.both() {
					want(t, v.name+" version: deleted rows", []string{"0"}, p.q(v.c, "SELECT count(*) FROM users WHERE id IN (3, 4)"))
				}
				if c.check != nil {
					c.check(t, p)
				}
				// The number of rows, as each version counts them.
				n := p.one(p.old, "SELECT count(*) FROM users")
				want(t, "row count of the new version", []string{n}, p.q(p.new, "SELECT count(*) FROM users"))

				if path == "abort" {
					p.abort()
					cat := e.catalogConn()
					want(t, "rows the old version wrote, after abort", []string{"5|five-old", "8|eight-old", oldID + "|old"},
						p.q(cat, "SELECT id, name FROM users WHERE id IN (5, 8, $1) ORDER BY id", oldID))
					want(t, "rows the old version deleted, after abort", []string{"0"}, p.q(cat, "SELECT count(*) FROM users WHERE id = 3"))
					return
				}
				p.complete()
				want(t, "users after complete", append(usersColumns(t), final), e.columns("public", "users"))
				if strings.HasSuffix(final, " not null") && pgtest.ServerMajor(t) >= 18 {
					// The constraint start added has the name PostgreSQL
					// gives one it names itself.
					want(t, "NOT NULL constraint of extra after complete", []string{"users_extra_not_null|true"}, p.q(e.catalogConn(),
						`SELECT k.conname || '|' || k.convalidated FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
						 WHERE k.conrelid = 'public.users'::regclass AND k.contype = 'n' AND a.attname = 'extra'`))
				}
				if got := e.relfilenode("public", "users"); got != node {
					t.Errorf("users was rewritten: relfilenode %s -> %s", node, got)
				}
				cat := e.catalogConn()
				want(t, "existing rows failing "+c.existing+" after complete", []string{"0"},
					p.q(cat, "SELECT count(*) FROM users WHERE id <= 250 AND id NOT IN (6, 9) AND NOT coalesce("+c.existing+", false)"))
				want(t, "rows of both versions after complete", []string{fmt.Sprint(oldID, "|true"), fmt.Sprint(newID, "|true")},
					p.q(cat, "SELECT id, CASE WHEN id = $1 THEN coalesce("+c.fromOld+", false) ELSE extra = "+c.newWrite+" END FROM users WHERE id IN ($1, $2) ORDER BY id", oldID, newID))
				// The new version keeps working.
				want(t, "new-version insert after complete", []string{"true"},
					p.q(p.new, "INSERT INTO users (email, extra) VALUES ('after@x.org', "+c.newWrite+") RETURNING extra = "+c.newWrite))
			})
		})
	}
}

// TestLifecycleAddColumnCompositeKey backfills a table keyed by (text, int)
// in several batches whose boundaries fall inside runs of the first key
// column.
func TestLifecycleAddColumnCompositeKey(t *testing.T) {
	t.Parallel()
	var batches atomic.Int64
	fx := loadFixture(t, "lifecycle/add_column/composite_key")
	e := newEnv(t, fx.setup(), countBatches(&batches))
	migs := e.migs("", fx.migrations()...)
	p := begin(t, e, "", "", migs)
	if batches.Load() < 3 {
		t.Errorf("%d backfill batches for 270 rows, want 3 or more", batches.Load())
	}
	want(t, "rows, new version", []string{"270|0"}, p.q(p.new, "SELECT count(*), count(*) FILTER (WHERE v2 IS DISTINCT FROM v * 2) FROM readings"))
	want(t, "old upsert", []string{"north|5|50|100"}, p.q(p.old,
		"INSERT INTO readings (region, n, v) VALUES ('north', 5, 50) ON CONFLICT (region, n) DO UPDATE SET v = EXCLUDED.v RETURNING region, n, v, v2"))
	want(t, "new upsert", []string{"south|5|7|8"}, p.q(p.new,
		"INSERT INTO readings (region, n, v, v2) VALUES ('south', 5, 7, 8) ON CONFLICT (region, n) DO UPDATE SET v = EXCLUDED.v, v2 = EXCLUDED.v2 RETURNING region, n, v, v2"))
	p.complete()
	want(t, "readings after complete", fx.lines("want/columns"), e.columns("public", "readings"))
	want(t, "rows after complete", []string{"270|1"}, p.q(e.catalogConn(), "SELECT count(*), count(*) FILTER (WHERE v2 IS DISTINCT FROM v * 2) FROM readings"))
}
