package engine_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExpressionNamesComeFromTheirVersion: an `up` may name a column as the
// old version does even when an earlier action of the same migration renamed
// it, and may also use the name the earlier action produced; a `down` names
// columns as the new version does.
func TestExpressionNamesComeFromTheirVersion(t *testing.T) {
	for _, up := range []string{"score::integer", "points::integer"} {
		t.Run(up, func(t *testing.T) {
			fx := loadFixture(t, "scope/players")
			e := newEnv(t, fx.setup())
			migs := e.migs("", "001_points.toml", strings.ReplaceAll(fx.file("migrations/001_points.toml"), "{up}", up))
			res := e.start(migs)
			oldc := e.versionConn("", "public")
			newc := e.versionConn(res.VersionSchema, "public")
			exec(t, e.ctx, oldc, "INSERT INTO players VALUES (100, '7')")
			exec(t, e.ctx, newc, "INSERT INTO players VALUES (101, 8)")
			got := queryStrings(t, e.ctx, newc, "SELECT id, points FROM players WHERE id IN (3, 100, 101) ORDER BY id")
			if diff := cmp.Diff([]string{"3|30", "100|7", "101|8"}, got); diff != "" {
				t.Errorf("new version (-want +got):\n%s", diff)
			}
			got = queryStrings(t, e.ctx, oldc, "SELECT id, score FROM players WHERE id IN (3, 100, 101) ORDER BY id")
			if diff := cmp.Diff([]string{"3|30", "100|7", "101|8"}, got); diff != "" {
				t.Errorf("old version (-want +got):\n%s", diff)
			}
			e.complete()
			e.assertClean("")
		})
	}
}
