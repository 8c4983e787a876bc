package engine_test

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
)

// itemsColumns is the shape of the items table of testdata/tables/items.
func itemsColumns(t testing.TB) []string {
	t.Helper()
	return loadFixture(t, "tables/items").lines("columns")
}

// replaceColumn returns cols with the column called name replaced by repl,
// in place, or at the end when moved (a shadow column swapped in).
func replaceColumn(cols []string, name, repl string, moved bool) []string {
	var out []string
	for _, c := range cols {
		if len(c) > len(name) && c[:len(name)+1] == name+" " {
			if !moved {
				out = append(out, repl)
			}
			continue
		}
		out = append(out, c)
	}
	if moved {
		out = append(out, repl)
	}
	return out
}

func TestLifecycleAlterColumn(t *testing.T) {
	cases := []struct {
		// name is the case's archive in testdata/lifecycle/alter_column: its
		// migration; want/column, the column after complete; and
		// want/view_column, when there, the new version's view column when
		// it is not the final column as a view's.
		name string
		// The column's name in the old and in the new version.
		oldCol, newCol string
		// What the old version writes and how the old and the new version
		// read it back (as text, NULL as "NULL"); the same for the new.
		oldWrite, oldWriteOld, oldWriteNew string
		newWrite, newWriteOld, newWriteNew string
		// Rows 7 and 50 (which has NULL name and amount) before any write:
		// as the old and as the new version read them.
		existing map[int][2]string
		// allExisting, when set, must hold in the new version for every
		// row that existed before start.
		allExisting string
		shadow      bool // through a shadow column: backfilled, and moved to the end
		check       func(t *testing.T, p *phase)
	}{{
		name:   "rename",
		oldCol: "name", newCol: "full_name",
		oldWrite: "'O'", oldWriteOld: "O", oldWriteNew: "O",
		newWrite: "'N'", newWriteOld: "N", newWriteNew: "N",
		existing: map[int][2]string{7: {"item 7", "item 7"}, 50: {"NULL", "NULL"}},
		check: func(t *testing.T, p *phase) {
			p.fails(p.new, "42703", "SELECT name FROM items")
			p.fails(p.old, "42703", "SELECT full_name FROM items")
		},
	}, {
		name:   "type",
		oldCol: "amount", newCol: "amount",
		oldWrite: "'17'", oldWriteOld: "17", oldWriteNew: "17",
		newWrite: "23", newWriteOld: "23", newWriteNew: "23",
		existing:    map[int][2]string{7: {"7", "7"}, 50: {"NULL", "NULL"}},
		allExisting: "amount = id OR (id % 25 = 0 AND amount IS NULL)",
		shadow:      true,
		check: func(t *testing.T, p *phase) {
			want(t, "type of amount in the new version", []string{"integer"},
				p.q(p.new, "SELECT pg_typeof(amount)::text FROM items WHERE id = 1"))
			p.fails(p.new, "22P02", "INSERT INTO items (sku, amount) VALUES ('bad', 'abc')")
			// A value the new type cannot hold is refused for the old version too.
			p.fails(p.old, "22P02", "INSERT INTO items (sku, amount) VALUES ('bad', 'abc')")
		},
	}, {
		name:   "not_null",
		oldCol: "name", newCol: "name",
		oldWrite: "NULL", oldWriteOld: "NULL", oldWriteNew: "anonymous",
		newWrite: "'Neo'", newWriteOld: "Neo", newWriteNew: "Neo",
		existing:    map[int][2]string{7: {"item 7", "item 7"}, 50: {"NULL", "anonymous"}},
		allExisting: "name = CASE WHEN id % 10 = 0 THEN 'anonymous' ELSE 'item ' || id END",
		shadow:      true,
		check: func(t *testing.T, p *phase) {
			p.fails(p.new, p.notNull(), "INSERT INTO items (sku, name) VALUES ('bad', NULL)")
			p.fails(p.new, p.notNull(), "UPDATE items SET name = NULL WHERE id = 1")
		},
	}, {
		name:   "nullable",
		oldCol: "nick", newCol: "nick",
		oldWrite: "'o'", oldWriteOld: "o", oldWriteNew: "o",
		newWrite: "NULL", newWriteOld: "unknown", newWriteNew: "NULL",
		existing:    map[int][2]string{7: {"nick7", "nick7"}, 50: {"nick50", "nick50"}},
		allExisting: "nick = 'nick' || id",
		shadow:      true,
		check: func(t *testing.T, p *phase) {
			p.fails(p.old, "23502", "INSERT INTO items (sku, nick) VALUES ('bad', NULL)")
			// The default still applies to both versions.
			id := p.one(p.new, "INSERT INTO items (sku) VALUES ('dflt-new') RETURNING id")
			want(t, "new-version insert without nick", []string{"nn"}, p.q(p.new, "SELECT nick FROM items WHERE id = $1", id))
			want(t, "new-version insert without nick, old version", []string{"nn"}, p.q(p.old, "SELECT nick FROM items WHERE id = $1", id))
		},
	}, {
		name:   "default",
		oldCol: "status", newCol: "status",
		oldWrite: "DEFAULT", oldWriteOld: "active", oldWriteNew: "active",
		newWrite: "DEFAULT", newWriteOld: "pending", newWriteNew: "pending",
		existing: map[int][2]string{7: {"active", "active"}, 50: {"active", "active"}},
		check: func(t *testing.T, p *phase) {
			oldID := p.one(p.old, "INSERT INTO items (sku) VALUES ('omit-old') RETURNING id")
			newID := p.one(p.new, "INSERT INTO items (sku) VALUES ('omit-new') RETURNING id")
			want(t, "status of rows inserted without it", []string{"active", "pending"},
				p.q(p.old, "SELECT status FROM items WHERE id IN ($1, $2) ORDER BY id", oldID, newID))
			want(t, "physical default during the phase", []string{"status text default 'active'::text"},
				slices.DeleteFunc(p.e.columns("public", "items"), func(s string) bool { return s[:7] != "status " }))
		},
	}, {
		name:   "drop_default",
		oldCol: "status", newCol: "status",
		oldWrite: "DEFAULT", oldWriteOld: "active", oldWriteNew: "active",
		newWrite: "DEFAULT", newWriteOld: "NULL", newWriteNew: "NULL",
		existing: map[int][2]string{7: {"active", "active"}, 50: {"active", "active"}},
	}, {
		name:   "comment",
		oldCol: "note", newCol: "note",
		oldWrite: "'o'", oldWriteOld: "o", oldWriteNew: "o",
		newWrite: "'n'", newWriteOld: "n", newWriteNew: "n",
		existing: map[int][2]string{7: {"note 7", "note 7"}, 50: {"note 50", "note 50"}},
		check: func(t *testing.T, p *phase) {
			// A comment alone is no change of shape: no view, the
			// comment reaches the table at complete.
			want(t, "comment in the new version, during the phase", []string{"NULL"},
				p.q(p.new, "SELECT col_description('items'::regclass, 7)"))
			want(t, "comment in the old version", []string{"NULL"},
				p.q(p.old, "SELECT col_description('items'::regclass, 7)"))
		},
	}, {
		name:   "rename_type_not_null",
		oldCol: "amount", newCol: "total",
		oldWrite: "''", oldWriteOld: "", oldWriteNew: "0.00",
		newWrite: "12.5", newWriteOld: "12.50", newWriteNew: "12.50",
		existing:    map[int][2]string{7: {"7", "7.00"}, 50: {"NULL", "0.00"}},
		allExisting: "total = CASE WHEN id % 25 = 0 THEN 0 ELSE id END",
		shadow:      true,
		check: func(t *testing.T, p *phase) {
			p.fails(p.new, p.notNull(), "INSERT INTO items (sku, total) VALUES ('bad', NULL)")
			p.fails(p.new, "42703", "SELECT amount FROM items")
			p.fails(p.old, "42703", "SELECT total FROM items")
			id := p.one(p.new, "INSERT INTO items (sku) VALUES ('dflt-new') RETURNING id")
			want(t, "default of total, both versions", []string{"0.00|0.00"},
				p.q(p.old, "SELECT (SELECT total::text FROM "+p.res.VersionSchema+".items WHERE id = $1), amount FROM items WHERE id = $1", id))
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bothPaths(t, func(t *testing.T, path string) {
				var batches atomic.Int64
				fx := loadFixture(t, "lifecycle/alter_column/"+c.name)
				final := fx.text("want/column")
				e := newEnv(t, tables(t, "items"), countBatches(&batches))
				migs := e.migs("", fx.migrations()...)
				node := e.relfilenode("public", "items")
				p := begin(t, e, "", "", migs)
				oc, nc := c.oldCol, c.newCol
				if got := e.relfilenode("public", "items"); got != node {
					t.Errorf("start rewrote items: relfilenode %s -> %s", node, got)
				}
				if c.shadow != (batches.Load() >= 3) {
					t.Errorf("%d backfill batches, want a backfill (3 batches or more): %v", batches.Load(), c.shadow)
				}
				newCols := asView(replaceColumn(itemsColumns(t), oc, final, false))
				if fx.has("want/view_column") {
					newCols = replaceColumn(newCols, oc, fx.text("want/view_column"), false)
				}
				if c.name == "comment" {
					newCols = itemsColumns(t)
				}
				want(t, "new version's view (the table for a comment)", newCols, e.seenColumns(p.res.VersionSchema, "public", "items"))

				// Existing rows, as each version sees them.
				for _, id := range []int{7, 50} {
					want(t, fmt.Sprintf("row %d as the old version sees it", id), []string{c.existing[id][0]},
						p.q(p.old, "SELECT "+oc+"::text FROM items WHERE id = $1", id))
					want(t, fmt.Sprintf("row %d as the new version sees it", id), []string{c.existing[id][1]},
						p.q(p.new, "SELECT "+nc+"::text FROM items WHERE id = $1", id))
				}
				if c.allExisting != "" {
					want(t, "existing rows failing "+c.allExisting, []string{"0"},
						p.q(p.new, "SELECT count(*) FROM items WHERE NOT coalesce("+c.allExisting+", false)"))
				}
				seen := func(id, wantOld, wantNew string) {
					t.Helper()
					want(t, "row "+id+" as the old version sees it", []string{wantOld}, p.q(p.old, "SELECT "+oc+"::text FROM items WHERE id = $1", id))
					want(t, "row "+id+" as the new version sees it", []string{wantNew}, p.q(p.new, "SELECT "+nc+"::text FROM items WHERE id = $1", id))
				}

				// INSERT ... RETURNING from both sides.
				oldID := p.one(p.old, "INSERT INTO items (sku, "+oc+") VALUES ('old1', "+c.oldWrite+") RETURNING id")
				seen(oldID, c.oldWriteOld, c.oldWriteNew)
				want(t, "new-version insert returning", []string{"new1|" + c.newWriteNew},
					p.q(p.new, "INSERT INTO items (sku, "+nc+") VALUES ('new1', "+c.newWrite+") RETURNING sku, "+nc+"::text"))
				newID := p.one(p.old, "SELECT id FROM items WHERE sku = 'new1'")
				seen(newID, c.newWriteOld, c.newWriteNew)
				// INSERT ... ON CONFLICT (key) DO UPDATE from both sides.
				want(t, "old upsert", []string{"7"}, p.q(p.old, "INSERT INTO items (sku, "+oc+") VALUES ('sku7', "+c.oldWrite+
					") ON CONFLICT (sku) DO UPDATE SET "+oc+" = EXCLUDED."+oc+" RETURNING id"))
				seen("7", c.oldWriteOld, c.oldWriteNew)
				want(t, "new upsert", []string{"8|" + c.newWriteNew}, p.q(p.new, "INSERT INTO items (sku, "+nc+") VALUES ('sku8', "+c.newWrite+
					") ON CONFLICT (sku) DO UPDATE SET "+nc+" = EXCLUDED."+nc+" RETURNING id, "+nc+"::text"))
				seen("8", c.newWriteOld, c.newWriteNew)
				// UPDATE from both sides.
				p.exec(p.old, "UPDATE items SET "+oc+" = "+c.oldWrite+" WHERE id = 11")
				seen("11", c.oldWriteOld, c.oldWriteNew)
				p.exec(p.new, "UPDATE items SET "+nc+" = "+c.newWrite+" WHERE id = 12")
				seen("12", c.newWriteOld, c.newWriteNew)
				// An update of another column keeps the value on both sides.
				p.exec(p.new, "UPDATE items SET sku = 'sku12b' WHERE id = 12")
				p.exec(p.old, "UPDATE items SET sku = 'sku11b' WHERE id = 11")
				seen("11", c.oldWriteOld, c.oldWriteNew)
				seen("12", c.newWriteOld, c.newWriteNew)
				// DELETE from both sides.
				p.exec(p.old, "DELETE FROM items WHERE id = 3")
				p.exec(p.new, "DELETE FROM items WHERE id = 4")
				for _, v := range p.both() {
					want(t, v.name+" version: deleted rows", []string{"0"}, p.q(v.c, "SELECT count(*) FROM items WHERE id IN (3, 4)"))
					want(t, v.name+" version: row count", []string{"250"}, p.q(v.c, "SELECT count(*) FROM items WHERE sku NOT LIKE 'dflt%' AND sku NOT LIKE 'omit%'"))
				}
				if c.check != nil {
					c.check(t, p)
				}

				if path == "abort" {
					p.abort()
					cat := e.catalogConn()
					want(t, "rows the old version wrote, after abort", []string{
						"7|" + c.oldWriteOld, "11|" + c.oldWriteOld, "50|" + c.existing[50][0], oldID + "|" + c.oldWriteOld,
					}, p.q(cat, "SELECT id, "+oc+"::text FROM items WHERE id IN (7, 11, 50, $1) ORDER BY id", oldID))
					want(t, "rows the new version wrote, after abort", []string{
						"8|" + c.newWriteOld, "12|" + c.newWriteOld, newID + "|" + c.newWriteOld,
					}, p.q(cat, "SELECT id, "+oc+"::text FROM items WHERE id IN (8, 12, $1) ORDER BY id", newID))
					want(t, "rows deleted, after abort", []string{"0"}, p.q(cat, "SELECT count(*) FROM items WHERE id IN (3, 4)"))
					return
				}
				p.complete()
				want(t, "items after complete", replaceColumn(itemsColumns(t), oc, final, c.shadow), e.columns("public", "items"))
				cat := e.catalogConn()
				want(t, "data after complete", []string{
					"7|" + c.oldWriteNew, "8|" + c.newWriteNew, "11|" + c.oldWriteNew, "12|" + c.newWriteNew,
					"50|" + c.existing[50][1], oldID + "|" + c.oldWriteNew, newID + "|" + c.newWriteNew,
				}, p.q(cat, "SELECT id, "+nc+"::text FROM items WHERE id IN (7, 8, 11, 12, 50, $1, $2) ORDER BY id", oldID, newID))
				if c.allExisting != "" {
					want(t, "existing rows failing "+c.allExisting+" after complete", []string{"0"},
						p.q(cat, "SELECT count(*) FROM items WHERE id <= 250 AND id NOT IN (7, 8, 11, 12) AND NOT coalesce("+c.allExisting+", false)"))
				}
				// The new version keeps working.
				want(t, "new-version insert after complete", []string{"after|" + c.newWriteNew},
					p.q(p.new, "INSERT INTO items (sku, "+nc+") VALUES ('after', "+c.newWrite+") RETURNING sku, "+nc+"::text"))
				if c.shadow {
					// The retyped column is last in the table: the view
					// keeps the version's column order.
					want(t, "new-version view after complete", newCols, e.columns(p.res.VersionSchema, "items"))
				} else {
					want(t, "new version schema after complete (its view identical to the table is gone)", nil, e.relations(p.res.VersionSchema))
				}
			})
		})
	}
}

