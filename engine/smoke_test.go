package engine_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSmokeAlterType drives one type change through start, both versions,
// and complete.
func TestSmokeAlterType(t *testing.T) {
	fx := loadFixture(t, "smoke/price")
	e := newEnv(t, fx.setup())
	migs := e.migs("", fx.migrations()...)
	res := e.start(migs)
	oldc := e.versionConn("", "public")
	newc := e.versionConn(res.VersionSchema, "public")
	exec(t, e.ctx, newc, "INSERT INTO users (name, price) VALUES ('new', 1.5)")
	exec(t, e.ctx, oldc, "INSERT INTO users (name, price) VALUES ('old', '2.25')")
	got := queryStrings(t, e.ctx, oldc, "SELECT name, price FROM users WHERE name IN ('new', 'old', 'u7') ORDER BY name")
	if diff := cmp.Diff([]string{"new|1.50", "old|2.25", "u7|7"}, got); diff != "" {
		t.Errorf("old version (-want +got):\n%s", diff)
	}
	got = queryStrings(t, e.ctx, newc, "SELECT name, price::text FROM users WHERE name IN ('new', 'old', 'u7') ORDER BY name")
	if diff := cmp.Diff([]string{"new|1.50", "old|2.25", "u7|7.00"}, got); diff != "" {
		t.Errorf("new version (-want +got):\n%s", diff)
	}
	e.complete()
	e.assertClean("")
}
