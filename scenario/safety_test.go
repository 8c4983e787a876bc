package scenario_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratapg/strata/scenario"
)

// TestBadInputChangesNothing: every bad input is refused naming its flag,
// and the catalog and the roles are exactly as before.
func TestBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	e := setup(t, shopSchema, scenario.Options{})
	if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "taken", Tables: []string{"prices"}}); err != nil {
		t.Fatal(err)
	}
	before := e.catalogState(t)
	long := strings.Repeat("x", scenario.MaxNameLen+1)
	cases := []struct {
		spec           scenario.CreateSpec
		flag, contains string
	}{
		{scenario.CreateSpec{Name: "a", Tables: []string{"nope"}}, "--table", `no table "nope"`},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, Where: "tenant_id = = 1"}, "--where", "does not parse"},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, Where: "1; DROP TABLE orders"}, "--where", "does not parse"},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, Where: "tenant = 1"}, "--where", `column "tenant" does not exist`},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, Where: "tenant_id"}, "--where", "boolean"},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders", "prices"}, Where: "true", TableWhere: map[string]string{"prices": "tenant_id = 1"}}, "--table-where", `column "tenant_id" does not exist`},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, TableWhere: map[string]string{"prices": "true"}}, "--table-where", "not one of the --table"},
		{scenario.CreateSpec{Name: "taken", Tables: []string{"orders"}}, "NAME", "exists already"},
		{scenario.CreateSpec{Name: long, Tables: []string{"orders"}}, "NAME", "longer than 40"},
		{scenario.CreateSpec{Name: "Bad-Name", Tables: []string{"orders"}}, "NAME", "may only hold"},
		{scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, Members: []string{"no_such_role_x"}}, "--member", `role "no_such_role_x" does not exist`},
		{scenario.CreateSpec{Name: "a"}, "--table", "no table given"},
	}
	for _, c := range cases {
		_, err := e.m.Create(ctx, c.spec)
		inputErr(t, err, c.flag, c.contains)
	}
	// copy: unknown table, a table copied already, a bad filter.
	_, err := e.m.Copy(ctx, "taken", "nope", "")
	inputErr(t, err, "--table", `no table "nope"`)
	_, err = e.m.Copy(ctx, "taken", "prices", "")
	inputErr(t, err, "--table", "holds a copy")
	_, err = e.m.Copy(ctx, "taken", "orders", "nope = 1")
	inputErr(t, err, "--where", `column "nope" does not exist`)
	if _, err := e.m.Promote(ctx, "taken", []string{"orders"}, false); err == nil {
		t.Fatal("promote --table of a table not in the scenario: no error")
	} else {
		inputErr(t, err, "--table", "holds no copy")
	}
	if _, err := e.m.Drop(ctx, "missing", false); !errors.Is(err, scenario.ErrNotFound) {
		t.Fatalf("drop of a missing scenario: %v", err)
	}
	if after := e.catalogState(t); after != before {
		t.Fatalf("a refused command changed the database:\n%s", cmp.Diff(before, after))
	}
	// catalogState has the test's roles only: the refused --member made no
	// role of its own either.
	if n := one[int](t, e.db.Conn(t), `SELECT count(*)::int FROM pg_roles WHERE rolname = 'no_such_role_x'`); n != 0 {
		t.Fatalf("a refused --member left role no_such_role_x behind")
	}
	// A prefix that makes the name too long for PostgreSQL.
	m2, _ := scenario.New(e.db.URL, scenario.Options{Prefix: strings.Repeat("p", 30)})
	_, err = m2.Create(ctx, scenario.CreateSpec{Name: strings.Repeat("n", 40), Tables: []string{"orders"}})
	inputErr(t, err, "--prefix", "63-byte")
}

// TestFailureHalfWayLeavesNothing: a copy that fails at run time (the
// filter divides by zero on some row) removes the schema, the role and
// the metadata it had made.
func TestFailureHalfWayLeavesNothing(t *testing.T) {
	ctx := context.Background()
	e := setup(t, shopSchema, scenario.Options{})
	e.db.Exec(t, "CREATE TABLE zeros (id int PRIMARY KEY, d int)")
	e.db.Exec(t, "INSERT INTO zeros VALUES (1, 1), (2, 0)")
	before := e.catalogState(t)
	_, err := e.m.Create(ctx, scenario.CreateSpec{Name: "half", Tables: []string{"orders", "zeros"}, TableWhere: map[string]string{"zeros": "10 / d > 0"}, Members: []string{e.app}})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("want the copy to fail with division by zero, got %v", err)
	}
	after := e.catalogState(t)
	// The state schema's scenario tables stay (empty): strata's own.
	before, after = dropStateTables(before), dropStateTables(after)
	if after != before {
		t.Fatalf("a failed create left something behind:\n%s", cmp.Diff(before, after))
	}
	if all, err := e.m.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("list after a failed create: %v %v", all, err)
	}
}

