package engine_test

import "testing"

func TestLifecycleRemoveEnum(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/remove_enum/with_its_column")
		e := newEnv(t, tables(t, "mood"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		// The old version still uses the type and the column.
		p.exec(p.old, "INSERT INTO notes (mood, body) VALUES ('meh', 'old')")
		p.exec(p.new, "INSERT INTO notes (body) VALUES ('new')")
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "type after complete", []string{"NULL"}, p.q(e.catalogConn(), "SELECT to_regtype('mood')::text"))
	})
}
