package engine_test

import (
	"testing"

	"github.com/stratapg/strata/engine"
)

// Mixed-case, reserved-word and space-containing identifiers end to end: a
// managed schema "App Data", a table "Order" with columns "select" and
// "Group"; the migration adds "user" computed from "select", renames and
// retypes "Group" to "Team Name", and renames "Order" to "Sales Order".
func TestLifecycleQuotedIdentifiers(t *testing.T) {
	const schema = "App Data"
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/quoting/app_data")
		e := newEnv(t, fx.setup(), func(o *engine.Options) { o.Schema = schema })
		migs := e.migs(schema, fx.migrations()...)
		p := begin(t, e, schema, "", migs)
		vs := p.res.VersionSchema
		if vs != "App Data_001_quoting" {
			t.Fatalf("version schema %q", vs)
		}
		want(t, "new version's view", []string{
			`id integer default nextval('"App Data"."Order_id_seq"'::regclass)`,
			"select text",
			"Team Name text",
			"note text",
			"user text comment 'who''s it'",
		}, e.columns(vs, "Sales Order"))
		want(t, "existing rows, new version", []string{"7|s7|g7|S7", "50|s50|NULL|S50"},
			p.q(p.new, `SELECT id, "select", "Team Name", "user" FROM "Sales Order" WHERE id IN (7, 50) ORDER BY id`))

		// INSERT ... RETURNING from both sides.
		oldID := p.one(p.old, `INSERT INTO "Order" ("select", "Group") VALUES ('abc', 5) RETURNING id`)
		want(t, "old row, new version", []string{"abc|g5|ABC"},
			p.q(p.new, `SELECT "select", "Team Name", "user" FROM "Sales Order" WHERE id = $1`, oldID))
		newID := p.one(p.new, `INSERT INTO "Sales Order" ("select", "Team Name", "user") VALUES ('xyz', 'g42', 'U') RETURNING id`)
		want(t, "new row, old version", []string{"xyz|42"}, p.q(p.old, `SELECT "select", "Group" FROM "Order" WHERE id = $1`, newID))
		// ON CONFLICT on the key from both sides.
		want(t, "old upsert", []string{"8|s8-old|9"}, p.q(p.old, `INSERT INTO "Order" (id, "select", "Group") VALUES (8, 's8-old', 9)
			ON CONFLICT (id) DO UPDATE SET "select" = EXCLUDED."select", "Group" = EXCLUDED."Group" RETURNING id, "select", "Group"`))
		want(t, "old upsert, new version", []string{"s8-old|g9|S8-OLD"}, p.q(p.new, `SELECT "select", "Team Name", "user" FROM "Sales Order" WHERE id = 8`))
		want(t, "new upsert", []string{"9|s9-new|g77|V"}, p.q(p.new, `INSERT INTO "Sales Order" (id, "select", "Team Name", "user") VALUES (9, 's9-new', 'g77', 'V')
			ON CONFLICT (id) DO UPDATE SET "select" = EXCLUDED."select", "Team Name" = EXCLUDED."Team Name", "user" = EXCLUDED."user"
			RETURNING id, "select", "Team Name", "user"`))
		want(t, "new upsert, old version", []string{"s9-new|77"}, p.q(p.old, `SELECT "select", "Group" FROM "Order" WHERE id = 9`))
		// UPDATE and DELETE from both sides.
		p.exec(p.old, `UPDATE "Order" SET "Group" = NULL WHERE id = 10`)
		p.exec(p.new, `UPDATE "Sales Order" SET "Team Name" = 'g1000' WHERE id = 11`)
		p.exec(p.old, `DELETE FROM "Order" WHERE id = 3`)
		p.exec(p.new, `DELETE FROM "Sales Order" WHERE id = 4`)
		want(t, "rows, old version", []string{"10|NULL", "11|1000"},
			p.q(p.old, `SELECT id, "Group" FROM "Order" WHERE id IN (3, 4, 10, 11) ORDER BY id`))
		want(t, "rows, new version", []string{"10|NULL", "11|g1000"},
			p.q(p.new, `SELECT id, "Team Name" FROM "Sales Order" WHERE id IN (3, 4, 10, 11) ORDER BY id`))

		if path == "abort" {
			p.abort()
			want(t, "rows after abort", []string{"8|s8-old|9", "9|s9-new|77", "10|s10|NULL", oldID + "|abc|5", newID + "|xyz|42"},
				p.q(e.catalogConn(), `SELECT id, "select", "Group" FROM "App Data"."Order" WHERE id IN (3, 8, 9, 10, $1, $2) ORDER BY id`, oldID, newID))
			return
		}
		p.complete()
		want(t, "relations after complete", []string{"Sales Order r"}, e.relations(schema))
		want(t, "table after complete", []string{
			`id integer not null default nextval('"App Data"."Order_id_seq"'::regclass)`,
			"select text not null",
			"note text",
			"user text not null comment 'who''s it'",
			"Team Name text",
		}, e.columns(schema, "Sales Order"))
		want(t, "rows after complete", []string{"8|s8-old|g9|S8-OLD", "9|s9-new|g77|V", "10|s10|NULL|S10", "11|s11|g1000|S11",
			oldID + "|abc|g5|ABC", newID + "|xyz|g42|U"},
			p.q(e.catalogConn(), `SELECT id, "select", "Team Name", "user" FROM "App Data"."Sales Order" WHERE id IN (3, 8, 9, 10, 11, $1, $2) ORDER BY id`, oldID, newID))
		want(t, "new-version insert after complete", []string{"q|g1|Q"},
			p.q(p.new, `INSERT INTO "Sales Order" ("select", "Team Name", "user") VALUES ('q', 'g1', 'Q') RETURNING "select", "Team Name", "user"`))
	})
}
