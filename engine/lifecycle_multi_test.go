package engine_test

import (
	"slices"
	"testing"
)

// TestLifecycleTwoPendingMigrations starts two pending migrations as one
// phase (001 adds a column, 002 renames it): only the newest migration's
// version schema is created. After complete, a third migration started later
// has the second's schema as its old version, which keeps working for reads
// and writes during the third phase.
func TestLifecycleTwoPendingMigrations(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/multi/two_pending")
		e := newEnv(t, tables(t, "users"))
		two := e.migs("", fx.migrations("001_add_nick.toml", "002_rename_nick.toml")...)
		p := begin(t, e, "", "", two)
		if want := []string{"001_add_nick", "002_rename_nick"}; !slices.Equal(p.res.Migrations, want) {
			t.Errorf("started %v, want %v", p.res.Migrations, want)
		}
		if p.res.VersionSchema != "public_002_rename_nick" {
			t.Fatalf("version schema %q, want public_002_rename_nick", p.res.VersionSchema)
		}
		want(t, "schemas during the first phase", []string{"public", "public_002_rename_nick", "strata"}, e.schemas())
		want(t, "new version's view", asView(usersColumns(t), []string{"handle text"}), e.columns(p.res.VersionSchema, "users"))
		p.fails(p.new, "42703", "SELECT nick FROM users")
		want(t, "existing row, new version", []string{"u7"}, p.q(p.new, "SELECT handle FROM users WHERE id = 7"))
		oldID := p.one(p.old, "INSERT INTO users (email, name) VALUES ('olduser@x.org', 'old') RETURNING id")
		want(t, "old row, new version", []string{"olduser"}, p.q(p.new, "SELECT handle FROM users WHERE id = $1", oldID))
		want(t, "new row", []string{"nh"}, p.q(p.new, "INSERT INTO users (email, handle) VALUES ('new@x.org', 'nh') RETURNING handle"))
		p.complete()
		want(t, "users after the first phase", append(slices.Clone(usersColumns(t)), "handle text"), e.columns("public", "users"))
		st, err := e.m.Status(e.ctx, two)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != "idle" || st.LatestCompleted == nil || *st.LatestCompleted != "002_rename_nick" || len(st.Pending) != 0 {
			t.Errorf("status after the first phase: state %s, latest %v, pending %v", st.State, st.LatestCompleted, st.Pending)
		}

		// The third migration: the old version is public_002_rename_nick.
		migs := e.migs("", fx.migrations()...)
		p3 := begin(t, e, "", "public_002_rename_nick", migs)
		if p3.res.VersionSchema != "public_003_shout" || !slices.Equal(p3.res.Migrations, []string{"003_shout"}) {
			t.Fatalf("third phase: %+v", p3.res)
		}
		want(t, "old version's view", asView(usersColumns(t), []string{"handle text"}), e.columns(p3.prev, "users"))
		want(t, "new version's view", asView(usersColumns(t), []string{"handle character varying(40)", "shout text"}), e.columns(p3.res.VersionSchema, "users"))
		want(t, "existing row, new version", []string{"u7|U7"}, p3.q(p3.new, "SELECT handle, shout FROM users WHERE id = 7"))
		// Writes through the old version schema are translated.
		id3 := p3.one(p3.old, "INSERT INTO users (email, name, handle) VALUES ('third@x.org', 'third', 'h3') RETURNING id")
		p3.exec(p3.old, "UPDATE users SET handle = 'h8' WHERE id = 8")
		p3.exec(p3.old, "INSERT INTO users (email, handle) VALUES ('u9@x.org', 'h9') ON CONFLICT (email) DO UPDATE SET handle = EXCLUDED.handle")
		want(t, "old-version writes, new version", []string{"8|h8|H8", "9|h9|H9", id3 + "|h3|H3"},
			p3.q(p3.new, "SELECT id, handle, shout FROM users WHERE id IN (8, 9, $1) ORDER BY id", id3))
		// And writes of the new version reach the old one.
		p3.exec(p3.new, "UPDATE users SET handle = 'h10' WHERE id = 10")
		p3.exec(p3.old, "DELETE FROM users WHERE id = 11")
		p3.exec(p3.new, "DELETE FROM users WHERE id = 12")
		want(t, "new-version writes, old version", []string{"10|h10"},
			p3.q(p3.old, "SELECT id, handle FROM users WHERE id IN (10, 11, 12) ORDER BY id"))

		if path == "abort" {
			p3.abort()
			want(t, "schemas after abort", []string{"public", "public_002_rename_nick", "strata"}, e.schemas())
			// The old version keeps working.
			want(t, "old version after abort", []string{"h8", "h9"},
				p3.q(p3.old, "WITH u AS (UPDATE users SET name = 'x' WHERE id IN (8, 9) RETURNING handle) SELECT handle FROM u ORDER BY 1"))
			return
		}
		p3.complete()
		want(t, "schemas after complete", []string{"public", "public_003_shout", "strata"}, e.schemas())
		want(t, "users after complete", append(slices.Clone(usersColumns(t)), "handle character varying(40)", "shout text"), e.columns("public", "users"))
		want(t, "rows after complete", []string{"8|h8|H8", "10|h10|U10", id3 + "|h3|H3"},
			p3.q(e.catalogConn(), "SELECT id, handle, shout FROM users WHERE id IN (8, 10, 11, 12, $1) ORDER BY id", id3))
	})
}
