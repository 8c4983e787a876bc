package engine_test

import (
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestLifecycleVersionDetection checks how the sync trigger decides which
// version wrote: a session whose search_path names the new version schema
// first is the new version, however it set it; anything else (the base
// tables, an older version schema, the new schema named but not first) is
// the old version. The migration adds b (up: from a) and removes a (down:
// from b), so each write shows which branch ran: an old-version write fills
// b with 'up:...', a new-version write fills a with 'down:...'.
func TestLifecycleVersionDetection(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "lifecycle/version/detection")
	e := newEnv(t, fx.setup())
	migs := e.migs("", fx.migrations()...)
	prev := e.start(migs[:1]).VersionSchema
	e.complete()
	p := begin(t, e, "", prev, migs)
	vs := p.res.VersionSchema
	cat := e.catalogConn()
	want(t, "existing rows", []string{"7|a7|up:a7"}, p.q(cat, "SELECT id, a, b FROM public.t WHERE id = 7"))

	plain := func(setup ...string) *pgx.Conn {
		conn := e.db.Conn(t)
		for _, s := range setup {
			exec(t, e.ctx, conn, s)
		}
		return conn
	}
	newWriters := []struct {
		name string
		conn *pgx.Conn
		tx   string // run inside a transaction after this statement
	}{
		{"SET search_path = v, public", plain("SET search_path = " + vs + ", public"), ""},
		{`SET search_path TO "v"`, plain(`SET search_path TO "` + vs + `"`), ""},
		{"options=-c search_path=v,public", p.new, ""},
		{"SET LOCAL search_path in a transaction", plain(), "SET LOCAL search_path = " + vs + ", public"},
		{"set_config('search_path', ...)", plain("SELECT set_config('search_path', '\"" + vs + "\", public', false)"), ""},
	}
	for i, w := range newWriters {
		id := 1000 + i
		run := func(sql string, args ...any) {
			t.Helper()
			if w.tx == "" {
				exec(t, e.ctx, w.conn, sql, args...)
				return
			}
			tx, err := w.conn.Begin(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(e.ctx)
			if _, err := tx.Exec(e.ctx, w.tx); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(e.ctx, sql, args...); err != nil {
				t.Fatalf("%s: %s: %v", w.name, sql, err)
			}
			if err := tx.Commit(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		run("INSERT INTO t (id, b) VALUES ($1, 'ins')", id)
		run("UPDATE t SET b = 'upd' WHERE id = $1", 10+i)
		want(t, w.name+": counts as the new version", []string{
			itoa(10+i) + "|down:upd|upd", itoa(id) + "|down:ins|ins",
		}, p.q(cat, "SELECT id, a, b FROM public.t WHERE id IN ($1, $2) ORDER BY id", id, 10+i))
	}

	oldWriters := []struct {
		name string
		conn *pgx.Conn
	}{
		{"base tables (default search_path)", p.old},
		{"older version schema", pathConn(t, e, prev, "public")},
		{"SET search_path = public, v", plain("SET search_path = public, " + vs)},
		{"SET search_path = public", plain("SET search_path = public")},
	}
	for i, w := range oldWriters {
		id := 2000 + i
		exec(t, e.ctx, w.conn, "INSERT INTO t (id, a) VALUES ($1, 'ins')", id)
		exec(t, e.ctx, w.conn, "UPDATE t SET a = 'upd' WHERE id = $1", 30+i)
		want(t, w.name+": counts as the old version", []string{
			itoa(30+i) + "|upd|up:upd", itoa(id) + "|ins|up:ins",
		}, p.q(cat, "SELECT id, a, b FROM public.t WHERE id IN ($1, $2) ORDER BY id", id, 30+i))
	}

	p.complete()
	want(t, "t after complete", []string{"id integer not null", "z integer", "b text"}, e.columns("public", "t"))
	want(t, "rows after complete", []string{"7|up:a7", "10|upd", "30|up:upd", "1000|ins", "2000|up:ins"},
		p.q(cat, "SELECT id, b FROM t WHERE id IN (7, 10, 30, 1000, 2000) ORDER BY id"))
}

func itoa(i int) string { return strconv.Itoa(i) }
