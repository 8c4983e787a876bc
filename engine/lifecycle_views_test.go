package engine_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgtest"
)

// TestLifecycleViews checks the views of a version schema: their columns
// are in the table's column order (with a dropped column, a renamed column
// and an added one), they carry the defaults (a serial id among them) so that
// INSERT through a view without those columns gets them, identity and
// generated columns work through them, and on PostgreSQL 15+ they are
// security_invoker views: the querying role's privileges on the table count.
func TestLifecycleViews(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "lifecycle/views/column_order")
	e := newEnv(t, fx.setup())
	migs := e.migs("", fx.migrations()...)
	p := begin(t, e, "", "", migs)
	vs := p.res.VersionSchema

	want(t, "table's columns", []string{"id", "b", "a", "c", "ident", "g", "d"}, e.columnNames("public", "t"))
	want(t, "view's columns, in the table's order", []string{"id", "bb", "a", "c", "ident", "g", "d"}, e.columnNames(vs, "t"))
	want(t, "view's columns", fx.lines("want/view_columns"), e.columns(vs, "t"))

	// INSERT through the view gets the defaults, the serial, the identity
	// and the generated column.
	want(t, "new-version insert of defaults", []string{"251|bee|7|ocean|251|14|dee"},
		p.q(p.new, "INSERT INTO t DEFAULT VALUES RETURNING id, bb, a, c, ident, g, d"))
	want(t, "new-version insert of some columns", []string{"252|x|3|ocean|252|6|dee"},
		p.q(p.new, "INSERT INTO t (bb, a) VALUES ('x', 3) RETURNING id, bb, a, c, ident, g, d"))
	want(t, "new-version insert of DEFAULT", []string{"253|bee|7|ocean|dee"},
		p.q(p.new, "INSERT INTO t (bb, a, c, d) VALUES (DEFAULT, DEFAULT, DEFAULT, DEFAULT) RETURNING id, bb, a, c, d"))
	// The old version gets the table's defaults.
	want(t, "old-version insert of defaults", []string{"254|bee|7|sea|254|14|dee"},
		p.q(p.old, "INSERT INTO t DEFAULT VALUES RETURNING id, b, a, c, ident, g, d"))

	if pgtest.ServerMajor(t) >= 15 {
		want(t, "view options", []string{"{security_invoker=true}"},
			p.q(e.catalogConn(), "SELECT reloptions::text FROM pg_class WHERE oid = $1::regclass", vs+".t"))
		// A role that may read the view but not the table cannot read
		// through the view.
		role := pgx.Identifier{e.db.Name + "_reader"}.Sanitize()
		admin := e.catalogConn()
		exec(t, e.ctx, admin, "CREATE ROLE "+role+" NOLOGIN")
		t.Cleanup(func() {
			ctx := context.Background()
			admin.Exec(ctx, "RESET ROLE")
			admin.Exec(ctx, "DROP OWNED BY "+role)
			if _, err := admin.Exec(ctx, "DROP ROLE "+role); err != nil {
				t.Errorf("drop role %s: %v", role, err)
			}
		})
		exec(t, e.ctx, admin, "GRANT USAGE ON SCHEMA "+pgx.Identifier{vs}.Sanitize()+" TO "+role)
		exec(t, e.ctx, admin, "GRANT SELECT ON "+pgx.Identifier{vs, "t"}.Sanitize()+" TO "+role)
		exec(t, e.ctx, admin, "SET ROLE "+role)
		expectCode(t, admin, e, "42501", "SELECT count(*) FROM "+pgx.Identifier{vs, "t"}.Sanitize())
		exec(t, e.ctx, admin, "RESET ROLE")
		exec(t, e.ctx, admin, "GRANT SELECT ON public.t TO "+role)
		exec(t, e.ctx, admin, "SET ROLE "+role)
		want(t, "reading through the view with the table's privilege", []string{"254"},
			p.q(admin, "SELECT count(*) FROM "+pgx.Identifier{vs, "t"}.Sanitize()))
		exec(t, e.ctx, admin, "RESET ROLE")
		exec(t, e.ctx, admin, "DROP OWNED BY "+role)
	}

	p.complete()
	want(t, "t after complete", fx.lines("want/columns"), e.columns("public", "t"))
	want(t, "new-version insert after complete", []string{"255|bee|ocean|dee"},
		p.q(p.new, "INSERT INTO t DEFAULT VALUES RETURNING id, bb, c, d"))
}
