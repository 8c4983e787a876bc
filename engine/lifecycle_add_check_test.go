package engine_test

import (
	"strings"
	"testing"
)

func TestLifecycleAddCheck(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/add_check/rename_and_check")
		e := newEnv(t, tables(t, "orders"))
		migs := e.migs("", fx.migrations()...)
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
// constraint and a violating row; start undoes itself, leaving the
// database as it was.
func TestAddCheckViolatedByExistingRows(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "lifecycle/add_check/violated_by_existing_rows")
	e := newEnv(t, tables(t, "orders"))
	migs := e.migs("", fx.migrations()...)
	before := e.snapshot("public")
	_, err := e.m.Start(e.ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "orders_qty_big") || !strings.Contains(err.Error(), "violated") ||
		!strings.Contains(err.Error(), "first violating row: key (id)=(") || !strings.Contains(err.Error(), "start was undone") {
		t.Fatalf("start: %v, want a validation failure naming orders_qty_big and a violating row, undone", err)
	}
	if got := e.snapshot("public"); got != before {
		t.Errorf("the undone start left the catalog changed")
	}
	e.assertClean("")
}

// TestCheckRefusals: problems found before start.
func TestCheckRefusals(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "refusals/check")
	e := newEnv(t, tables(t, "orders")+fx.setup())
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			c := fx.in(t).sub(name)
			startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
		})
	}
}
