package engine_test

import (
	"slices"
	"strings"
	"testing"
)

// peopleColumns is the shape of the people table of testdata/tables/people.
func peopleColumns(t testing.TB) []string {
	t.Helper()
	return loadFixture(t, "tables/people").lines("columns")
}

func withoutColumn(cols []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(cols), func(c string) bool { return strings.HasPrefix(c, name+" ") })
}

func TestLifecycleRemoveColumn(t *testing.T) {
	cases := []struct {
		name   string // the case's archive in testdata/lifecycle/remove_column: its migration
		column string // the column it removes
		// oldWrite is what the old version writes into the column.
		oldWrite string
		// newWrote must hold, as the old version sees it, for rows the new
		// version inserted or updated.
		newWrote string
	}{
		{name: "not_null_with_down", column: "code", oldWrite: "'mine'", newWrote: "code = 'gen-' || id"},
		{name: "nullable_with_down", column: "legacy", oldWrite: "'mine'", newWrote: "legacy = upper(name)"},
		{name: "nullable_without_down", column: "legacy", oldWrite: "'mine'", newWrote: "legacy IS NULL OR legacy = 'L' || id"},
		{name: "default_without_down", column: "flag", oldWrite: "'mine'", newWrote: "flag IN ('f', 'x')"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bothPaths(t, func(t *testing.T, path string) {
				fx := loadFixture(t, "lifecycle/remove_column/"+c.name)
				e := newEnv(t, tables(t, "people"))
				migs := e.migs("", fx.migrations()...)
				p := begin(t, e, "", "", migs)
				col := c.column
				want(t, "new version's view", asView(withoutColumn(peopleColumns(t), col)), e.columns(p.res.VersionSchema, "people"))
				p.fails(p.new, "42703", "SELECT "+col+" FROM people")
				// Existing rows are untouched for the old version.
				want(t, "old version, existing row", []string{"C7|L7|x"}, p.q(p.old, "SELECT code, legacy, flag FROM people WHERE id = 7"))

				// INSERT ... RETURNING from both sides.
				oldCols, oldVals := "email, name, "+col, "'old@x.org', 'old', "+c.oldWrite
				if col != "code" {
					oldCols, oldVals = oldCols+", code", oldVals+", 'C-old'"
				}
				oldID := p.one(p.old, "INSERT INTO people ("+oldCols+") VALUES ("+oldVals+") RETURNING id")
				want(t, "old row as the new version sees it", []string{"old@x.org|old"}, p.q(p.new, "SELECT email, name FROM people WHERE id = $1", oldID))
				want(t, "old row as the old version sees it", []string{"mine"}, p.q(p.old, "SELECT "+col+" FROM people WHERE id = $1", oldID))
				newID := p.one(p.new, newInsert(col))
				want(t, "new row as the old version sees it", []string{"new@x.org|new|true"},
					p.q(p.old, "SELECT email, name, coalesce("+c.newWrote+", false) FROM people WHERE id = $1", newID))
				if strings.HasPrefix(c.name, "nullable_without") {
					want(t, "removed column of a new row", []string{"NULL"}, p.q(p.old, "SELECT legacy FROM people WHERE id = $1", newID))
				}
				if strings.HasPrefix(c.name, "default") {
					want(t, "removed column of a new row", []string{"f"}, p.q(p.old, "SELECT flag FROM people WHERE id = $1", newID))
				}

				// INSERT ... ON CONFLICT (key) DO UPDATE from both sides.
				want(t, "old upsert", []string{"7"}, p.q(p.old, "INSERT INTO people ("+oldCols+") VALUES ("+
					strings.NewReplacer("'old@x.org'", "'p7@x.org'", "'old'", "'seven-old'", "'C-old'", "'C7'").Replace(oldVals)+") ON CONFLICT (email) DO UPDATE SET "+col+" = EXCLUDED."+col+", name = EXCLUDED.name RETURNING id"))
				want(t, "new upsert", []string{"8|eight-new"}, p.q(p.new, upsertNew(col)))
				// UPDATE from both sides.
				p.exec(p.old, "UPDATE people SET "+col+" = "+c.oldWrite+", name = 'eleven-old' WHERE id = 11")
				p.exec(p.new, "UPDATE people SET name = 'twelve-new' WHERE id = 12")
				for _, v := range p.both() {
					want(t, v.name+" version: names", []string{"7|seven-old", "8|eight-new", "11|eleven-old", "12|twelve-new"},
						p.q(v.c, "SELECT id, name FROM people WHERE id IN (7, 8, 11, 12) ORDER BY id"))
				}
				want(t, "removed column, as the old version sees it", []string{"7|mine", "8|true", "11|mine", "12|true"},
					p.q(p.old, "SELECT id, CASE WHEN id IN (7, 11) THEN "+col+" ELSE coalesce("+c.newWrote+", false)::text END FROM people WHERE id IN (7, 8, 11, 12) ORDER BY id"))
				// DELETE from both sides.
				p.exec(p.old, "DELETE FROM people WHERE id = 3")
				p.exec(p.new, "DELETE FROM people WHERE id = 4")
				for _, v := range p.both() {
					want(t, v.name+" version: rows", []string{"0|250"}, p.q(v.c, "SELECT count(*) FILTER (WHERE id IN (3, 4)), count(*) FROM people"))
				}

				if path == "abort" {
					p.abort()
					want(t, "removed column after abort", []string{"7|mine", "11|mine", oldID + "|mine", "13|" + map[string]string{"code": "C13", "legacy": "L13", "flag": "x"}[col]},
						p.q(e.catalogConn(), "SELECT id, "+col+" FROM people WHERE id IN (7, 11, 13, $1) ORDER BY id = 13, id", oldID))
					return
				}
				p.complete()
				want(t, "people after complete", withoutColumn(peopleColumns(t), col), e.columns("public", "people"))
				wantIdx := []string{"people_email_key", "people_legacy_idx", "people_pkey"}
				if col == "legacy" {
					wantIdx = []string{"people_email_key", "people_pkey"}
				}
				want(t, "indexes after complete", wantIdx, p.q(e.catalogConn(), "SELECT indexname FROM pg_indexes WHERE tablename = 'people' ORDER BY 1"))
				want(t, "data after complete", []string{"7|seven-old", "8|eight-new", "11|eleven-old", "12|twelve-new", oldID + "|old", newID + "|new"},
					p.q(e.catalogConn(), "SELECT id, name FROM people WHERE id IN (7, 8, 11, 12, $1, $2) ORDER BY id", oldID, newID))
				want(t, "new-version insert after complete", []string{"1"},
					p.q(p.new, "WITH i AS ("+strings.Replace(newInsert(col), "new@x.org", "after@x.org", 1)+") SELECT count(*) FROM i"))
			})
		})
	}
}

// newInsert is the new version's INSERT ... RETURNING id: every column it
// sees that has no default.
func newInsert(removed string) string {
	cols, vals := []string{"email", "name"}, []string{"'new@x.org'", "'new'"}
	if removed != "code" {
		cols, vals = append(cols, "code"), append(vals, "'C-new'")
	}
	return "INSERT INTO people (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ") RETURNING id"
}

func upsertNew(removed string) string {
	cols, vals := []string{"email", "name"}, []string{"'p8@x.org'", "'eight-new'"}
	if removed != "code" {
		cols, vals = append(cols, "code"), append(vals, "'C8'")
	}
	return "INSERT INTO people (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") +
		") ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"
}

// A NOT NULL column without a default cannot be removed without down: rows
// the new version inserts would break the old version's NOT NULL. Start
// refuses before touching anything.
func TestLifecycleRemoveColumnNeedsDown(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "lifecycle/remove_column/needs_down")
	e := newEnv(t, tables(t, "people"))
	migs := e.migs("", fx.migrations()...)
	startFails(t, e, "", migs, "001_remove.toml", "down", `"code"`)
	want(t, "people after the refused start", peopleColumns(t), e.columns("public", "people"))
}
