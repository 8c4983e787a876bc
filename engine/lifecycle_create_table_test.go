package engine_test

import (
	"testing"
)

func TestLifecycleCreateTable(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/create_table/orders")
		e := newEnv(t, tables(t, "users"))
		migs := e.migs("", fx.migrations()...)
		res1 := e.start(migs[:1])
		e.complete()
		prev := res1.VersionSchema
		p := begin(t, e, "", prev, migs)
		vs := p.res.VersionSchema
		if vs != "public_002_orders" || prev != "public_001_base" {
			t.Fatalf("version schemas %q, %q", prev, vs)
		}
		// Only the new version has the table.
		// users keeps its shape: no view of it in either version schema.
		want(t, "relations of the old version schema", nil, e.relations(prev))
		want(t, "relations of the new version schema", []string{"orders v"}, e.relations(vs))
		want(t, "new version's view", []string{
			"id bigint",
			"user_id bigint comment 'who ordered'",
			"status text default 'new'::text",
			"total numeric(10,2) default 0",
			"ref text comment 'external reference'",
			"placed_at timestamp with time zone default now()",
		}, e.columns(vs, "orders"))
		want(t, "users in the old version", replaceColumn(usersColumns(t), "name", "name text comment 'display name'", false), e.seenColumns(prev, "public", "users"))

		// The old version writes users, the new version orders for them.
		oldUser := p.one(p.old, "INSERT INTO users (email, name) VALUES ('old@x.org', 'old') RETURNING id")
		want(t, "new-version insert with defaults and identity", []string{"1|new|0.00|true"},
			p.q(p.new, "INSERT INTO orders (user_id) VALUES ($1) RETURNING id, status, total::text, placed_at > now() - interval '1 hour'", oldUser))
		p.exec(p.new, "INSERT INTO orders (user_id, ref, total) SELECT g, 'R' || g, g FROM generate_series(1, 20) g")
		want(t, "new-version upsert", []string{"3|dup|7.50"}, p.q(p.new,
			"INSERT INTO orders (user_id, ref, total) VALUES (2, 'R2', 7.5) ON CONFLICT (ref) DO UPDATE SET status = 'dup', total = EXCLUDED.total RETURNING id, status, total::text"))
		p.fails(p.new, "428C9", "INSERT INTO orders (id, user_id) VALUES (999, 1)")
		p.fails(p.new, "23503", "INSERT INTO orders (user_id) VALUES (999999)")
		p.fails(p.new, "23514", "INSERT INTO orders (user_id, total) VALUES (1, -1)")
		p.fails(p.new, "23502", "INSERT INTO orders (user_id) VALUES (NULL)")
		p.fails(p.new, "23505", "INSERT INTO orders (user_id, ref) VALUES (1, 'R1')")
		p.exec(p.new, "UPDATE orders SET status = 'paid' WHERE ref = 'R5'")
		p.exec(p.new, "DELETE FROM orders WHERE ref = 'R6'")
		// Old-version deletes cascade to the new table.
		p.exec(p.old, "DELETE FROM users WHERE id = 7")
		// The new version writes users too; the old version sees them.
		p.exec(p.new, "UPDATE users SET name = 'eight-new' WHERE id = 8")
		p.exec(p.new, "INSERT INTO users (email, name) VALUES ('u9@x.org', 'nine-new') ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name")
		want(t, "users, old version", []string{"7|NULL", "8|eight-new", "9|nine-new"},
			p.q(p.old, "SELECT i, (SELECT name FROM users WHERE id = i) FROM unnest(ARRAY[7, 8, 9]) i ORDER BY i"))
		ordersQuery := `SELECT i, coalesce((SELECT user_id || '|' || status || '|' || coalesce(ref, 'NULL') FROM orders WHERE id = i), 'NULL|NULL|NULL')
			FROM unnest(ARRAY[1, 3, 6, 7, 8]) i ORDER BY i`
		// Order 7 was deleted, order 8 was user 7's.
		wantOrders := []string{"1|" + oldUser + "|new|NULL", "3|2|dup|R2", "6|5|paid|R5", "7|NULL|NULL|NULL", "8|NULL|NULL|NULL"}
		want(t, "orders, new version", wantOrders, p.q(p.new, ordersQuery))

		if path == "abort" {
			p.abort()
			want(t, "relations after abort", []string{"users r"}, e.relations("public"))
			want(t, "users after abort", []string{"8|eight-new", "9|nine-new", oldUser + "|old"},
				p.q(e.catalogConn(), "SELECT id, name FROM users WHERE id IN (7, 8, 9, $1) ORDER BY id", oldUser))
			// The old version keeps working.
			p.exec(p.old, "INSERT INTO users (email) VALUES ('after@x.org')")
			return
		}
		p.complete()
		want(t, "orders after complete", fx.lines("want/orders_columns"), e.columns("public", "orders"))
		want(t, "users after complete", replaceColumn(usersColumns(t), "name", "name text comment 'display name'", false), e.columns("public", "users"))
		want(t, "constraints of orders", []string{
			"orders_pkey: PRIMARY KEY (id)",
			"orders_ref_key: UNIQUE (ref)",
			"orders_total_check: CHECK ((total >= (0)::numeric))",
			"orders_user_fk: FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
		}, p.q(e.catalogConn(), "SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype <> 'n' ORDER BY conname"))
		want(t, "orders after complete", wantOrders, p.q(e.catalogConn(), ordersQuery))
		want(t, "new-version insert after complete", []string{"new"},
			p.q(p.new, "INSERT INTO orders (user_id) VALUES (1) RETURNING status"))
	})
}
