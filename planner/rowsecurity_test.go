package planner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/planner"
)

// olderServer answers like the server it wraps, but reports another major
// version: the planner's decisions for PostgreSQL 14 are checked on any
// server.
type olderServer struct {
	planner.TxProber
	major int
}

func (o olderServer) Catalog(ctx context.Context, schema string) (*planner.Catalog, error) {
	c, err := o.TxProber.Catalog(ctx, schema)
	if c != nil {
		c.PGMajor = o.major
	}
	return c, err
}

// TestRowSecurityNeedsSecurityInvoker: before PostgreSQL 15 a view cannot
// apply the querying role's row-level security policies, so a phase that
// would put a version view in front of a table with row security on is
// refused, naming the table, at plan time; a phase that changes only other
// tables, or that runs on PostgreSQL 15, is planned.
func TestRowSecurityNeedsSecurityInvoker(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE docs (id int PRIMARY KEY, owner text, body text);
		ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
		CREATE POLICY mine ON docs USING (owner = current_user);
		CREATE TABLE plain (id int PRIMARY KEY, body text);`)
	conn := db.Conn(t)
	ctx := context.Background()
	load := func(toml string) []*migration.Migration {
		t.Helper()
		migs, err := migration.Load(fstest.MapFS{"m/001_x.toml": {Data: []byte(toml)}}, "m")
		if err != nil {
			t.Fatal(err)
		}
		return migs
	}
	renameBody := func(table string) string {
		return `[[actions]]
type = "alter_column"
table = "` + table + `"
column = "body"
changes = { name = "text" }
`
	}
	build := func(major int, migs []*migration.Migration) error {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		_, err = planner.Build(ctx, olderServer{planner.NewTxProber(tx), major}, planner.Options{Schema: "public", StateSchema: "strata"}, migs)
		return err
	}
	err := build(14, load(renameBody("docs")))
	if err == nil || !errors.Is(err, planner.ErrInvalid) || !strings.Contains(err.Error(), `table "docs" has row-level security`) ||
		!strings.Contains(err.Error(), "001_x.toml") {
		t.Errorf("PostgreSQL 14, a view in front of docs: %v, want a refusal naming docs and the file", err)
	}
	if err := build(14, load(renameBody("plain"))); err != nil {
		t.Errorf("PostgreSQL 14, a view in front of plain only: %v", err)
	}
	if err := build(15, load(renameBody("docs"))); err != nil {
		t.Errorf("PostgreSQL 15, a security_invoker view in front of docs: %v", err)
	}
}
