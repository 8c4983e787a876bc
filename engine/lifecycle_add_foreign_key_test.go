package engine_test

import "testing"

// The key references a table the same migration renames, by its new name.
func TestLifecycleAddForeignKey(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/add_foreign_key/to_renamed_table")
		e := newEnv(t, tables(t, "orders"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		want(t, "constraints during the phase", []string{
			"orders_client_fk validated=true: FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE",
			"orders_pkey validated=true: PRIMARY KEY (id)",
		}, e.constraints("public", "orders"))
		// It holds for both versions.
		p.fails(p.old, "23503", "INSERT INTO orders (customer_id) VALUES (999)")
		p.fails(p.new, "23503", "INSERT INTO orders (customer_id) VALUES (999)")
		p.fails(p.new, "23503", "UPDATE orders SET customer_id = 998 WHERE id = 3")
		p.exec(p.new, "INSERT INTO clients (id, name) VALUES (21, 'new')")
		p.exec(p.old, "INSERT INTO orders (customer_id) VALUES (21)")
		p.exec(p.new, "DELETE FROM clients WHERE id = 2")
		want(t, "orders of a deleted client", []string{"0"}, p.q(p.old, "SELECT count(*) FROM orders WHERE customer_id = 2"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{
			"orders_client_fk validated=true: FOREIGN KEY (customer_id) REFERENCES clients(id) ON DELETE CASCADE",
			"orders_pkey validated=true: PRIMARY KEY (id)",
		}, e.constraints("public", "orders"))
		p.fails(p.new, "23503", "INSERT INTO orders (customer_id) VALUES (999)")
	})
}

// TestForeignKeyRefusals: problems found before start.
func TestForeignKeyRefusals(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "refusals/foreign_key")
	e := newEnv(t, tables(t, "orders", "orders_customer_fk"))
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			c := fx.in(t).sub(name)
			startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
		})
	}
}
