package engine_test

import "testing"

// create_table with a generated column, a BY DEFAULT identity, a composite
// unique constraint, a self-referencing foreign key and one to a table the
// same migration renames; then add_index and add_check on the new table and
// a foreign key from an existing table to it.
func TestLifecycleCreateTableConstraints(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/create_table/constraints")
		e := newEnv(t, tables(t, "orders"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		// The generated column computes; identity by default takes a value or
		// generates one.
		want(t, "insert", []string{"1|25.00"}, p.q(p.new, "INSERT INTO lines (client_id, price, qty, sku) VALUES (1, 12.5, 2, 'a') RETURNING id, total::text"))
		want(t, "explicit id", []string{"50|3.00"}, p.q(p.new, "INSERT INTO lines (id, client_id, price, parent_id) VALUES (50, 1, 3, 1) RETURNING id, total::text"))
		p.exec(p.new, "UPDATE lines SET qty = 10 WHERE id = 1")
		want(t, "recomputed", []string{"125.00"}, p.q(p.new, "SELECT total::text FROM lines WHERE id = 1"))
		p.fails(p.new, "23503", "INSERT INTO lines (client_id, price) VALUES (999, 1)")
		p.fails(p.new, "23503", "INSERT INTO lines (client_id, price, parent_id) VALUES (1, 1, 999)")
		p.fails(p.new, "23505", "INSERT INTO lines (client_id, price, sku) VALUES (1, 1, 'a')")
		p.fails(p.new, "23514", "INSERT INTO lines (client_id, price, qty) VALUES (1, 1, 0)")
		p.fails(p.new, "23514", "INSERT INTO lines (client_id, price) VALUES (1, -1)")
		p.fails(p.new, "428C9", "INSERT INTO lines (client_id, price, total) VALUES (1, 1, 1)")
		p.exec(p.new, "DELETE FROM lines WHERE id = 1")
		want(t, "parent set null", []string{"NULL"}, p.q(p.new, "SELECT parent_id FROM lines WHERE id = 50"))
		// The existing table's new key.
		p.exec(p.new, "UPDATE orders SET line_id = 50 WHERE id = 1")
		p.fails(p.new, "23503", "UPDATE orders SET line_id = 51 WHERE id = 2")
		p.fails(p.old, "23503", "UPDATE orders SET line_id = 51 WHERE id = 2")
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "constraints of lines", []string{
			"lines_client_id_fkey validated=true: FOREIGN KEY (client_id) REFERENCES clients(id)",
			"lines_client_sku_key validated=true: UNIQUE (client_id, sku)",
			"lines_parent_fk validated=true: FOREIGN KEY (parent_id) REFERENCES lines(id) ON DELETE SET NULL",
			"lines_pkey validated=true: PRIMARY KEY (id)",
			"lines_price_positive validated=true: CHECK ((price > (0)::numeric))",
			"lines_qty_check validated=true: CHECK ((qty > 0))",
		}, e.constraints("public", "lines"))
		want(t, "partial index", []string{"lines_total_idx valid=true: CREATE INDEX lines_total_idx ON public.lines USING btree (total) WHERE (total > (100)::numeric)"},
			withSubstring(e.indexes("public", "lines"), "lines_total_idx"))
		want(t, "key of orders", []string{"orders_line_fk validated=true: FOREIGN KEY (line_id) REFERENCES lines(id)"},
			withSubstring(e.constraints("public", "orders"), "orders_line_fk"))
	})
}