// dropStateTables removes the lines of strata's state schema from a
// catalog snapshot.
func dropStateTables(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "strata") && !strings.HasPrefix(l, "snapshot of") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConcurrentApplication: the application writes to the base tables at
// 200 transactions/s during create, promote and drop, with no error; every
// transaction keeps an invariant across two tables (an order and its
// customer's counter move together), which the copy must show too: one
// consistent snapshot.
func TestConcurrentApplication(t *testing.T) {
	ctx := context.Background()
	e := setup(t, shopSchema+`
ALTER TABLE customers ADD COLUMN orders_count int NOT NULL DEFAULT 0;
UPDATE customers c SET orders_count = (SELECT count(*) FROM orders o WHERE o.customer_id = c.id);
INSERT INTO orders (tenant_id, customer_id, total) SELECT c.tenant_id, c.id, 1 FROM customers c, generate_series(1, 2000);
UPDATE customers c SET orders_count = (SELECT count(*) FROM orders o WHERE o.customer_id = c.id);
`, scenario.Options{Parallel: 2})
	pool, err := pgxpool.New(ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var stop atomic.Bool
	var txs, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond) // 4 workers x 50/s = 200 tx/s
			defer tick.Stop()
			for i := 0; !stop.Load(); i++ {
				<-tick.C
				cust := 1 + (w*7+i)%10
				_, err := pool.Exec(ctx, `WITH o AS (INSERT INTO orders (tenant_id, customer_id, total) SELECT tenant_id, id, 1 FROM customers WHERE id = $1 RETURNING customer_id)
					UPDATE customers SET orders_count = orders_count + 1 WHERE id = (SELECT customer_id FROM o)`, cust)
				if err == nil {
					_, err = pool.Exec(ctx, `UPDATE orders SET total = total + 1 WHERE id = (SELECT max(id) FROM orders WHERE customer_id = $1)`, cust)
				}
				txs.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	for round := 0; round < 3; round++ {
		if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "c", Tables: []string{"orders", "customers"}, Members: []string{e.app}}); err != nil {
			t.Fatal(err)
		}
		// The invariant in the copy: every customer's counter equals its
		// copied orders.
		conn := e.db.Conn(t)
		bad := one[int](t, conn, `SELECT count(*) FROM `+e.role("c")+`.customers c
			WHERE c.orders_count <> (SELECT count(*) FROM `+e.role("c")+`.orders o WHERE o.customer_id = c.id)`)
		if bad != 0 {
			t.Fatalf("round %d: %d customers' counters disagree with their copied orders: the copy is not one snapshot", round, bad)
		}
		app := e.appConn(t)
		exec(t, app, "SET ROLE "+e.role("c"))
		exec(t, app, "UPDATE orders SET note = 'scenario' WHERE id IN (1, 2, 3)")
		app.Close(ctx)
		if _, err := e.m.Promote(ctx, "c", nil, false); err != nil {
			var ce *scenario.ConflictError
			if !errors.As(err, &ce) {
				t.Fatal(err)
			}
		}
		if _, err := e.m.Drop(ctx, "c", false); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d of %d application transactions failed; first: %v", errs.Load(), txs.Load(), firstErr.Load())
	}
	if txs.Load() < 50 {
		t.Fatalf("only %d application transactions ran", txs.Load())
	}
	t.Logf("%d application transactions, none failed", txs.Load())
}

// TestDropLeavesNothing: drop removes the schema, the role (with the
// privileges a user granted it by hand outside the scenario's schema and
// its membership in the application's role) and the metadata, and is
// "not found" where no scenario was ever made.
func TestDropLeavesNothing(t *testing.T) {
	ctx := context.Background()
	e := setup(t, shopSchema, scenario.Options{})
	// No metadata tables yet: not found, not an error with ifExists.
	if _, err := e.m.Drop(ctx, "never", false); !errors.Is(err, scenario.ErrNotFound) {
		t.Fatalf("drop before any scenario: want ErrNotFound, got %v", err)
	}
	if found, err := e.m.Drop(ctx, "never", true); found || err != nil {
		t.Fatalf("drop --if-exists before any scenario: found %v, %v", found, err)
	}
	// (Granted and revoked once, so that their ACLs are not the default
	// NULL that any GRANT replaces with the owner's privileges.)
	e.db.Exec(t, `CREATE SCHEMA extra; CREATE VIEW extra.v AS SELECT 1 AS x; CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 50;
		GRANT USAGE ON SCHEMA extra TO PUBLIC; GRANT SELECT ON extra.v, big_orders TO PUBLIC;
		REVOKE USAGE ON SCHEMA extra FROM PUBLIC; REVOKE SELECT ON extra.v, big_orders FROM PUBLIC`)
	before := dropStateTables(e.catalogState(t))
	for _, tables := range [][]string{{"orders"}, {"orders", "customers"}} {
		if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "d", Tables: tables, Where: "tenant_id = 1", Members: []string{e.app}}); err != nil {
			t.Fatal(err)
		}
		role := pgx.Identifier{e.prefix + "d"}.Sanitize()
		e.db.Exec(t, `GRANT USAGE ON SCHEMA extra TO `+role+`; GRANT SELECT ON extra.v TO `+role+`; GRANT SELECT ON big_orders TO `+role)
		found, err := e.m.Drop(ctx, "d", false)
		if err != nil || !found {
			t.Fatalf("drop of %v: found %v, %v", tables, found, err)
		}
		if after := dropStateTables(e.catalogState(t)); after != before {
			t.Fatalf("drop of %v left something behind:\n%s", tables, cmp.Diff(before, after))
		}
		if n := one[int64](t, e.db.Conn(t), `SELECT count(*) FROM strata.scenario`); n != 0 {
			t.Fatalf("drop of %v left %d metadata row(s)", tables, n)
		}
	}
}
