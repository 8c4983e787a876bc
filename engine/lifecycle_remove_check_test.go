package engine_test

import "testing"

func TestLifecycleRemoveCheck(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/remove_check/orders_note_len")
		e := newEnv(t, tables(t, "orders")+fx.setup())
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		// Still enforced for both versions until complete; the check added
		// and removed in the same phase is never added.
		p.fails(p.old, "23514", "INSERT INTO orders (note) VALUES ('too long')")
		p.fails(p.new, "23514", "INSERT INTO orders (note) VALUES ('too long')")
		want(t, "constraints during the phase", []string{
			"orders_note_len validated=true: CHECK ((length(note) < 5))",
			"orders_pkey validated=true: PRIMARY KEY (id)",
		}, e.constraints("public", "orders"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{"orders_pkey validated=true: PRIMARY KEY (id)"}, e.constraints("public", "orders"))
		p.exec(p.new, "INSERT INTO orders (note) VALUES ('long enough now')")
	})
}
