package engine_test

import (
	"testing"
)

const docsSetup = `
CREATE TABLE docs (id serial PRIMARY KEY, title text NOT NULL, code text, tags text[], period tsrange,
	loc point, created timestamptz NOT NULL DEFAULT '2024-01-01', body text);
INSERT INTO docs (title, code, tags, period, loc, created, body)
SELECT 'doc ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'c' || g END, ARRAY['t' || (g % 7), 'all'],
       tsrange('2024-01-01'::timestamp + g * interval '1 day', '2024-01-01'::timestamp + (g + 1) * interval '1 day'),
       point(g, g % 10), '2024-01-01'::timestamptz + g * interval '1 hour', 'body ' || g
FROM generate_series(1, 200) g;`

// One migration adds an index of every method, a unique index with INCLUDE,
// and partial and expression indexes whose columns and WHERE name a column
// the same migration renames (the new version's name).
const addIndexMigration = `
[[actions]]
type = "alter_column"
table = "docs"
column = "code"
  [actions.changes]
  name = "sku"

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_title_uq"
  columns = ["title"]
  unique = true
  include = ["sku"]

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_sku_hash"
  columns = ["sku"]
  type = "hash"

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_period_gist"
  columns = ["period"]
  type = "gist"

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_tags_gin"
  columns = ["tags"]
  type = "gin"

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_loc_spgist"
  columns = ["loc"]
  type = "spgist"

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_created_brin"
  columns = ["created"]
  type = "brin"

[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_sku_lower_partial"
  columns = ["(lower(sku))", "id"]
  where = "sku IS NOT NULL AND docs.sku <> ''"
`

var docsIndexesAfter = []string{
	"docs_created_brin valid=true: CREATE INDEX docs_created_brin ON public.docs USING brin (created)",
	"docs_loc_spgist valid=true: CREATE INDEX docs_loc_spgist ON public.docs USING spgist (loc)",
	"docs_period_gist valid=true: CREATE INDEX docs_period_gist ON public.docs USING gist (period)",
	"docs_pkey valid=true: CREATE UNIQUE INDEX docs_pkey ON public.docs USING btree (id)",
	"docs_sku_hash valid=true: CREATE INDEX docs_sku_hash ON public.docs USING hash (COLUMN)",
	"docs_sku_lower_partial valid=true: CREATE INDEX docs_sku_lower_partial ON public.docs USING btree (lower(COLUMN), id) WHERE ((COLUMN IS NOT NULL) AND (COLUMN <> ''::text))",
	"docs_tags_gin valid=true: CREATE INDEX docs_tags_gin ON public.docs USING gin (tags)",
	"docs_title_uq valid=true: CREATE UNIQUE INDEX docs_title_uq ON public.docs USING btree (title) INCLUDE (COLUMN)",
}

func withColumn(rows []string, col string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = replaceAll(r, "COLUMN", col)
	}
	return out
}

func TestLifecycleAddIndex(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, docsSetup)
		migs := e.migs("", "001_indexes.toml", addIndexMigration)
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
	e := newEnv(t, docsSetup+"\nCREATE INDEX docs_body_idx ON docs (body);")
	cases := []struct {
		name, toml string
		msg        []string
	}{
		{"name taken", `
[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "docs_body_idx"
  columns = ["title"]`, []string{"actions[0].index.name", `"docs_body_idx" already exists`}},
		{"unknown column", `
[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "x_idx"
  columns = ["titel"]`, []string{"actions[0].index", `column "titel" does not exist`}},
		{"old name in where", `
[[actions]]
type = "alter_column"
table = "docs"
column = "code"
  [actions.changes]
  name = "sku"
[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "x_idx"
  columns = ["sku"]
  where = "code IS NOT NULL"`, []string{"actions[1].index", `column "code" does not exist`}},
		{"bad opclass for method", `
[[actions]]
type = "add_index"
table = "docs"
  [actions.index]
  name = "x_idx"
  columns = ["title"]
  type = "gin"`, []string{"actions[0].index", "gin"}},
		{"primary key index", `
[[actions]]
type = "remove_index"
index = "docs_pkey"`, []string{"actions[0].index", `backs constraint "docs_pkey"`}},
		{"no such index", `
[[actions]]
type = "remove_index"
index = "nope"`, []string{"actions[0].index", `index "nope" does not exist`}},
	}
	for _, c := range cases {
		startFails(t, e, "", e.migs("", "001_x.toml", c.toml), c.msg...)
	}
}
