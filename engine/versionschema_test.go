package engine_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// Version schemas (Revision 2): their privileges, the objects strata did
// not create in them, and prepared statements across start, complete and
// abort.

// loginRole creates a plain login role (no superuser, no CREATEDB) for the
// test's database and returns its name and a connection URL for it.
func loginRole(t *testing.T, e *env, suffix string) (string, string) {
	t.Helper()
	role := e.db.Name + "_" + suffix
	admin := e.catalogConn()
	exec(t, e.ctx, admin, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD 'pw'")
	t.Cleanup(func() {
		ctx := context.Background()
		admin.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize())
		if _, err := admin.Exec(ctx, "DROP ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	u, err := url.Parse(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "pw")
	return role, u.String()
}

// TestVersionSchemaPrivileges (issue 12 item 16): a version schema grants
// USAGE only, even where the managed schema grants CREATE to PUBLIC
// (PostgreSQL 14's defaults), so a plain login role cannot plant a function
// that the version's clients would call; complete and abort refuse to drop
// an object strata did not create in a version schema, naming it, and
// change nothing.
func TestVersionSchemaPrivileges(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, tables(t, "users")+"\nGRANT CREATE ON SCHEMA public TO PUBLIC;")
		migs := e.migs("", loadFixture(t, "versionschema/nick").migrations()...)
		res1 := e.start(migs[:1])
		e.complete()
		p := begin(t, e, "", res1.VersionSchema, migs)
		vs := p.res.VersionSchema
		admin := e.catalogConn()

		want(t, "grants on the version schema", []string{"PUBLIC USAGE"}, p.q(admin, `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ' ' || a.privilege_type
			FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = $1 AND a.grantee <> n.nspowner ORDER BY 1`, vs))

		_, roleURL := loginRole(t, e, "plain")
		plain, err := pgx.Connect(e.ctx, withOption(t, roleURL, "-c search_path="+vs+",public"))
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close(e.ctx)
		want(t, "the plain role is a client of the new version", []string{vs}, p.q(plain, "SELECT current_schema()"))
		for _, sql := range []string{
			"CREATE FUNCTION " + pgx.Identifier{vs, "lower"}.Sanitize() + "(varchar) RETURNS text LANGUAGE sql AS $$SELECT 'planted'$$",
			"CREATE TABLE " + pgx.Identifier{vs, "planted"}.Sanitize() + " (id int)",
		} {
			expectCode(t, plain, e, "42501", sql)
		}
		want(t, "lower() as the new version calls it", []string{"abc"}, p.q(plain, "SELECT lower('ABC'::varchar)"))

		// An object strata did not create, in the schema complete (the
		// old version's) or abort (the new version's) drops.
		target := vs
		if path == "complete" {
			target = res1.VersionSchema
		}
		fn := pgx.Identifier{target, "lower"}.Sanitize()
		exec(t, e.ctx, admin, "CREATE FUNCTION "+fn+"(varchar) RETURNS text LANGUAGE sql AS $$SELECT 'planted'$$")
		var runErr error
		if path == "complete" {
			_, runErr = e.m.Complete(e.ctx)
		} else {
			_, runErr = e.m.Abort(e.ctx)
		}
		if runErr == nil || !strings.Contains(runErr.Error(), "lower(character varying)") || !strings.Contains(runErr.Error(), "did not create") {
			t.Fatalf("%s with a planted function: %v, want a refusal naming it", path, runErr)
		}
		want(t, "the planted function is still there", []string{"1"},
			p.q(admin, "SELECT count(*) FROM pg_proc WHERE pronamespace = $1::regnamespace AND proname = 'lower'", pgx.Identifier{target}.Sanitize()))
		want(t, "both version schemas are still there", []string{"2"},
			p.q(admin, "SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)", vs, res1.VersionSchema))
		exec(t, e.ctx, admin, "DROP FUNCTION "+fn+"(varchar)")
		if path == "complete" {
			p.complete()
		} else {
			p.abort()
		}
	})
}

