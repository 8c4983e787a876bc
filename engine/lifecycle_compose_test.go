package engine_test

import (
	"testing"
)

// TestLifecycleComposeOneMigration: five actions on one table in one
// migration, each using the names the previous ones produced: rename a
// column, change its type (and make it NOT NULL), add an index on it, add a
// check on it, add a column computed from it.
func TestLifecycleComposeOneMigration(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/compose/one_migration")
		e := newEnv(t, tables(t, "carry")+fx.setup())
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		want(t, "new version", []string{"70|71"}, p.q(p.new, "SELECT value, next_value FROM items WHERE id = 7"))
		p.exec(p.old, "INSERT INTO items (id, v) VALUES (1001, 4)")
		want(t, "old write, new version", []string{"40|41"}, p.q(p.new, "SELECT value, next_value FROM items WHERE id = 1001"))
		p.exec(p.new, "INSERT INTO items (id, value, next_value) VALUES (1002, 90, 0)")
		want(t, "new write, old version", []string{"9"}, p.q(p.old, "SELECT v FROM items WHERE id = 1002"))
		p.fails(p.new, "23514", "INSERT INTO items (id, value) VALUES (1003, 95)")
		p.fails(p.new, p.notNull(), "INSERT INTO items (id, value) VALUES (1003, NULL)")
		want(t, "temporary and new indexes", []string{
			"_strata_2_items_v_idx valid=true: CREATE INDEX _strata_2_items_v_idx ON public.items USING btree (_strata_2_value) WHERE (_strata_2_value > 10)",
			"items_value_w_idx valid=true: CREATE INDEX items_value_w_idx ON public.items USING btree (w, _strata_2_value) WHERE (_strata_2_value >= 0)",
		}, append(withSubstring(e.indexes("public", "items"), "_strata_2_items"), withSubstring(e.indexes("public", "items"), "items_value_w")...))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "columns", fx.lines("want/columns"), e.columns("public", "items"))
		want(t, "indexes", []string{
			"items_pkey valid=true: CREATE UNIQUE INDEX items_pkey ON public.items USING btree (id)",
			"items_v_idx valid=true: CREATE INDEX items_v_idx ON public.items USING btree (value) WHERE (value > 10)",
			"items_value_w_idx valid=true: CREATE INDEX items_value_w_idx ON public.items USING btree (w, value) WHERE (value >= 0)",
		}, e.indexes("public", "items"))
		want(t, "constraints", []string{
			"items_pkey validated=true: PRIMARY KEY (id)",
			"items_value_tens validated=true: CHECK (((value % (10)::bigint) = 0))",
		}, e.constraints("public", "items"))
		e.usesIndex(t, "items_value_w_idx", "SELECT id FROM items WHERE w = 3 AND value BETWEEN 0 AND 50")
	})
}

func TestLifecycleComposeThreeMigrations(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/compose/three_migrations")
		e := newEnv(t, fx.setup())
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		if p.res.VersionSchema != "public_003_clients" || len(p.res.Migrations) != 3 {
			t.Fatalf("started %+v", p.res)
		}
		want(t, "new version", []string{"15.00|false", "0.00|false", "148.50|true"},
			p.q(p.new, "SELECT amount_due::text, big FROM invoices WHERE id IN (10, 20, 99) ORDER BY id"))
		p.exec(p.old, "INSERT INTO invoices (id, amount, customer) VALUES (1001, '250', 3)")
		want(t, "old write, new version", []string{"250.00|true"}, p.q(p.new, "SELECT amount_due::text, big FROM invoices WHERE id = 1001"))
		p.exec(p.new, "INSERT INTO invoices (id, amount_due, customer) VALUES (1002, 7.25, 4)")
		want(t, "new write, old version", []string{"7.25"}, p.q(p.old, "SELECT amount FROM invoices WHERE id = 1002"))
		p.fails(p.new, "23514", "INSERT INTO invoices (id, amount_due, customer) VALUES (1003, -1, 4)")
		p.fails(p.old, "23514", "INSERT INTO invoices (id, amount, customer) VALUES (1003, '-1', 4)")
		p.fails(p.new, "23503", "INSERT INTO invoices (id, amount_due, customer) VALUES (1003, 1, 99)")
		p.fails(p.old, "23503", "INSERT INTO invoices (id, amount, customer) VALUES (1003, '1', 99)")
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "columns", fx.lines("want/columns"), e.columns("public", "invoices"))
		want(t, "indexes", []string{
			"invoices_amount_idx valid=true: CREATE INDEX invoices_amount_idx ON public.invoices USING btree (amount_due) WHERE (amount_due IS NOT NULL)",
			"invoices_customer_total valid=true: CREATE INDEX invoices_customer_total ON public.invoices USING btree (customer, amount_due)",
			"invoices_pkey valid=true: CREATE UNIQUE INDEX invoices_pkey ON public.invoices USING btree (id)",
		}, e.indexes("public", "invoices"))
		want(t, "constraints", []string{
			"invoices_client_fk validated=true: FOREIGN KEY (customer) REFERENCES clients(id)",
			"invoices_pkey validated=true: PRIMARY KEY (id)",
			"invoices_total_positive validated=true: CHECK ((amount_due >= (0)::numeric))",
		}, e.constraints("public", "invoices"))
		p.fails(p.new, "23503", "INSERT INTO invoices (amount_due, customer) VALUES (1, 99)")
		e.usesIndex(t, "invoices_customer_total", "SELECT id FROM invoices WHERE customer = 3 AND amount_due > 10")
	})
}

