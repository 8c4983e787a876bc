package engine_test

import "testing"

// The key references a table the same migration renames, by its new name.
func TestLifecycleAddForeignKey(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, ordersSetup)
		migs := e.migs("", "001_fk.toml", `
[[actions]]
type = "rename_table"
table = "customers"
new_name = "clients"

[[actions]]
type = "add_foreign_key"
table = "orders"
  [actions.foreign_key]
  name = "orders_client_fk"
  columns = ["customer_id"]
  referenced_table = "clients"
  referenced_columns = ["id"]
  on_delete = "cascade"
`)
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
	e := newEnv(t, ordersSetup+"\nALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);")
	cases := []struct {
		name, toml string
		msg        []string
	}{
		{"no unique key", `
[[actions]]
type = "add_foreign_key"
table = "customers"
  [actions.foreign_key]
  name = "c_fk"
  columns = ["id"]
  referenced_table = "orders"
  referenced_columns = ["qty"]`, []string{"actions[0].foreign_key.referenced_columns", "no primary key, unique constraint or unique index"}},
		{"incompatible types", `
[[actions]]
type = "add_foreign_key"
table = "customers"
  [actions.foreign_key]
  name = "c_fk"
  columns = ["name"]
  referenced_table = "orders"
  referenced_columns = ["id"]`, []string{"actions[0].foreign_key", "incompatible types"}},
		{"unknown table", `
[[actions]]
type = "add_foreign_key"
table = "orders"
  [actions.foreign_key]
  name = "c_fk"
  columns = ["customer_id"]
  referenced_table = "clients"
  referenced_columns = ["id"]`, []string{"actions[0].foreign_key.referenced_table", `table "clients" does not exist`}},
		{"unknown column", `
[[actions]]
type = "add_foreign_key"
table = "orders"
  [actions.foreign_key]
  name = "c_fk"
  columns = ["client_id"]
  referenced_table = "customers"
  referenced_columns = ["id"]`, []string{"actions[0].foreign_key.columns[0]", `column "client_id" does not exist`}},
		{"no such key", `
[[actions]]
type = "remove_foreign_key"
table = "orders"
foreign_key = "nope"`, []string{"actions[0].foreign_key", `no constraint "nope"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			startFails(t, e, "", e.migs("", "001_x.toml", c.toml), c.msg...)
		})
	}
}