// TestLifecycleAlterColumnRenameKey renames the column of a unique key:
// each version upserts on the key under its own name.
func TestLifecycleAlterColumnRenameKey(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/alter_column/rename_key")
		e := newEnv(t, tables(t, "items"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		want(t, "old upsert", []string{"7|seven-old"}, p.q(p.old,
			"INSERT INTO items (sku, name) VALUES ('sku7', 'seven-old') ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"))
		want(t, "new upsert", []string{"8|eight-new"}, p.q(p.new,
			"INSERT INTO items (article, name) VALUES ('sku8', 'eight-new') ON CONFLICT (article) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"))
		want(t, "new insert", []string{"fresh"}, p.q(p.new,
			"INSERT INTO items (article, name) VALUES ('fresh', 'f') ON CONFLICT (article) DO NOTHING RETURNING article"))
		p.fails(p.new, "23505", "INSERT INTO items (article) VALUES ('sku9')")
		want(t, "rows, old version", []string{"7|sku7|seven-old", "8|sku8|eight-new"}, p.q(p.old, "SELECT id, sku, name FROM items WHERE id IN (7, 8) ORDER BY id"))
		want(t, "rows, new version", []string{"fresh|f", "sku7|seven-old"}, p.q(p.new, "SELECT article, name FROM items WHERE article IN ('sku7', 'fresh') ORDER BY 1"))
		if path == "abort" {
			p.abort()
			want(t, "rows after abort", []string{"fresh|f", "sku7|seven-old", "sku8|eight-new"},
				p.q(e.catalogConn(), "SELECT sku, name FROM items WHERE sku IN ('sku7', 'sku8', 'fresh') ORDER BY 1"))
			return
		}
		p.complete()
		want(t, "items after complete", replaceColumn(itemsColumns(t), "sku", "article text not null", false), e.columns("public", "items"))
		want(t, "unique index after complete", []string{"CREATE UNIQUE INDEX items_sku_key ON public.items USING btree (article)"},
			p.q(e.catalogConn(), "SELECT indexdef FROM pg_indexes WHERE indexname = 'items_sku_key'"))
		want(t, "new upsert after complete", []string{"7|seven-new"}, p.q(p.new,
			"INSERT INTO items (article, name) VALUES ('sku7', 'seven-new') ON CONFLICT (article) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"))
	})
}
