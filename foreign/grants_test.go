package foreign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// asRole runs sql as role (SET ROLE in a superuser session) and returns its
// first value, or the error.
func asRole(t *testing.T, url, role, sql string) (string, error) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "SET ROLE "+role); err != nil {
		t.Fatal(err)
	}
	var s string
	err = conn.QueryRow(context.Background(), sql).Scan(&s)
	return s, err
}

// TestColumnGrantsAndComments: a reporting role with column-level SELECT
// grants on the imported foreign tables keeps them across a sync that
// changes the tables (it still reads its columns, and still not the
// others); a grant on a column the remote table dropped is reported; the
// comments on the foreign tables and their columns survive.
func TestColumnGrantsAndComments(t *testing.T) {
	f := setup(t)
	f.sync(t)
	reader, _ := role(t, f.repURL, "")
	t.Cleanup(func() { exec(t, f.repURL, "DROP OWNED BY "+reader) })
	// The reader's own user mapping (password_required off: the test
	// cluster trusts local connections, so no password is asked for).
	exec(t, f.repURL, fmt.Sprintf(`GRANT USAGE ON SCHEMA app TO %[1]s;
GRANT USAGE ON FOREIGN SERVER app TO %[1]s;
CREATE USER MAPPING FOR %[1]s SERVER app OPTIONS (user '%[2]s', password '%[3]s', password_required 'false');
GRANT SELECT (id, total) ON app.orders TO %[1]s;
GRANT SELECT (id, name) ON app.customers TO %[1]s WITH GRANT OPTION;
COMMENT ON FOREIGN TABLE app.orders IS 'orders, one row per checkout';
COMMENT ON COLUMN app.orders.total IS 'gross, in EUR';
COMMENT ON COLUMN app.customers.name IS 'display name'`, reader, f.role, f.password))

	check := func(when string) {
		t.Helper()
		if got, err := asRole(t, f.repURL, reader, "SELECT sum(total)::text FROM app.orders"); err != nil || got != "24500.00" {
			t.Errorf("%s: the reader reads orders.total: %q, %v", when, got, err)
		}
		if _, err := asRole(t, f.repURL, reader, "SELECT count(customer_id) FROM app.orders"); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s: the reader reads orders.customer_id (no grant): %v", when, err)
		}
		if got := one(t, f.repURL, "SELECT coalesce(obj_description('app.orders'::regclass, 'pg_class'), '-') || '/' || coalesce(col_description('app.orders'::regclass, 3), '-')"); got != "orders, one row per checkout/gross, in EUR" {
			t.Errorf("%s: comments on app.orders: %s", when, got)
		}
	}
	check("before")
	exec(t, f.appURL, "ALTER TABLE orders ADD COLUMN note text; ALTER TABLE customers DROP COLUMN name")
	res := f.sync(t)
	check("after")
	if _, err := asRole(t, f.repURL, reader, "SELECT count(note) FROM app.orders"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the reader reads the new column orders.note: %v", err)
	}
	if got, err := asRole(t, f.repURL, reader, "SELECT count(id)::text FROM app.customers"); err != nil || got != "100" {
		t.Errorf("the reader reads customers.id: %q, %v", got, err)
	}
	if got := one(t, f.repURL, fmt.Sprintf("SELECT has_column_privilege('%s', 'app.customers', 'id', 'SELECT WITH GRANT OPTION')::text", reader)); got != "true" {
		t.Errorf("the grant option on customers.id was lost")
	}
	var dropped []string
	for _, c := range res.Changes {
		if c.Kind == "grant dropped" {
			dropped = append(dropped, c.String())
		}
	}
	want := fmt.Sprintf("grant dropped customers.name: SELECT TO %s WITH GRANT OPTION (the column is gone)", reader)
	if len(dropped) != 1 || dropped[0] != want {
		t.Errorf("dropped grants reported: %q, want %q (changes %+v)", dropped, want, res.Changes)
	}
	// A second sync changes nothing.
	if res := f.sync(t); res.Changed {
		t.Errorf("second sync changed: %+v", res)
	}
	check("after the second sync")
}
