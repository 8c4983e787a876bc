package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/scenario"
)

// TestRouting: the application role enters a scenario with SET ROLE (and
// SET LOCAL ROLE per transaction): copied tables read the copy, others the
// base; writes to the base fail with a permission error and change nothing;
// RESET ROLE reads the base again. A scenario role cannot read another
// scenario's schema.
func TestRouting(t *testing.T) {
	ctx := context.Background()
	e := setup(t, shopSchema, scenario.Options{})
	if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "a", Tables: []string{"orders"}, Where: "tenant_id = 1", Members: []string{e.app}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "b", Tables: []string{"orders"}, Where: "tenant_id = 2", Members: []string{e.app}}); err != nil {
		t.Fatal(err)
	}
	app := e.appConn(t)
	base := e.db.Conn(t)
	count := func() int { return one[int](t, app, "SELECT count(*) FROM orders") }
	if n := count(); n != 10 {
		t.Fatalf("outside the scenario: %d orders, want the 10 base rows", n)
	}
	exec(t, app, "SET ROLE "+e.role("a"))
	if n := count(); n != 5 {
		t.Fatalf("in scenario a: %d orders, want tenant 1's 5 copied rows", n)
	}
	if s := one[string](t, app, "SELECT current_schema()"); s != e.prefix+"a" {
		t.Fatalf("current_schema() = %s, want the scenario schema", s)
	}
	exec(t, app, "UPDATE orders SET total = 999 WHERE id = 2")
	if n := one[int](t, app, "SELECT count(*) FROM customers"); n != 10 {
		t.Fatalf("uncopied customers read %d rows, want the 10 base rows", n)
	}
	denied(t, app, "UPDATE customers SET name = 'x'")
	denied(t, app, "INSERT INTO prices VALUES ('c', 3)")
	denied(t, app, "UPDATE public.orders SET total = 0")
	denied(t, app, "DELETE FROM public.tenants")
	denied(t, app, "SELECT * FROM "+e.role("b")+".orders")
	denied(t, app, "INSERT INTO "+e.role("b")+".orders (tenant_id, total) VALUES (2, 1)")
	exec(t, app, "RESET ROLE")
	if n := count(); n != 10 {
		t.Fatalf("after RESET ROLE: %d orders, want the base", n)
	}
	if v := one[string](t, base, "SELECT total::text FROM orders WHERE id = 2"); v != "20.00" {
		t.Fatalf("base order 2 total %s: the scenario's update reached the base", v)
	}
	if n := one[int](t, base, "SELECT count(*) FROM customers WHERE name = 'x'"); n != 0 {
		t.Fatal("a denied write changed the base")
	}
	// SET LOCAL ROLE per transaction (the transaction-pooler form).
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+e.role("b")); err != nil {
		t.Fatal(err)
	}
	var total string
	if err := tx.QueryRow(ctx, "SELECT total::text FROM orders WHERE id = 2").Scan(&total); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("scenario b holds tenant 2 only, yet order 2 reads %q (%v)", total, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE orders SET note = 'b' WHERE tenant_id = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE customers SET name = 'y'"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("write to the base inside SET LOCAL ROLE: want permission denied, got %v", err)
	}
	tx.Rollback(ctx)
	tx, err = app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+e.role("a")); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT total::text FROM orders WHERE id = 2").Scan(&total); err != nil || total != "999.00" {
		t.Fatalf("scenario a's order 2 = %q (%v), want its own 999.00", total, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// After the transaction the role is back.
	if n := count(); n != 10 {
		t.Fatalf("after a SET LOCAL ROLE transaction: %d orders, want the base", n)
	}
	if u := one[string](t, app, "SELECT current_user"); u != e.app {
		t.Fatalf("current_user %s after the transaction", u)
	}
}

