package engine_test

import "testing"

func TestLifecycleRemoveForeignKey(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/remove_foreign_key/orders_customer_fk")
		e := newEnv(t, tables(t, "orders", "orders_customer_fk"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		// Still enforced until complete.
		p.fails(p.old, "23503", "INSERT INTO orders (customer_id) VALUES (999)")
		p.fails(p.new, "23503", "INSERT INTO orders (customer_id) VALUES (999)")
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{"orders_pkey validated=true: PRIMARY KEY (id)"}, e.constraints("public", "orders"))
		p.exec(p.new, "INSERT INTO orders (customer_id) VALUES (999)")
	})
}
