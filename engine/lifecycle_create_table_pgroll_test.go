package engine_test

import (
	"testing"

	"github.com/stratapg/strata/internal/pgtest"
)

// pgroll's create_table options: table comment, named primary key over a
// serial column, unique options, exclusion constraints, MATCH FULL and
// DEFERRABLE foreign keys and NO INHERIT checks.
func TestLifecycleCreateTablePgrollForms(t *testing.T) {
	if pgtest.ServerMajor(t) < 15 {
		t.Skip("nulls_not_distinct needs PostgreSQL 15")
	}
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/create_table/pgroll_forms")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		want(t, "constraints", fx.lines("want/constraints"), e.constraints("public", "library"))
		want(t, "table comment", []string{"one row per book"},
			p.q(e.catalogConn(), "SELECT obj_description('public.library'::regclass, 'pg_class')"))
		// The new version writes the table; the old version writes the
		// table it references.
		p.exec(p.old, "INSERT INTO telephone_providers VALUES (3, 'three')")
		want(t, "serial ids", []string{"1", "2"}, p.q(p.new,
			"INSERT INTO library (title, isbn, starts, ends, provider_id) VALUES ('a', NULL, '2024-01-01', '2024-01-02', 3), ('b', 'i2', '2024-01-03', '2024-01-04', 1) RETURNING id"))
		// NULLS NOT DISTINCT: a second NULL isbn is a duplicate.
		p.fails(p.new, "23505", "INSERT INTO library (title, isbn, starts, ends) VALUES ('c', NULL, '2025-01-01', '2025-01-02')")
		p.fails(p.new, "23P01", "INSERT INTO library (title, isbn, starts, ends) VALUES ('a', 'i3', '2025-01-01', '2025-01-02')")
		p.fails(p.new, "23P01", "INSERT INTO library (title, isbn, starts, ends) VALUES ('d', 'i4', '2024-01-01 12:00', '2024-01-05')")
		p.fails(p.new, "23514", "INSERT INTO library (title, isbn, starts, ends) VALUES ('', 'i5', '2025-02-01', '2025-02-02')")
		// The foreign key is checked at commit (INITIALLY DEFERRED).
		p.fails(p.new, "23503", "INSERT INTO library (title, isbn, starts, ends, provider_id) VALUES ('e', 'i6', '2025-03-01', '2025-03-02', 99)")
		p.exec(p.new, "UPDATE library SET title = 'aa' WHERE id = 1")
		want(t, "rows", []string{"1|aa|3", "2|b|1"}, p.q(p.new, "SELECT id, title, provider_id FROM library ORDER BY id"))
		if path == "abort" {
			p.abort()
			return
		}
		p.complete()
		want(t, "constraints after complete", fx.lines("want/constraints"), e.constraints("public", "library"))
		p.exec(p.new, "INSERT INTO library (title, isbn, starts, ends) VALUES ('f', 'i7', '2025-04-01', '2025-04-02')")
	})
}
