package engine_test

import (
	"testing"
)

// Migrations from strata's peers (Reshape, pgroll) that use features
// together within one phase: lifecycle/peers/*.txtar.

// create_table with a foreign key to a table created by the action before.
func TestLifecyclePeersForeignKeySamePhase(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/peers/fk_same_phase")
		e := newEnv(t, "")
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		uid := p.one(p.new, "INSERT INTO users (name) VALUES ('ann') RETURNING id")
		p.exec(p.new, "INSERT INTO items (id, user_id) VALUES (1, $1)", uid)
		p.fails(p.new, "23503", "INSERT INTO items (id, user_id) VALUES (2, 999)")
		want(t, "items, new version", []string{"1|ann"}, p.q(p.new, "SELECT i.id, u.name FROM items i JOIN users u ON u.id = i.user_id"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "items after complete", []string{"1|ann"}, p.q(p.new, "SELECT i.id, u.name FROM items i JOIN users u ON u.id = i.user_id"))
	})
}

// Reshape's move of a column between tables: add_column profiles.email
// (up from users), remove_column users.email (down from profiles).
func TestLifecyclePeersMoveColumn(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/peers/move_column")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		want(t, "backfilled, new version", []string{"1|test1@test.com", "2|test2@test.com"},
			p.q(p.new, "SELECT id, email FROM profiles ORDER BY id"))
		p.fails(p.new, "42703", "SELECT email FROM users")
		// The old version writes users.email: profiles follow.
		p.exec(p.old, "UPDATE users SET email = 'old1@x.org' WHERE id = 1")
		want(t, "old write, new version", []string{"1|old1@x.org"}, p.q(p.new, "SELECT id, email FROM profiles WHERE id = 1"))
		// The new version writes profiles.email: users.email follows.
		p.exec(p.new, "UPDATE profiles SET email = 'new2@x.org' WHERE id = 2")
		want(t, "new write, old version", []string{"2|new2@x.org"}, p.q(p.old, "SELECT id, email FROM users WHERE id = 2"))
		p.exec(p.new, "INSERT INTO users (id) VALUES (3)")
		p.exec(p.new, "INSERT INTO profiles (id, user_id, email) VALUES (3, 3, 'three@x.org')")
		want(t, "new rows, old version", []string{"3|three@x.org"}, p.q(p.old, "SELECT id, email FROM users WHERE id = 3"))
		if path == "abort" {
			p.abort()
			want(t, "users after abort", []string{"1|old1@x.org", "2|new2@x.org", "3|three@x.org"},
				p.q(e.catalogConn(), "SELECT id, email FROM users ORDER BY id"))
			return
		}
		p.complete()
		want(t, "profiles after complete", []string{"1|old1@x.org", "2|new2@x.org", "3|three@x.org"},
			p.q(p.new, "SELECT id, email FROM profiles ORDER BY id"))
	})
}

// serial, bigserial and smallserial in create_table and add_column.
func TestLifecyclePeersSerial(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/peers/serial")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		want(t, "new version's tags", asView(fx.lines("want/tags")), e.columns(p.res.VersionSchema, "tags"))
		want(t, "tags inserts", []string{"1|1", "2|2"}, p.q(p.new, "INSERT INTO tags (label) VALUES ('a'), ('b') RETURNING id, rank"))
		want(t, "existing rows got numbers", []string{"a|1", "b|2"}, p.q(p.new, "SELECT k, seq FROM notes ORDER BY k"))
		p.exec(p.old, "INSERT INTO notes VALUES ('c', 'z')")
		want(t, "old insert, new version", []string{"c|3"}, p.q(p.new, "SELECT k, seq FROM notes WHERE k = 'c'"))
		want(t, "new insert", []string{"d|4"}, p.q(p.new, "INSERT INTO notes (k) VALUES ('d') RETURNING k, seq"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "tags after complete", fx.lines("want/tags"), e.columns("public", "tags"))
		want(t, "notes after complete", fx.lines("want/notes"), e.columns("public", "notes"))
		want(t, "sequences owned", []string{"notes_seq_seq|notes.seq", "tags_id_seq|tags.id", "tags_rank_seq|tags.rank"}, p.q(e.catalogConn(),
			`SELECT s.relname, t.relname || '.' || a.attname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a'
			JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
			WHERE s.relkind = 'S' ORDER BY 1`))
	})
}

// alter_column type change on a table created in the same phase: up is the
// USING expression.
func TestLifecyclePeersAlterNewTable(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/peers/alter_new_table")
		e := newEnv(t, "")
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		want(t, "new version's items", asView(fx.lines("want/items")), e.columns(p.res.VersionSchema, "items"))
		p.exec(p.new, "INSERT INTO items VALUES (1, 2)")
		want(t, "items", []string{"1|2"}, p.q(p.new, "SELECT id, size FROM items"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "items after complete", fx.lines("want/items"), e.columns("public", "items"))
	})
}

// The same type change with an up that does not work is refused before
// start, naming the key.
func TestLifecyclePeersAlterNewTableRefused(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "lifecycle/peers/alter_new_table_bad")
	e := newEnv(t, "")
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			c := fx.in(t).sub(name)
			startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
		})
	}
}

// A custom action's table and type used by later actions of the phase and
// seen through the version schema.
func TestLifecyclePeersCustomObjects(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/peers/custom_objects")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		want(t, "teams through the version schema", []string{"1|red", "2|blue"}, p.q(p.new, "SELECT id, name FROM "+
			`"`+p.res.VersionSchema+`".teams ORDER BY id`))
		p.exec(p.new, "INSERT INTO members VALUES (1, 2, 'sad')")
		p.fails(p.new, "23503", "INSERT INTO members VALUES (2, 9, 'sad')")
		want(t, "tickets backfilled", []string{"1|happy", "2|happy"}, p.q(p.new, "SELECT id, feeling FROM tickets ORDER BY id"))
		p.exec(p.old, "INSERT INTO tickets VALUES (3, 'three')")
		want(t, "old insert, new version", []string{"3|happy"}, p.q(p.new, "SELECT id, feeling FROM tickets WHERE id = 3"))
		want(t, "index on teams", []string{"teams_name"}, p.q(e.catalogConn(), "SELECT indexname FROM pg_indexes WHERE tablename = 'teams' AND indexname <> 'teams_pkey'"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "members after complete", []string{"1|blue|sad"}, p.q(p.new, "SELECT m.id, t.name, m.feeling FROM members m JOIN teams t ON t.id = m.team_id"))
	})
}
