package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestLifecycleRemoveTable(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/remove_table/notes")
		e := newEnv(t, tables(t, "users", "notes"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		vs := p.res.VersionSchema
		// Only the removed name: users is reached through the search_path.
		want(t, "relations of the new version schema", []string{"notes v"}, e.relations(vs))
		// The new version gets an error naming the change on the removed
		// name, reading or writing, even on an empty result.
		gone := []string{"SELECT count(*) FROM notes"}
		if runsOneTimeFilterUnderWhereFalse(t, e) {
			gone = append(gone, "SELECT * FROM notes WHERE false")
		} else {
			// The server folds the constant WHERE false before the view's
			// filter runs (18, and 17 from some minor release on): the
			// empty result comes without the error, as for any view.
			t.Logf("this server folds WHERE false before a view's one-time filter")
			want(t, "SELECT * FROM notes WHERE false, new version", nil, p.q(p.new, "SELECT id FROM notes WHERE false"))
		}
		for _, sql := range append(gone,
			"INSERT INTO notes (user_id, body) VALUES (1, 'x')",
			"UPDATE notes SET body = 'x' WHERE id = -1",
			"DELETE FROM notes",
		) {
			goneError(t, p, sql, `relation "notes" was removed in version schema "`+vs+`"`)
		}

		// The old version reads and writes the table; the new version works
		// on the rest, and what it does shows in the old version's table.
		want(t, "existing notes, old version", []string{"50"}, p.q(p.old, "SELECT count(*) FROM notes"))
		newUser := p.one(p.new, "INSERT INTO users (email, name) VALUES ('new@x.org', 'new') RETURNING id")
		noteID := p.one(p.old, "INSERT INTO notes (user_id, body) VALUES ($1, 'for new') RETURNING id", newUser)
		want(t, "old upsert", []string{noteID + "|again"}, p.q(p.old,
			"INSERT INTO notes (id, user_id, body) VALUES ($1, $2, 'again') ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body RETURNING id, body", noteID, newUser))
		p.exec(p.old, "UPDATE notes SET body = 'edited' WHERE user_id = 7")
		p.exec(p.old, "DELETE FROM notes WHERE user_id = 8")
		// Deleting a user in the new version cascades to the old version's notes.
		p.exec(p.new, "DELETE FROM users WHERE id = 9")
		p.exec(p.new, "UPDATE users SET name = 'seven-new' WHERE id = 7")
		p.exec(p.old, "INSERT INTO users (email, name) VALUES ('u5@x.org', 'five-old') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name")
		want(t, "users, new version", []string{"5|five-old", "7|seven-new", newUser + "|new"},
			p.q(p.new, "SELECT id, name FROM users WHERE id IN (5, 7, 9, $1) ORDER BY id", newUser))
		wantNotes := []string{"7|edited", newUser + "|again"}
		notesQuery := "SELECT user_id, body FROM notes WHERE user_id IN (7, 8, 9, $1) ORDER BY user_id"
		want(t, "notes, old version", wantNotes, p.q(p.old, notesQuery, newUser))

		if path == "abort" {
			p.abort()
			want(t, "notes after abort", wantNotes, p.q(e.catalogConn(), notesQuery, newUser))
			return
		}
		p.complete()
		want(t, "relations after complete", []string{"users r"}, e.relations("public"))
		want(t, "new version schema after complete", nil, e.relations(vs))
		p.fails(p.new, "42P01", "SELECT count(*) FROM notes")
		want(t, "sequences after complete", []string{"users_id_seq"},
			p.q(e.catalogConn(), "SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"))
		want(t, "users after complete", usersColumns(t), e.columns("public", "users"))
		want(t, "new-version update after complete", []string{"5|five-new"}, p.q(p.new,
			"UPDATE users SET name = 'five-new' WHERE id = 5 RETURNING id, name"))
	})
}

// A table that another table's foreign key references cannot be removed:
// start refuses before touching anything.
func TestLifecycleRemoveTableReferenced(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "lifecycle/remove_table/referenced")
	e := newEnv(t, tables(t, "users", "notes"))
	migs := e.migs("", fx.migrations()...)
	startFails(t, e, "", migs, "001_drop_users.toml", "notes")
}

// goneError runs sql as the new version, which must fail with SQLSTATE
// 42P01 and a message containing msg (a tombstone view's error).
func goneError(t *testing.T, p *phase, sql, msg string) {
	t.Helper()
	_, err := p.new.Exec(p.e.ctx, sql)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" || !strings.Contains(pgErr.Message, msg) {
		t.Errorf("%s: %v, want 42P01 %q", sql, err, msg)
	}
}

// runsOneTimeFilterUnderWhereFalse says whether the server evaluates a
// view's constant filter (a function that raises, as a tombstone view has)
// when the query adds WHERE false: older servers do, newer ones fold the
// constant first and return no rows. Asked of the server, not of its major,
// since the change is not tied to one major release.
func runsOneTimeFilterUnderWhereFalse(t *testing.T, e *env) bool {
	t.Helper()
	tx, err := e.db.Conn(t).Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	for _, sql := range []string{
		`CREATE FUNCTION pg_temp.probe_raise() RETURNS boolean LANGUAGE plpgsql STABLE AS $$BEGIN RAISE EXCEPTION USING ERRCODE = 'undefined_table', MESSAGE = 'probe'; END$$`,
		`CREATE TEMP VIEW probe_gone AS SELECT * FROM public.users WHERE pg_temp.probe_raise() WITH LOCAL CHECK OPTION`,
	} {
		if _, err := tx.Exec(e.ctx, sql); err != nil {
			t.Fatalf("probe: %s: %v", sql, err)
		}
	}
	_, err = tx.Exec(e.ctx, `SELECT * FROM pg_temp.probe_gone WHERE false`)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return false
	case errors.As(err, &pgErr) && pgErr.Code == "42P01" && pgErr.Message == "probe":
		return true
	default:
		t.Fatalf("probe: SELECT * FROM pg_temp.probe_gone WHERE false: %v", err)
		return false
	}
}