// TestFollowChainWithCycle: --follow copies a 4-table chain below the
// root, filtered to the tenant's rows; foreign keys between copies point
// at copies; the cycle back to the root is reported.
func TestFollowChainWithCycle(t *testing.T) {
	ctx := context.Background()
	e := setup(t, `
CREATE TABLE t1 (id int PRIMARY KEY, tenant int NOT NULL, fav int);
CREATE TABLE t2 (id int PRIMARY KEY, t1_id int NOT NULL REFERENCES t1);
CREATE TABLE t3 (id int PRIMARY KEY, t2_id int NOT NULL REFERENCES t2);
CREATE TABLE t4 (id int PRIMARY KEY, t3_id int NOT NULL REFERENCES t3);
ALTER TABLE t1 ADD FOREIGN KEY (fav) REFERENCES t4;
CREATE TABLE other (id int PRIMARY KEY);
INSERT INTO t1 SELECT i, i % 3 FROM generate_series(1, 30) i;
INSERT INTO t2 SELECT i, 1 + i % 30 FROM generate_series(1, 60) i;
INSERT INTO t3 SELECT i, 1 + i % 60 FROM generate_series(1, 120) i;
INSERT INTO t4 SELECT i, 1 + i % 120 FROM generate_series(1, 240) i;
UPDATE t1 SET fav = (SELECT min(t4.id) FROM t4 JOIN t3 ON t3.id = t4.t3_id JOIN t2 ON t2.id = t3.t2_id WHERE t2.t1_id = t1.id);
`, scenario.Options{Parallel: 3})
	res, err := e.m.Create(ctx, scenario.CreateSpec{Name: "f", Tables: []string{"t1"}, Where: "tenant = 1", Follow: true, Members: []string{e.app}})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"t1", "t2", "t3", "t4", "t1"}}; !cmp.Equal(res.Cycles, want) {
		t.Fatalf("cycles %v, want %v", res.Cycles, want)
	}
	var names []string
	for _, tb := range res.Scenario.Tables {
		names = append(names, tb.Name)
	}
	if want := []string{"t1", "t2", "t3", "t4"}; !cmp.Equal(names, want) {
		t.Fatalf("copied %v, want %v", names, want)
	}
	base := e.db.Conn(t)
	sch := e.role("f")
	want := map[string]string{
		"t1": "SELECT id FROM t1 WHERE tenant = 1",
		"t2": "SELECT t2.id FROM t2 JOIN t1 ON t1.id = t2.t1_id WHERE t1.tenant = 1",
		"t3": "SELECT t3.id FROM t3 JOIN t2 ON t2.id = t3.t2_id JOIN t1 ON t1.id = t2.t1_id WHERE t1.tenant = 1",
		"t4": "SELECT t4.id FROM t4 JOIN t3 ON t3.id = t4.t3_id JOIN t2 ON t2.id = t3.t2_id JOIN t1 ON t1.id = t2.t1_id WHERE t1.tenant = 1",
	}
	for tb, q := range want {
		wantIDs := one[string](t, base, "SELECT string_agg(id::text, ',' ORDER BY id) FROM ("+q+") x")
		got := one[string](t, base, "SELECT string_agg(id::text, ',' ORDER BY id) FROM "+sch+"."+tb)
		if got != wantIDs || got == "" {
			t.Errorf("%s copy holds %s, want exactly the tenant's rows %s", tb, got, wantIDs)
		}
	}
	// Foreign keys between copies point at copies.
	rows, err := base.Query(ctx, `SELECT c.relname || '->' || pn.nspname || '.' || p.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
		WHERE k.contype = 'f' AND c.relnamespace = $1::regnamespace ORDER BY 1`, e.prefix+"f")
	if err != nil {
		t.Fatal(err)
	}
	fks, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	s := e.prefix + "f"
	if wantFK := []string{"t1->" + s + ".t4", "t2->" + s + ".t1", "t3->" + s + ".t2", "t4->" + s + ".t3"}; !cmp.Equal(fks, wantFK) {
		t.Fatalf("foreign keys of the copies %v, want %v", fks, wantFK)
	}
	// The app inside the scenario: a new t2 row must reference a copied t1 row.
	app := e.appConn(t)
	exec(t, app, "SET ROLE "+sch)
	if _, err := app.Exec(ctx, "INSERT INTO t2 VALUES (1000, 2)"); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("t2 row referencing an uncopied t1 row (tenant 2): want a foreign-key error, got %v", err)
	}
	exec(t, app, "INSERT INTO t2 VALUES (1000, 1)")
}