// TestLifecycleComposeReplaceTwice: a column replaced twice in one phase
// (two migrations): the objects carried by the first replacement follow the
// second, and are built once, on the final column.
func TestLifecycleComposeReplaceTwice(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/compose/replace_twice")
		e := newEnv(t, tables(t, "carry")+fx.setup())
		migs := e.migs("", append([]string{"001_bigint.toml", loadFixture(t, "tables/carry").file("alter_v.toml")}, fx.migrations()...)...)
		p := begin(t, e, "", "", migs)
		want(t, "temporary indexes", []string{"_strata_1_items_v_key"},
			firstWords(withSubstring(e.indexes("public", "items"), "_strata_"), 1))
		p.fails(p.new, "23505", "INSERT INTO items (id, v) VALUES (1001, 5)")
		p.fails(p.old, "23505", "INSERT INTO items (id, v) VALUES (1001, 5)")
		p.fails(p.new, "23503", "INSERT INTO children VALUES (1001, 5000)")
		p.exec(p.old, "INSERT INTO items (id, v) VALUES (1001, 5000)")
		p.exec(p.new, "INSERT INTO children VALUES (1001, 5000)")
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "column", []string{"v numeric(20,0) not null"}, withSubstring(e.columns("public", "items"), "v "))
		want(t, "constraints", []string{"items_pkey validated=true: PRIMARY KEY (id)", "items_v_key validated=true: UNIQUE (v)"},
			e.constraints("public", "items"))
		want(t, "inbound key", []string{"children_item_v_fkey validated=true: FOREIGN KEY (item_v) REFERENCES items(v)"},
			withSubstring(e.constraints("public", "children"), "fkey"))
		p.fails(p.new, "23503", "INSERT INTO children VALUES (1002, 6000)")
	})
}

// TestLifecycleComposeReplaceAndRemove: an index over a replaced column and
// a removed one is not carried (complete drops it with the removed column);
// the others are.
func TestLifecycleComposeReplaceAndRemove(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/compose/replace_and_remove")
		e := newEnv(t, tables(t, "carry")+fx.setup())
		migs := e.migs("", "001_x.toml", loadFixture(t, "tables/carry").file("alter_v.toml")+fx.file("more_actions.toml"))
		p := begin(t, e, "", "", migs)
		want(t, "temporary indexes", []string{"_strata_1_items_v"}, firstWords(withSubstring(e.indexes("public", "items"), "_strata_"), 1))
		p.exec(p.old, "INSERT INTO items (id, v, label) VALUES (1001, 5, 'x')")
		p.exec(p.new, "INSERT INTO items (id, v) VALUES (1002, 6)")
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "indexes", []string{
			"items_pkey valid=true: CREATE UNIQUE INDEX items_pkey ON public.items USING btree (id)",
			"items_v valid=true: CREATE INDEX items_v ON public.items USING btree (v)",
		}, e.indexes("public", "items"))
	})
}
