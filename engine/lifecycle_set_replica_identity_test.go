package engine_test

import "testing"

func TestLifecycleSetReplicaIdentity(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/set_replica_identity/fruits")
		e := newEnv(t, fx.setup())
		identity := func() []string {
			return p0(e).q(e.catalogConn(), `SELECT c.relname || '=' || c.relreplident::text || coalesce(' ' || (SELECT i.indexrelid::regclass::text
				FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), '')
				FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1`)
		}
		before := []string{"fruits=d", "people=d"}
		want(t, "replica identity before", before, identity())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		// A property of the table, not of a version: it changes at complete.
		want(t, "replica identity during the phase", before, identity())
		p.exec(p.old, "INSERT INTO people (id, name) VALUES (100, 'Old')")
		p.exec(p.new, "INSERT INTO people (id, name, nick) VALUES (101, 'New', 'nn')")
		p.exec(p.new, "UPDATE fruits SET name = 'renamed' WHERE id = 1")
		want(t, "rows", []string{"100|Old|old", "101|New|nn"}, p.q(p.new, "SELECT id, name, nick FROM people WHERE id >= 100 ORDER BY id"))
		want(t, "fruit", []string{"renamed"}, p.q(p.old, "SELECT name FROM fruits WHERE id = 1"))
		if path == "abort" {
			p.abort()
			want(t, "replica identity after abort", before, identity())
			return
		}
		p.complete()
		want(t, "replica identity after complete", []string{"fruits=i fruits_name_key", "people=f"}, identity())
		p.exec(p.new, "DELETE FROM people WHERE id = 100")
	})
}

// p0 is a phase with only the env set, for its query helpers.
func p0(e *env) *phase { return &phase{t: e.t, e: e} }
