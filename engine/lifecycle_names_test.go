package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratapg/strata/engine"
)

// Two phases in two managed schemas whose tables once mapped to one sync
// function name (s_x.t and s.x_t: "sync_s_x_t"). Each table's old-version
// writes must get its own migration's up, and each phase completes or
// aborts without touching the other's objects.
func TestLifecycleNamesDoNotCollide(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/names/collide")
		e := newEnv(t, fx.setup(), func(o *engine.Options) { o.Schema = "s_x" })
		m2, err := engine.New(e.db.URL, engine.Options{Schema: "s", LockTimeout: 2 * time.Second, BatchSize: 100, BatchTarget: -1, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		before := e.snapshot("s_x", "s")
		migsX := e.migs("s_x", "001_up.toml", fx.file("migrations/s_x/001_up.toml"))
		migsS := e.migs("s", "001_up.toml", fx.file("migrations/s/001_up.toml"))
		resX := e.start(migsX)
		resS, err := m2.Start(e.ctx, migsS)
		if err != nil {
			t.Fatalf("start in schema s: %v", err)
		}
		oldX, newX := pathConn(t, e, "", "s_x"), pathConn(t, e, resX.VersionSchema, "s_x")
		oldS, newS := pathConn(t, e, "", "s"), pathConn(t, e, resS.VersionSchema, "s")

		exec(t, e.ctx, oldX, "INSERT INTO t VALUES (2, 'b')")
		exec(t, e.ctx, oldS, "INSERT INTO x_t VALUES (2, 'b')")
		exec(t, e.ctx, oldX, "UPDATE t SET v = 'c' WHERE id = 1")
		exec(t, e.ctx, oldS, "UPDATE x_t SET v = 'c' WHERE id = 1")
		want(t, "s_x.t, new version", []string{"1|c|first:c", "2|b|first:b"},
			queryStrings(t, e.ctx, newX, "SELECT id, v, w FROM t ORDER BY id"))
		want(t, "s.x_t, new version", []string{"1|c|second:c", "2|b|second:b"},
			queryStrings(t, e.ctx, newS, "SELECT id, v, w FROM x_t ORDER BY id"))

		if path == "abort" {
			e.abort()
			if _, err := m2.Abort(e.ctx); err != nil {
				t.Fatalf("abort in schema s: %v", err)
			}
			want(t, "s_x.t after abort", []string{"1|c", "2|b"}, queryStrings(t, e.ctx, e.catalogConn(), "SELECT id, v FROM s_x.t ORDER BY id"))
			if e.snapshot("s_x", "s") != before {
				t.Errorf("catalog after both aborts differs from before start")
			}
		} else {
			e.complete()
			if _, err := m2.Complete(e.ctx); err != nil {
				t.Fatalf("complete in schema s: %v", err)
			}
			want(t, "s.x_t after complete", []string{"1|c|second:c", "2|b|second:b"},
				queryStrings(t, e.ctx, e.catalogConn(), "SELECT id, v, w FROM s.x_t ORDER BY id"))
		}
		e.assertClean("")
	})
}

// TestNameRefusals: a name start would create belongs to another object.
func TestNameRefusals(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "refusals/names")
	e := newEnv(t, fx.setup())
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			// Not startFails: its check that nothing of strata's is left
			// would take the user's objects for strata's.
			c := fx.in(t).sub(name)
			before := e.snapshot()
			_, err := e.m.Start(e.ctx, e.migs("", c.migrations()...))
			if !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("start: %v, want engine.ErrInvalid", err)
			}
			for _, f := range c.lines("want/error") {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("start error %q does not mention %q", err, f)
				}
			}
			if e.snapshot() != before {
				t.Errorf("refused start changed the catalog")
			}
		})
	}
}
