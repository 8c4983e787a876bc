package engine_test

import (
	"strings"
	"testing"
)

const ordersSetup = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 20) g;
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, qty int NOT NULL DEFAULT 1, note text);
INSERT INTO orders (customer_id, qty, note) SELECT 1 + g % 20, 1 + g % 5, 'n' || g FROM generate_series(1, 200) g;`

func TestLifecycleAddCheck(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, ordersSetup)
		migs := e.migs("", "001_check.toml", `
[[actions]]
type = "alter_column"
table = "orders"
column = "qty"
  [actions.changes]
  name = "quantity"

[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "orders_quantity_range"
  expression = "quantity > 0 AND orders.quantity < 100"
`)
		p := begin(t, e, "", "", migs)
		want(t, "constraints during the phase", []string{
			"orders_pkey validated=true: PRIMARY KEY (id)",
			"orders_quantity_range validated=true: CHECK (((qty > 0) AND (qty < 100)))",
		}, e.constraints("public", "orders"))
		// It holds for both versions at once.
		p.fails(p.old, "23514", "INSERT INTO orders (qty) VALUES (0)")
		p.fails(p.new, "23514", "INSERT INTO orders (quantity) VALUES (100)")
		p.fails(p.new, "23514", "UPDATE orders SET quantity = -1 WHERE id = 1")
		p.exec(p.old, "INSERT INTO orders (qty) VALUES (5)")
		p.exec(p.new, "INSERT INTO orders (quantity) VALUES (6)")
		want(t, "rows", []string{"5", "6"}, p.q(p.new, "SELECT quantity FROM orders WHERE id > 200 ORDER BY id"))
		if path == "abort" {
			p.abort()
			p.exec(p.old, "INSERT INTO orders (qty) VALUES (0)")
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{
			"orders_pkey validated=true: PRIMARY KEY (id)",
			"orders_quantity_range validated=true: CHECK (((quantity > 0) AND (quantity < 100)))",
		}, e.constraints("public", "orders"))
		p.fails(p.new, "23514", "INSERT INTO orders (quantity) VALUES (0)")
	})
}

// TestAddCheckViolatedByExistingRows: validation fails at start, naming the
// constraint; abort then leaves the database as it was.
func TestAddCheckViolatedByExistingRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ordersSetup)
	migs := e.migs("", "001_check.toml", `
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "orders_qty_big"
  expression = "qty > 3"
`)
	before := e.snapshot("public")
	_, err := e.m.Start(e.ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "orders_qty_big") || !strings.Contains(err.Error(), "violated") {
		t.Fatalf("start: %v, want a validation failure naming orders_qty_big", err)
	}
	e.abort()
	if got := e.snapshot("public"); got != before {
		t.Errorf("abort after a failed validation left the catalog changed")
	}
	e.assertClean("")
}

// TestCheckRefusals: problems found before start.
func TestCheckRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ordersSetup+"\nALTER TABLE orders ADD CONSTRAINT orders_note_len CHECK (length(note) < 50);")
	cases := []struct {
		name, toml string
		msg        []string
	}{
		{"name taken", `
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "orders_note_len"
  expression = "qty > 0"`, []string{"actions[0].check.name", `constraint "orders_note_len" already exists`}},
		{"unknown column", `
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "c1"
  expression = "quantity > 0"`, []string{"actions[0].check.expression", `column "quantity" does not exist`}},
		{"not boolean", `
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "c1"
  expression = "qty + 1"`, []string{"actions[0].check.expression", "boolean"}},
		{"subquery", `
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "c1"
  expression = "qty IN (SELECT 1)"`, []string{"actions[0].check.expression", "subquer"}},
		{"no such check", `
[[actions]]
type = "remove_check"
table = "orders"
check = "nope"`, []string{"actions[0].check", `no constraint "nope"`}},
		{"not a check", `
[[actions]]
type = "remove_check"
table = "orders"
check = "orders_pkey"`, []string{"actions[0].check", "is not a check constraint"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			startFails(t, e, "", e.migs("", "001_x.toml", c.toml), c.msg...)
		})
	}
}
