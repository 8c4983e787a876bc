package engine_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// alter_enum on an enum in use: added values are usable by both versions
// from start on; a rename waits for complete (it would change the label
// for the old version too); abort cannot remove added values.
func TestLifecycleAlterEnum(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/alter_enum/in_use")
		e := newEnv(t, tables(t, "mood"))
		migs := e.migs("", fx.migrations()...)
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
			// The same migration starts again: the values abort left are
			// accepted (ADD VALUE IF NOT EXISTS), not refused as existing.
			e.start(migs)
			e.complete()
			want(t, "labels after the re-start and complete", []string{"great", "ok", "bad", "awful"},
				queryStrings(t, e.ctx, e.db.Conn(t), "SELECT unnest(enum_range(NULL::mood))::text"))
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
	fx := loadFixture(t, "refusals/enum")
	e := newEnv(t, tables(t, "mood")+fx.setup())
	for _, name := range fx.cases() {
		t.Run(name, func(t *testing.T) {
			c := fx.in(t).sub(name)
			startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
		})
	}
}
