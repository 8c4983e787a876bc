package engine_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// appRole creates a login role (not a superuser) for the test's app
// sessions and returns a function that connects as it with the given
// application_name and search_path ("" keeps the default: the base tables).
func appRole(t *testing.T, e *env) func(app, searchPath string) *pgx.Conn {
	t.Helper()
	role := e.db.Name + "_app"
	admin := e.db.Conn(t)
	exec(t, e.ctx, admin, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN NOSUPERUSER PASSWORD 'app'")
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := admin.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return func(app, searchPath string) *pgx.Conn {
		t.Helper()
		cfg, err := pgx.ParseConfig(e.db.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Password = role, "app"
		cfg.RuntimeParams["application_name"] = app
		if searchPath != "" {
			cfg.RuntimeParams["options"] = "-c search_path=" + searchPath
		}
		conn, err := pgx.ConnectConfig(e.ctx, cfg)
		if err != nil {
			t.Fatalf("connect as %s: %v", role, err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		var super bool
		if err := conn.QueryRow(e.ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
			t.Fatalf("app role: superuser=%v, err=%v", super, err)
		}
		return conn
	}
}

// grantApp lets the app role use the managed schema and the version
// schemas, as an operator would after start.
func grantApp(t *testing.T, e *env, schemas ...string) {
	t.Helper()
	admin := e.db.Conn(t)
	role := pgx.Identifier{e.db.Name + "_app"}.Sanitize()
	for _, s := range schemas {
		q := pgx.Identifier{s}.Sanitize()
		exec(t, e.ctx, admin, "GRANT USAGE ON SCHEMA "+q+" TO "+role)
		exec(t, e.ctx, admin, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+q+" TO "+role)
	}
}

func pid(c *pgx.Conn) int32 { return int32(c.PgConn().PID()) }

// findSession returns the session with pid in the given version's list.
func findSession(c *engine.Clients, version string, pid int32) (engine.Session, bool) {
	for _, v := range c.Versions {
		if v.Version != version {
			continue
		}
		for _, s := range v.Sessions {
			if s.PID == pid {
				return s, true
			}
		}
	}
	return engine.Session{}, false
}

// TestClientsOldVersionSession is issue 13's must-show 6: an old-version
// session holding a transaction open after reading through the old version
// schema is listed with its pid and application_name; complete
// --require-idle-old refuses while it is there, changing nothing, and
// succeeds once it has committed.
func TestClientsOldVersionSession(t *testing.T) {
	fx := loadFixture(t, "clients/users_orders")
	e := newEnv(t, fx.setup())
	all := e.migs("", fx.migrations()...)
	e.start(all[:1])
	e.complete()
	connect := appRole(t, e)
	res := e.start(all)
	v1, v2 := "public_001_email", res.VersionSchema
	grantApp(t, e, "public", v1, v2)

	old := connect("old-app", v1+",public")
	exec(t, e.ctx, old, "BEGIN")
	if got := queryStrings(t, e.ctx, old, "SELECT name FROM users ORDER BY id"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("old version reads %v", got)
	}
	// A new-version session reading in a transaction too, and an old one
	// that is idle between transactions.
	neu := connect("new-app", v2+",public")
	exec(t, e.ctx, neu, "BEGIN")
	queryStrings(t, e.ctx, neu, "SELECT full_name FROM users ORDER BY id")
	idle := connect("idle-app", v1+",public")
	queryStrings(t, e.ctx, idle, "SELECT name FROM users")

	c, err := e.m.Clients(e.ctx, engine.ClientsOptions{Watch: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "in_progress" || c.PhaseStartedAt == nil || c.Samples < 2 || len(c.Versions) != 2 ||
		c.Versions[0].Schema != v1 || c.Versions[1].Schema != v2 {
		t.Fatalf("clients: %+v", c)
	}
	s, ok := findSession(c, engine.VersionOld, pid(old))
	if !ok || !s.Seen || s.ApplicationName != "old-app" || s.Role != e.db.Name+"_app" ||
		s.State != "idle in transaction" || s.BackendStart == nil || !slices.Contains(s.Relations, "public.users") {
		t.Errorf("old session %d: found=%v %+v", pid(old), ok, s)
	}
	if s, ok := findSession(c, engine.VersionNew, pid(neu)); !ok || !s.Seen || s.ApplicationName != "new-app" ||
		!slices.Contains(s.Relations, v2+".users") {
		t.Errorf("new session %d: found=%v %+v", pid(neu), ok, s)
	}
	if s, ok := findSession(c, engine.VersionOld, pid(neu)); ok {
		t.Errorf("new session listed as old: %+v", s)
	}
	// Between transactions a session holds no lock: it cannot be seen.
	if s, ok := findSession(c, engine.VersionOld, pid(idle)); ok {
		t.Errorf("idle session listed: %+v", s)
	}
	if got := c.OldInUse(); len(got) != 1 || got[0].PID != pid(old) {
		t.Errorf("OldInUse = %+v", got)
	}

	before := e.snapshot()
	var seen *engine.Clients
	_, err = e.m.CompleteWith(e.ctx, engine.CompleteOptions{Watch: 300 * time.Millisecond, RequireIdleOld: true,
		Seen: func(c *engine.Clients) { seen = c }})
	var inUse *engine.OldVersionInUseError
	if !errors.Is(err, engine.ErrOldVersionInUse) || !errors.As(err, &inUse) {
		t.Fatalf("complete --require-idle-old with an old session: %v", err)
	}
	if len(inUse.Sessions) != 1 || inUse.Sessions[0].PID != pid(old) || inUse.Sessions[0].ApplicationName != "old-app" {
		t.Errorf("refusal lists %+v", inUse.Sessions)
	}
	if seen == nil || len(seen.OldInUse()) != 1 {
		t.Errorf("Seen got %+v", seen)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("the refused complete changed the database")
	}
	st, err := e.m.Status(e.ctx, all)
	if err != nil || st.Phase != "started" {
		t.Fatalf("status after the refusal: %+v, %v", st, err)
	}

	// Without --require-idle-old, complete only reports what it saw; here the
	// old session commits first.
	exec(t, e.ctx, old, "COMMIT")
	exec(t, e.ctx, neu, "COMMIT")
	if _, err := e.m.CompleteWith(e.ctx, engine.CompleteOptions{Watch: 300 * time.Millisecond, RequireIdleOld: true}); err != nil {
		t.Fatalf("complete --require-idle-old after the old session committed: %v", err)
	}
	c, err = e.m.Clients(e.ctx, engine.ClientsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "idle" || c.Samples != 1 || len(c.Versions) != 1 || c.Versions[0].Version != engine.VersionLatest ||
		c.Versions[0].Schema != v2 {
		t.Errorf("clients after complete: %+v", c)
	}
}

// TestClientsBaseTables: in the phase of the first migration the old
// version is the base tables: a session locking a table that the new
// version reads through a view, without the view, is old; one connected
// before the phase and idle is "probably old" but does not make complete
// refuse.
func TestClientsBaseTables(t *testing.T) {
	fx := loadFixture(t, "clients/users_orders")
	e := newEnv(t, fx.setup())
	connect := appRole(t, e)
	grantApp(t, e, "public")
	early := connect("early-app", "")
	queryStrings(t, e.ctx, early, "SELECT 1")
	time.Sleep(10 * time.Millisecond)
	res := e.start(e.migs("", fx.migrations("002_full_name.toml")...))
	grantApp(t, e, "public", res.VersionSchema)

	old := connect("base-app", "")
	exec(t, e.ctx, old, "BEGIN")
	queryStrings(t, e.ctx, old, "SELECT name FROM users")
	neu := connect("new-app", res.VersionSchema+",public")
	exec(t, e.ctx, neu, "BEGIN")
	queryStrings(t, e.ctx, neu, "SELECT full_name FROM users")

	c, err := e.m.Clients(e.ctx, engine.ClientsOptions{Watch: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Old(); o == nil || !o.BaseTables || o.Schema != "public" {
		t.Fatalf("old version: %+v", o)
	}
	if s, ok := findSession(c, engine.VersionOld, pid(old)); !ok || !s.Seen || s.ProbablyOld ||
		!slices.Equal(s.Relations, []string{"public.users"}) {
		t.Errorf("base-table session: found=%v %+v", ok, s)
	}
	if s, ok := findSession(c, engine.VersionOld, pid(neu)); ok {
		t.Errorf("new session listed as old: %+v", s)
	}
	if s, ok := findSession(c, engine.VersionOld, pid(early)); !ok || s.Seen || !s.ProbablyOld || s.ApplicationName != "early-app" {
		t.Errorf("early session: found=%v %+v", ok, s)
	}
	if got := c.OldInUse(); len(got) != 1 || got[0].PID != pid(old) {
		t.Errorf("OldInUse = %+v", got)
	}

	exec(t, e.ctx, old, "COMMIT")
	exec(t, e.ctx, neu, "COMMIT")
	var seen *engine.Clients
	if _, err := e.m.CompleteWith(e.ctx, engine.CompleteOptions{Watch: 200 * time.Millisecond, RequireIdleOld: true,
		Seen: func(c *engine.Clients) { seen = c }}); err != nil {
		t.Fatalf("complete with only a probably-old session: %v", err)
	}
	if s, ok := findSession(seen, engine.VersionOld, pid(early)); !ok || !s.ProbablyOld {
		t.Errorf("complete's watch: early session found=%v %+v", ok, s)
	}
}
