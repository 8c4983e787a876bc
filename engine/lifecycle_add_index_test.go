package engine_test

import (
	"testing"

	"github.com/stratapg/strata/internal/pgtest"
)

// withColumn replaces COLUMN in rows with col.
func withColumn(rows []string, col string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = replaceAll(r, "COLUMN", col)
	}
	return out
}

func TestLifecycleAddIndex(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/add_index/every_method")
		docsIndexesAfter := fx.lines("want/indexes")
		e := newEnv(t, tables(t, "docs"))
		migs := e.migs("", fx.migrations()...)
		p := begin(t, e, "", "", migs)
		// Built at start, on the physical column (renamed only at complete).
		want(t, "indexes during the phase", withColumn(docsIndexesAfter, "code"), e.indexes("public", "docs"))
		want(t, "invalid indexes", nil, e.invalidIndexes())
		// Both versions read and write; the unique index holds for both.
		oldID := p.one(p.old, "INSERT INTO docs (title, code) VALUES ('from old', 'co') RETURNING id")
		newID := p.one(p.new, "INSERT INTO docs (title, sku) VALUES ('from new', 'cn') RETURNING id")
		p.fails(p.old, "23505", "INSERT INTO docs (title) VALUES ('from new')")
		p.fails(p.new, "23505", "INSERT INTO docs (title) VALUES ('from old')")
		p.fails(p.new, "23505", "UPDATE docs SET title = 'doc 1' WHERE id = 2")
		p.exec(p.new, "UPDATE docs SET sku = 'CX' WHERE id = $1", oldID)
		want(t, "rows, old version", []string{oldID + "|CX", newID + "|cn"},
			p.q(p.old, "SELECT id, code FROM docs WHERE id IN ($1, $2) ORDER BY id", oldID, newID))
		want(t, "rows through the tags index, new version", []string{"7", "14"},
			p.q(p.new, "SELECT id FROM docs WHERE tags @> ARRAY['t0'] AND id < 20 ORDER BY id"))
		if path == "abort" {
			p.abort()
			want(t, "indexes after abort", []string{"docs_pkey valid=true: CREATE UNIQUE INDEX docs_pkey ON public.docs USING btree (id)"},
				e.indexes("public", "docs"))
			return
		}
		p.complete()
		want(t, "indexes after complete", withColumn(docsIndexesAfter, "sku"), e.indexes("public", "docs"))
		// The partial expression index serves a query matching its predicate.
		e.usesIndex(t, "docs_sku_lower_partial", "SELECT id FROM docs WHERE lower(sku) = 'c7' AND sku IS NOT NULL AND sku <> ''")
		e.usesIndex(t, "docs_period_gist", "SELECT id FROM docs WHERE period && tsrange('2024-02-01', '2024-02-03')")
		e.usesIndex(t, "docs_loc_spgist", "SELECT id FROM docs WHERE loc <@ box '((0,0),(5,5))'")
		e.usesIndex(t, "docs_sku_hash", "SELECT id FROM docs WHERE sku = 'c7'")
		want(t, "unique after complete", []string{"1"}, p.q(e.catalogConn(), "SELECT count(*) FROM docs WHERE title = 'from old'"))
		p.fails(e.catalogConn(), "23505", "INSERT INTO docs (title) VALUES ('doc 5')")
	})
}

// TestIndexRefusals: problems found before start, which changes nothing.
func TestIndexRefusals(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "refusals/index")
	e := newEnv(t, tables(t, "docs")+fx.setup())
	for _, name := range fx.cases() {
		c := fx.sub(name)
		startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
	}
}

func TestLifecycleAddIndexOptions(t *testing.T) {
	if pgtest.ServerMajor(t) < 15 {
		t.Skip("nulls_not_distinct needs PostgreSQL 15")
	}
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/add_index/pgroll_options")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		want(t, "indexes during the phase", fx.lines("want/indexes"), e.indexes("public", "fruits"))
		// NULLS NOT DISTINCT: one row with a NULL name and size per version
		// at most, whichever writes it.
		p.exec(p.old, "INSERT INTO fruits VALUES (100, NULL, NULL)")
		p.fails(p.new, "23505", "INSERT INTO fruits VALUES (101, NULL, NULL)")
		p.exec(p.new, "INSERT INTO fruits VALUES (102, 'kiwi', NULL)")
		p.fails(p.old, "23505", "INSERT INTO fruits VALUES (103, 'kiwi', NULL)")
		p.exec(p.new, "UPDATE fruits SET size = 3 WHERE id = 102")
		want(t, "rows", []string{"100|NULL|NULL", "102|kiwi|3"}, p.q(p.old, "SELECT id, name, size FROM fruits WHERE id >= 100 ORDER BY id"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "indexes after complete", fx.lines("want/indexes"), e.indexes("public", "fruits"))
		e.usesIndex(t, "idx_fruits_name_hash", "SELECT id FROM fruits WHERE name = 'fruit 7'")
	})
}