// TestPreparedStatementsAcrossPhases: named prepared statements (pgx
// prepares them on the server) of the old version, prepared before start,
// and of the new version, prepared during the phase, keep working after
// start, complete and abort, on the changed table (users gains a column)
// and on an untouched one (tags). The old version's view of users is
// created before the column is added, so its prepared SELECT * keeps its
// column list.
func TestPreparedStatementsAcrossPhases(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		// mid runs while start is between its steps (before each one), so
		// the old version's statements run right after the column is added.
		var mid func()
		e := newEnv(t, tables(t, "users"), func(o *engine.Options) {
			logf := o.Logf
			o.Logf = func(format string, args ...any) {
				logf(format, args...)
				if mid != nil && strings.HasPrefix(fmt.Sprintf(format, args...), "start: ") {
					mid()
				}
			}
		})
		migs := e.migs("", loadFixture(t, "versionschema/nick").migrations()...)
		res1 := e.start(migs[:1])
		e.complete()
		prev := res1.VersionSchema
		old := pathConn(t, e, prev, "public")
		stmts := map[string]string{
			"users_star":   "SELECT * FROM users WHERE id = $1",
			"users_insert": "INSERT INTO users (email, name) VALUES ($1, 'p') RETURNING id",
			"users_update": "UPDATE users SET name = $2 WHERE id = $1",
			"tags_star":    "SELECT * FROM tags WHERE id = $1",
			"tags_insert":  "INSERT INTO tags (id) VALUES ($1)",
		}
		prepare := func(c *pgx.Conn) {
			t.Helper()
			for name, sql := range stmts {
				if _, err := c.Prepare(e.ctx, name, sql); err != nil {
					t.Fatalf("prepare %s: %v", name, err)
				}
			}
		}
		n := 0
		run := func(who string, c *pgx.Conn, cols int) {
			t.Helper()
			n++
			rows := queryStrings(t, e.ctx, c, "users_star", 7)
			if len(rows) != 1 || len(strings.Split(rows[0], "|")) != cols {
				t.Errorf("%s users_star: %v, want one row of %d columns", who, rows, cols)
			}
			var id int64
			if err := c.QueryRow(e.ctx, "users_insert", who+strings.Repeat("x", n)+"@p.org").Scan(&id); err != nil {
				t.Errorf("%s users_insert: %v", who, err)
			}
			if _, err := c.Exec(e.ctx, "users_update", 7, who); err != nil {
				t.Errorf("%s users_update: %v", who, err)
			}
			if _, err := c.Exec(e.ctx, "tags_insert", n); err != nil {
				t.Errorf("%s tags_insert: %v", who, err)
			}
			if rows := queryStrings(t, e.ctx, c, "tags_star", n); len(rows) != 1 {
				t.Errorf("%s tags_star: %v", who, rows)
			}
		}
		prepare(old)
		run("old before start", old, 3)
		mid = func() { run("old during start", old, 3) }

		p := begin(t, e, "", prev, migs)
		mid = nil
		if n < 4 {
			t.Fatalf("the old version's statements did not run during start")
		}
		run("old after start", old, 3)
		newc := pathConn(t, e, p.res.VersionSchema, "public")
		prepare(newc)
		run("new after start", newc, 4)
		want(t, "nick of the old version's write", []string{"OLD AFTER START"}, p.q(newc, "SELECT nick FROM users WHERE id = 7"))
		// The new version schema is empty (users has the new shape), yet
		// the sync trigger knows a new-version write: it keeps its nick
		// (an old-version write gets upper(name)).
		want(t, "new version schema during the phase", nil, e.relations(p.res.VersionSchema))
		want(t, "current_schema() of a new-version client", []string{p.res.VersionSchema}, p.q(newc, "SELECT current_schema()"))
		want(t, "new-version insert keeps its nick", []string{"mine"},
			p.q(newc, "INSERT INTO users (email, name, nick) VALUES ('mine@x.org', 'n', 'mine') RETURNING nick"))
		want(t, "new-version update keeps its nick", []string{"mine"},
			p.q(newc, "UPDATE users SET name = 'changed' WHERE email = 'mine@x.org' RETURNING nick"))

		if path == "abort" {
			p.abort()
			want(t, "old version schema after abort (its view of users is gone)", nil, e.relations(prev))
			run("old after abort", old, 3)
			// The new version's statements on the untouched table.
			if _, err := newc.Exec(e.ctx, "tags_insert", 1000); err != nil {
				t.Errorf("new tags_insert after abort: %v", err)
			}
			return
		}
		p.complete()
		want(t, "new version schema after complete", nil, e.relations(p.res.VersionSchema))
		run("new after complete", newc, 4)
		// The old version's statements on the untouched table.
		if _, err := old.Exec(e.ctx, "tags_insert", 1000); err != nil {
			t.Errorf("old tags_insert after complete: %v", err)
		}
	})
}