// TestDiffPromoteConflicts: inserts, updates and deletes made in a
// scenario show in diff (column by column) and promote applies them; a
// base row changed after the copy makes promote change nothing and list
// the conflict; --against compares two scenarios; reset throws changes away.
func TestDiffPromoteConflicts(t *testing.T) {
	ctx := context.Background()
	e := setup(t, shopSchema, scenario.Options{})
	if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "p", Tables: []string{"orders", "customers"}, Where: "tenant_id = 1", Members: []string{e.app}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: "q", Tables: []string{"orders"}, Where: "tenant_id = 1", Members: []string{e.app}}); err != nil {
		t.Fatal(err)
	}
	app := e.appConn(t)
	base := e.db.Conn(t)
	exec(t, app, "SET ROLE "+e.role("p"))
	// Tenant 1: customers 2,4,...,10 and their orders (same ids).
	exec(t, app, "UPDATE orders SET total = 21, note = 'more' WHERE id = 2")
	exec(t, app, "DELETE FROM orders WHERE id = 4")
	exec(t, app, "INSERT INTO customers (tenant_id, name) VALUES (1, 'new')")
	exec(t, app, "INSERT INTO orders (tenant_id, customer_id, total) SELECT 1, id, 7 FROM customers WHERE name = 'new'")
	exec(t, app, "UPDATE orders SET total = 60 WHERE id = 6")
	exec(t, app, "UPDATE orders SET total = 60 WHERE id = 6") // twice: one change
	exec(t, app, "UPDATE orders SET note = 'tmp' WHERE id = 8")
	exec(t, app, "UPDATE orders SET note = NULL WHERE id = 8") // back as it was: no change
	exec(t, app, "RESET ROLE")
	d, err := e.m.Diff(ctx, "p", scenario.DiffOptions{SQL: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Changes {
		line := c.Table + " " + c.Op + " " + c.Key["id"] + ":"
		for _, cc := range c.Columns {
			if c.Op == "update" {
				line += " " + cc.Column + "=" + str(cc.Old) + "->" + str(cc.New)
			}
		}
		got = append(got, line)
	}
	// Order 6 had total 60 already and order 8 was changed back: no changes.
	want := []string{"customers insert 11:", "orders update 2: total=20.00->21.00 note=NULL->more", "orders delete 4:", "orders insert 11:"}
	if !cmp.Equal(got, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d.Total() != 4 {
		t.Fatalf("diff total %d, want 4", d.Total())
	}
	sql := strings.Join(d.Statements, "\n")
	for _, w := range []string{`DELETE FROM "public"."orders" WHERE "id" = '4'::bigint;`, `UPDATE "public"."orders" SET "total" = '21.00'::numeric(12,2), "note" = 'more'::text WHERE "id" = '2'::bigint;`} {
		if !strings.Contains(sql, w) {
			t.Fatalf("diff sql lacks %s:\n%s", w, sql)
		}
	}
	if strings.Index(sql, `INSERT INTO "public"."customers"`) > strings.Index(sql, `INSERT INTO "public"."orders"`) {
		t.Fatalf("diff sql inserts the order before its customer:\n%s", sql)
	}
	// --against: p against q (q unchanged) shows the same orders changes,
	// and customers against the base.
	da, err := e.m.Diff(ctx, "p", scenario.DiffOptions{Against: "q", Table: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if da.Against != "q" || da.Total() != 3 {
		t.Fatalf("diff --against q --table orders: %+v", da.Tables)
	}
	// A conflict: the base changes order 2 after the copy.
	exec(t, base, "UPDATE orders SET note = 'base' WHERE id = 2")
	before := one[string](t, base, "SELECT string_agg(row(o.*)::text, ';' ORDER BY id) FROM orders o")
	_, err = e.m.Promote(ctx, "p", nil, false)
	var ce *scenario.ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Key["id"] != "2" || !strings.Contains(ce.Conflicts[0].Reason, "changed in the base") {
		t.Fatalf("promote after a base change: want one conflict on order 2, got %v", err)
	}
	if after := one[string](t, base, "SELECT string_agg(row(o.*)::text, ';' ORDER BY id) FROM orders o"); after != before {
		t.Fatal("a conflicting promote changed the base")
	}
	if n := one[int](t, base, "SELECT count(*) FROM customers"); n != 10 {
		t.Fatal("a conflicting promote inserted a customer")
	}
	// Promote the other table alone: no conflict there.
	res, err := e.m.Promote(ctx, "p", []string{"customers"}, false)
	if err != nil || len(res.Tables) != 1 || res.Tables[0].Inserted != 1 {
		t.Fatalf("promote --table customers: %+v, %v", res, err)
	}
	// Undo the base change: now the orders promote.
	exec(t, base, "UPDATE orders SET note = NULL WHERE id = 2")
	dry, err := e.m.Promote(ctx, "p", nil, true)
	if err != nil || dry.Tables[1].Updated != 1 || dry.Tables[1].Deleted != 1 || dry.Tables[1].Inserted != 1 {
		t.Fatalf("promote --dry-run: %+v, %v", dry, err)
	}
	if n := one[int](t, base, "SELECT count(*) FROM orders"); n != 10 {
		t.Fatal("--dry-run changed the base")
	}
	if _, err := e.m.Promote(ctx, "p", nil, false); err != nil {
		t.Fatal(err)
	}
	if got := one[string](t, base, "SELECT string_agg(id || ':' || total || ':' || coalesce(note, ''), ',' ORDER BY id) FROM orders WHERE tenant_id = 1"); got != "2:21.00:more,6:60.00:,8:80.00:,10:100.00:,11:7.00:" {
		t.Fatalf("base tenant 1 orders after promote: %s", got)
	}
	// The base sequence moved past the promoted row.
	if id := one[int64](t, base, "INSERT INTO orders (tenant_id, total) VALUES (2, 1) RETURNING id"); id <= 11 {
		t.Fatalf("base insert after promote got id %d: the sequence was not moved", id)
	}
	if d, err := e.m.Diff(ctx, "p", scenario.DiffOptions{}); err != nil || d.Total() != 0 {
		t.Fatalf("diff after promote: %+v %v, want nothing", d, err)
	}
	// Reset throws changes away.
	exec(t, app, "SET ROLE "+e.role("q"))
	exec(t, app, "DELETE FROM orders")
	exec(t, app, "RESET ROLE")
	if d, _ := e.m.Diff(ctx, "q", scenario.DiffOptions{}); d.Total() == 0 {
		t.Fatal("diff shows no deletes")
	}
	if _, err := e.m.Reset(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if d, err := e.m.Diff(ctx, "q", scenario.DiffOptions{}); err != nil || d.Total() != 0 {
		t.Fatalf("diff after reset: %v %v", d.Tables, err)
	}
	exec(t, app, "SET ROLE "+e.role("q"))
	if n := one[int](t, app, "SELECT count(*) FROM orders"); n != 5 {
		t.Fatalf("after reset the scenario reads %d orders, want tenant 1's 5 (with the promoted one)", n)
	}
}

func str(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

// TestChangeLogSequences: the change log records what a session in the
// scenario (SET ROLE, the application's own login role) did, whatever the
// sequence of statements: diff shows the row as copied against the row
// now, and a row changed and changed back, or inserted and deleted again,
// is no difference.
func TestChangeLogSequences(t *testing.T) {
	ctx := context.Background()
	e := setup(t, `CREATE TABLE items (id int PRIMARY KEY, v text, n int NOT NULL);
		INSERT INTO items SELECT i, 'x' || i, i FROM generate_series(1, 6) i;`, scenario.Options{})
	app := e.appConn(t)
	for i, tc := range []struct {
		name  string
		stmts []string
		want  []string
	}{
		{"updated twice: the copied row against the last", []string{"UPDATE items SET v = 'a' WHERE id = 1", "UPDATE items SET v = 'b', n = 10 WHERE id = 1"},
			[]string{"update 1: v=x1->b n=1->10"}},
		{"changed and changed back", []string{"UPDATE items SET n = 100 WHERE id = 2", "UPDATE items SET n = 2 WHERE id = 2"}, nil},
		{"key changed", []string{"UPDATE items SET id = 100 WHERE id = 3"}, []string{"delete 3: id=3->NULL v=x3->NULL n=3->NULL", "insert 100: id=NULL->100 v=NULL->x3 n=NULL->3"}},
		{"key changed and back", []string{"UPDATE items SET id = 100 WHERE id = 3", "UPDATE items SET id = 3 WHERE id = 100"}, nil},
		{"inserted then updated", []string{"INSERT INTO items VALUES (50, 'n', 5)", "UPDATE items SET v = 'm' WHERE id = 50"}, []string{"insert 50: id=NULL->50 v=NULL->m n=NULL->5"}},
		{"inserted then deleted", []string{"INSERT INTO items VALUES (50, 'n', 5)", "DELETE FROM items WHERE id = 50"}, nil},
		{"updated then deleted: the copied row", []string{"UPDATE items SET v = 'z' WHERE id = 4", "DELETE FROM items WHERE id = 4"}, []string{"delete 4: id=4->NULL v=x4->NULL n=4->NULL"}},
		{"deleted and inserted again, equal", []string{"DELETE FROM items WHERE id = 5", "INSERT INTO items VALUES (5, 'x5', 5)"}, nil},
		{"deleted and inserted again, different", []string{"DELETE FROM items WHERE id = 5", "INSERT INTO items VALUES (5, NULL, 5)"}, []string{"update 5: v=x5->NULL"}},
		{"rolled back", []string{"BEGIN", "UPDATE items SET v = 'r'", "ROLLBACK"}, nil},
		{"many rows in one statement", []string{"UPDATE items SET n = n + 1 WHERE id % 2 = 0", "UPDATE items SET n = n - 1 WHERE id = 4"},
			[]string{"update 2: n=2->3", "update 6: n=6->7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("s%d", i)
			if _, err := e.m.Create(ctx, scenario.CreateSpec{Name: name, Tables: []string{"items"}, Members: []string{e.app}}); err != nil {
				t.Fatal(err)
			}
			defer e.m.Drop(ctx, name, false)
			exec(t, app, "SET ROLE "+e.role(name))
			for _, s := range tc.stmts {
				exec(t, app, s)
			}
			exec(t, app, "RESET ROLE")
			d, err := e.m.Diff(ctx, name, scenario.DiffOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range d.Changes {
				line := c.Op + " " + c.Key["id"] + ":"
				for _, cc := range c.Columns {
					line += " " + cc.Column + "=" + str(cc.Old) + "->" + str(cc.New)
				}
				got = append(got, line)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diff (-want +got):\n%s", diff)
			}
			if d.Total() != len(tc.want) {
				t.Errorf("total %d, want %d", d.Total(), len(tc.want))
			}
		})
	}
}
