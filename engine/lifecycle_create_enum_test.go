package engine_test

import "testing"

// A new enum, changed by alter_enum in the same migration (applied at
// start: only the new version can use it), used by a new column with a
// default that is a value added in the phase.
func TestLifecycleCreateEnum(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/create_enum/altered_and_used")
		e := newEnv(t, tables(t, "orders"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		want(t, "labels", []string{"low", "medium", "urgent"}, p.q(p.new, "SELECT unnest(enum_range(NULL::priority))::text"))
		want(t, "existing rows, new version", []string{"medium"}, p.q(p.new, "SELECT DISTINCT priority::text FROM orders"))
		id := p.one(p.new, "INSERT INTO orders (customer_id, priority) VALUES (1, 'urgent') RETURNING id")
		want(t, "typed through the view", []string{"priority"}, p.q(p.new, "SELECT pg_typeof(priority)::text FROM orders WHERE id = $1", id))
		p.fails(p.new, "22P02", "INSERT INTO orders (priority) VALUES ('high')")
		oldID := p.one(p.old, "INSERT INTO orders (customer_id) VALUES (2) RETURNING id")
		want(t, "old-version insert, new version", []string{"medium"}, p.q(p.new, "SELECT priority FROM orders WHERE id = $1", oldID))
		p.exec(p.new, "UPDATE orders SET priority = 'low' WHERE id = 1")
		want(t, "ordered by the enum", []string{"low", "medium", "urgent"},
			p.q(p.new, "SELECT priority::text FROM orders WHERE id IN (1, 2, $1) ORDER BY priority", id))
		if path == "abort" {
			p.abort()
			want(t, "type after abort", []string{"NULL"}, p.q(e.catalogConn(), "SELECT to_regtype('priority')::text"))
			return
		}
		p.complete()
		want(t, "column after complete", []string{"priority priority not null default 'medium'::priority"},
			withSubstring(e.columns("public", "orders"), "priority "))
	})
}