// TestVersionViewGrants (issue 12 item 4): a view gets its table's grants
// when it is created, at run time: the view of a table created in the phase
// has the privileges ALTER DEFAULT PRIVILEGES gave the table; a grant made
// on a table after start reaches the views that stay at complete.
func TestVersionViewGrants(t *testing.T) {
	e := newEnv(t, tables(t, "users"))
	role := pgx.Identifier{e.db.Name + "_reader"}.Sanitize()
	admin := e.catalogConn()
	exec(t, e.ctx, admin, "CREATE ROLE "+role+" NOLOGIN")
	t.Cleanup(func() {
		ctx := context.Background()
		admin.Exec(ctx, "DROP OWNED BY "+role)
		if _, err := admin.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	exec(t, e.ctx, admin, "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "+role)
	exec(t, e.ctx, admin, "GRANT SELECT ON users TO "+role)
	migs := e.migs("", loadFixture(t, "versionschema/grants").migrations()...)
	p := begin(t, e, "", "", migs)
	vs := p.res.VersionSchema
	privs := func(rel string) []string {
		t.Helper()
		return p.q(admin, `SELECT a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
			WHERE c.oid = $1::regclass AND a.grantee = $2::regrole ORDER BY 1`, pgx.Identifier{vs, rel}.Sanitize(), role)
	}
	want(t, "relations of the version schema", []string{"orders v", "users v"}, e.relations(vs))
	want(t, "the created table's view: its default privileges", []string{"SELECT"}, privs("orders"))
	want(t, "users' view: the table's grants", []string{"SELECT"}, privs("users"))
	exec(t, e.ctx, admin, "GRANT INSERT ON users TO "+role)
	want(t, "a grant made after start, during the phase", []string{"SELECT"}, privs("users"))
	p.complete()
	// The retyped column is last in the table: users' view stays, with
	// the grant made during the phase.
	want(t, "relations of the version schema after complete", []string{"users v"}, e.relations(vs))
	want(t, "users' view after complete", []string{"INSERT", "SELECT"}, privs("users"))
}

// TestOlderFullVersionSchema: a database migrated by an older strata has a
// view of every table in its version schema, and its clients may name only
// that schema. Start reuses those views as the old version's (the old
// clients keep working); abort leaves the schema as it was; complete drops
// it, and the new version schema is thin.
func TestOlderFullVersionSchema(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, tables(t, "users", "notes"))
		migs := e.migs("", loadFixture(t, "versionschema/nick").migrations()...)
		res1 := e.start(migs[:1])
		e.complete()
		prev := res1.VersionSchema
		admin := e.catalogConn()
		// What an older strata left: a plain view of every table.
		for _, table := range []string{"notes", "tags", "users"} {
			exec(t, e.ctx, admin, "CREATE VIEW "+pgx.Identifier{prev, table}.Sanitize()+" AS SELECT * FROM "+pgx.Identifier{"public", table}.Sanitize())
		}
		exec(t, e.ctx, admin, "ALTER VIEW "+pgx.Identifier{prev, "users"}.Sanitize()+" ALTER COLUMN id SET DEFAULT nextval('users_id_seq')")
		exec(t, e.ctx, admin, "ALTER VIEW "+pgx.Identifier{prev, "notes"}.Sanitize()+" ALTER COLUMN id SET DEFAULT nextval('notes_id_seq')")
		full := []string{"notes v", "tags v", "users v"}
		// An old client that names only the old version schema.
		old, err := pgx.Connect(e.ctx, withOption(t, e.db.URL, "-c search_path="+prev))
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close(e.ctx)
		oldWork := func(when string) {
			t.Helper()
			var id int64
			if err := old.QueryRow(e.ctx, "INSERT INTO users (email, name) VALUES ($1, 'old') RETURNING id", when+"@old.org").Scan(&id); err != nil {
				t.Fatalf("old insert %s: %v", when, err)
			}
			if _, err := old.Exec(e.ctx, "INSERT INTO notes (user_id, body) VALUES ($1, $2)", id, when); err != nil {
				t.Fatalf("old note %s: %v", when, err)
			}
			want(t, "users as the old version sees it "+when, []string{"id", "email", "name"}, e.columnNames(prev, "users"))
		}
		oldWork("before")

		p := begin(t, e, "", prev, migs)
		want(t, "the older version schema during the phase", full, e.relations(prev))
		want(t, "the new version schema (users has the new version's shape)", nil, e.relations(p.res.VersionSchema))
		oldWork("during")
		want(t, "old row as the new version sees it", []string{"OLD"}, p.q(p.new, "SELECT nick FROM users WHERE email = 'during@old.org'"))

		if path == "abort" {
			p.abort()
			want(t, "the older version schema after abort", full, e.relations(prev))
			oldWork("after")
			return
		}
		p.complete()
		want(t, "schemas after complete", []string{p.res.VersionSchema}, p.q(admin, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'public\\_0%' ORDER BY 1"))
		want(t, "the new version schema after complete", nil, e.relations(p.res.VersionSchema))
	})
}
