package engine_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const moodSetup = `
CREATE TYPE mood AS ENUM ('ok', 'meh');
CREATE TABLE notes (id serial PRIMARY KEY, mood mood NOT NULL DEFAULT 'ok', body text);
INSERT INTO notes (mood, body) SELECT CASE WHEN g % 2 = 0 THEN 'ok'::mood ELSE 'meh' END, 'b' || g FROM generate_series(1, 100) g;`

// alter_enum on an enum in use: added values are usable by both versions
// from start on; a rename waits for complete (it would change the label
// for the old version too); abort cannot remove added values.
func TestLifecycleAlterEnum(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		e := newEnv(t, moodSetup)
		migs := e.migs("", "001_mood.toml", `
[[actions]]
type = "alter_enum"
name = "mood"
  [[actions.add]]
  value = "great"
  before = "ok"
  [[actions.add]]
  value = "awful"
  [[actions.rename]]
  from = "meh"
  to = "bad"

[[actions]]
type = "alter_column"
table = "notes"
column = "mood"
  [actions.changes]
  default = "'great'"
`)
		p := begin(t, e, "", "", migs)
		want(t, "labels during the phase", []string{"great", "ok", "meh", "awful"}, p.q(p.old, "SELECT unnest(enum_range(NULL::mood))::text"))
		p.exec(p.old, "INSERT INTO notes (mood) VALUES ('awful')")
		id := p.one(p.new, "INSERT INTO notes (body) VALUES ('new') RETURNING id")
		want(t, "new default", []string{"great"}, p.q(p.new, "SELECT mood FROM notes WHERE id = $1", id))
		want(t, "old default", []string{"ok"}, p.q(p.old, "INSERT INTO notes (body) VALUES ('old') RETURNING mood"))
		// The rename is not applied yet: both versions use the old label.
		p.exec(p.new, "INSERT INTO notes (mood) VALUES ('meh')")
		p.fails(p.new, "22P02", "INSERT INTO notes (mood) VALUES ('bad')")
		if path == "abort" {
			before := p.before
			e.abort()
			// PostgreSQL cannot remove enum values: the added ones stay,
			// and that is the only difference.
			wantSnap := strings.Replace(before, "labels='ok','meh'", "labels='great','ok','meh','awful'", 1)
			if wantSnap == before {
				t.Fatal("test bug: labels not found in the snapshot")
			}
			if diff := cmp.Diff(wantSnap, e.snapshot("public")); diff != "" {
				t.Errorf("catalog after abort (-want +got):\n%s", diff)
			}
			e.assertClean("")
			return
		}
		p.complete()
		want(t, "labels after complete", []string{"great", "ok", "bad", "awful"}, p.q(p.new, "SELECT unnest(enum_range(NULL::mood))::text"))
		want(t, "renamed rows", []string{"ok|51", "bad|51"}, p.q(p.new, "SELECT mood, count(*) FROM notes WHERE mood IN ('ok', 'bad') GROUP BY 1 ORDER BY 1"))
	})
}

// TestEnumRefusals: problems found before start.
func TestEnumRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, moodSetup+"\nCREATE FUNCTION cheer(m mood) RETURNS text LANGUAGE sql AS $$ SELECT m::text $$;\nCREATE TYPE spare AS ENUM ('x');")
	cases := []struct {
		name, toml string
		msg        []string
	}{
		{"exists", `
[[actions]]
type = "create_enum"
name = "mood"
values = ["a"]`, []string{"actions[0].name", `type named "mood" already exists`}},
		{"a table's type", `
[[actions]]
type = "create_enum"
name = "notes"
values = ["a"]`, []string{"actions[0].name", `"notes" already exists`}},
		{"value exists", `
[[actions]]
type = "alter_enum"
name = "mood"
  [[actions.add]]
  value = "ok"`, []string{"actions[0].add[0].value", `already has the value "ok"`}},
		{"no position", `
[[actions]]
type = "alter_enum"
name = "mood"
  [[actions.add]]
  value = "x"
  after = "nope"`, []string{"actions[0].add[0].after", `no value "nope"`}},
		{"rename unknown", `
[[actions]]
type = "alter_enum"
name = "mood"
  [[actions.rename]]
  from = "nope"
  to = "x"`, []string{"actions[0].rename[0].from", `no value "nope"`}},
		{"no such enum", `
[[actions]]
type = "alter_enum"
name = "feelings"
  [[actions.add]]
  value = "x"`, []string{"actions[0].name", `enum type "feelings" does not exist`}},
		{"in use", `
[[actions]]
type = "remove_enum"
enum = "mood"`, []string{"actions[0].enum", `column "mood" of table "notes"`, "function public.cheer(public.mood)"}},
		{"used by a new column", `
[[actions]]
type = "add_column"
table = "notes"
  [actions.column]
  name = "extra"
  type = "spare[]"
[[actions]]
type = "remove_enum"
enum = "spare"`, []string{"actions[1].enum", `column "extra" of table "notes"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			startFails(t, e, "", e.migs("", "001_x.toml", c.toml), c.msg...)
		})
	}
}
