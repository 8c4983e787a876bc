package engine_test

import (
	"fmt"
	"testing"
)

func TestLifecycleRenameTable(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/rename_table/users_to_accounts")
		e := newEnv(t, tables(t, "users", "notes"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		vs := p.res.VersionSchema
		// The new name, and the old one, which fails naming the change.
		want(t, "relations of the new version schema", []string{"accounts v", "users v"}, e.relations(vs))
		for _, sql := range []string{
			"SELECT count(*) FROM users",
			"INSERT INTO users (email, name) VALUES ('gone@x.org', 'x')",
			"UPDATE users SET name = 'x' WHERE id = -1",
		} {
			goneError(t, p, sql, `relation "users" was renamed to "accounts" in version schema "`+vs+`"`)
		}
		want(t, "new version's view", asView(usersColumns(t)), e.columns(vs, "accounts"))
		want(t, "existing rows, new version", []string{"250|u7@x.org"},
			p.q(p.new, "SELECT count(*), min(email) FILTER (WHERE id = 7) FROM accounts"))

		// INSERT ... RETURNING from both sides, each under its own name.
		oldID := p.one(p.old, "INSERT INTO users (email, name) VALUES ('old@x.org', 'old') RETURNING id")
		want(t, "old row, new version", []string{"old@x.org|old"}, p.q(p.new, "SELECT email, name FROM accounts WHERE id = $1", oldID))
		newID := p.one(p.new, "INSERT INTO accounts (email, name) VALUES ('new@x.org', 'new') RETURNING id")
		want(t, "new row, old version", []string{"new@x.org|new"}, p.q(p.old, "SELECT email, name FROM users WHERE id = $1", newID))
		// Foreign keys to the renamed table keep working in both versions.
		p.exec(p.new, "INSERT INTO notes (user_id, body) VALUES ($1, 'by new')", oldID)
		p.exec(p.old, "INSERT INTO notes (user_id, body) VALUES ($1, 'by old')", newID)
		p.fails(p.new, "23503", "INSERT INTO notes (user_id, body) VALUES (999999, 'dangling')")
		want(t, "notes joined to accounts, new version", []string{"by new|old", "by old|new"},
			p.q(p.new, "SELECT n.body, a.name FROM notes n JOIN accounts a ON a.id = n.user_id WHERE n.body LIKE 'by %' ORDER BY 1"))

		// INSERT ... ON CONFLICT (key) DO UPDATE from both sides.
		want(t, "old upsert", []string{"5|five-old"}, p.q(p.old,
			"INSERT INTO users (email, name) VALUES ('u5@x.org', 'five-old') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"))
		want(t, "new upsert", []string{"6|six-new"}, p.q(p.new,
			"INSERT INTO accounts (email, name) VALUES ('u6@x.org', 'six-new') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"))
		want(t, "new insert-or-nothing", nil, p.q(p.new,
			"INSERT INTO accounts (email, name) VALUES ('u6@x.org', 'ignored') ON CONFLICT (email) DO NOTHING RETURNING id"))
		// UPDATE and DELETE from both sides.
		p.exec(p.old, "UPDATE users SET name = 'eight-old' WHERE id = 8")
		p.exec(p.new, "UPDATE accounts SET name = 'nine-new' WHERE id = 9")
		p.exec(p.old, "DELETE FROM users WHERE id = 3")
		p.exec(p.new, "DELETE FROM accounts WHERE id = 4")
		wantRows := []string{"3|0", "4|0", "5|five-old", "6|six-new", "8|eight-old", "9|nine-new"}
		query := `SELECT i, coalesce((SELECT name FROM %s WHERE id = i), (SELECT count(*)::text FROM %s WHERE id = i))
			FROM unnest(ARRAY[3, 4, 5, 6, 8, 9]) AS i ORDER BY i`
		want(t, "rows, old version", wantRows, p.q(p.old, fmt.Sprintf(query, "users", "users")))
		want(t, "rows, new version", wantRows, p.q(p.new, fmt.Sprintf(query, "accounts", "accounts")))
		want(t, "notes of deleted users (cascade), both versions", []string{"0|0"},
			p.q(p.new, "SELECT (SELECT count(*) FROM notes WHERE user_id IN (3, 4)), (SELECT count(*) FROM public.notes WHERE user_id IN (3, 4))"))

		if path == "abort" {
			p.abort()
			want(t, "relations after abort", []string{"notes r", "users r"}, e.relations("public"))
			want(t, "rows after abort", wantRows, p.q(e.catalogConn(), fmt.Sprintf(query, "users", "users")))
			return
		}
		p.complete()
		want(t, "relations after complete", []string{"accounts r", "notes r"}, e.relations("public"))
		want(t, "accounts after complete", usersColumns(t), e.columns("public", "accounts"))
		want(t, "foreign key after complete", []string{"FOREIGN KEY (user_id) REFERENCES accounts(id) ON DELETE CASCADE"},
			p.q(e.catalogConn(), "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'notes'::regclass AND contype = 'f'"))
		want(t, "rows after complete", wantRows, p.q(e.catalogConn(), fmt.Sprintf(query, "accounts", "accounts")))
		// The new version keeps working, including ON CONFLICT and the serial.
		want(t, "new-version upsert after complete", []string{"7|seven-after"}, p.q(p.new,
			"INSERT INTO accounts (email, name) VALUES ('u7@x.org', 'seven-after') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"))
		want(t, "new-version insert after complete", []string{"true"}, p.q(p.new,
			"INSERT INTO accounts (email) VALUES ('after@x.org') RETURNING id > "+newID))
	})
}
