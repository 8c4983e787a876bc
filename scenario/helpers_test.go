package scenario_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/scenario"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is one test's database, strata's manager and the application's
// login role (neither superuser nor owner).
type env struct {
	db     *pgtest.DB
	m      *scenario.Manager
	app    string // the application's login role
	prefix string // scenario prefix, unique to the test (roles are cluster-wide)
}

// setup makes a database with schema sql and an application role set up as
// docs/scenarios.md tells a user.
func setup(t *testing.T, schema string, opts scenario.Options) *env {
	t.Helper()
	db := pgtest.New(t)
	db.Exec(t, schema)
	suffix := db.Name[len(db.Name)-8:]
	e := &env{db: db, app: "app_" + suffix, prefix: "scn_" + suffix + "_"}
	app := pgx.Identifier{e.app}.Sanitize()
	db.Exec(t, `CREATE ROLE `+app+` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'app';
		GRANT USAGE ON SCHEMA public TO `+app+`;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+app+`;
		GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO `+app+`;
		ALTER ROLE `+app+` IN DATABASE `+pgx.Identifier{db.Name}.Sanitize()+` SET search_path = "$user", public`)
	opts.Prefix = e.prefix
	m, err := scenario.New(db.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(func() {
		ctx := context.Background()
		if all, err := m.List(ctx); err == nil {
			for _, s := range all {
				if _, err := m.Drop(ctx, s.Name, true); err != nil {
					t.Logf("drop %s: %v", s.Name, err)
				}
			}
		}
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP OWNED BY "+app)
		conn.Exec(ctx, "DROP ROLE "+app)
		// Roles a failed test left behind.
		rows, _ := conn.Query(ctx, "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", e.prefix+"%")
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			conn.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{n}.Sanitize())
			conn.Exec(ctx, "DROP ROLE "+pgx.Identifier{n}.Sanitize())
		}
	})
	return e
}

// appConn connects as the application role.
func (e *env) appConn(t *testing.T) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = e.app, "app"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("the application role must not be a superuser (%v)", err)
	}
	return conn
}

func (e *env) role(name string) string { return pgx.Identifier{e.prefix + name}.Sanitize() }

func one[T any](t *testing.T, conn *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// denied runs sql and checks that it fails with insufficient_privilege.
func denied(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("%s: want a permission error, got %v", sql, err)
	}
}

// inputErr checks err is an InputError naming flag.
func inputErr(t *testing.T, err error, flag, contains string) {
	t.Helper()
	var ie *scenario.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("want an InputError for %s, got %v", flag, err)
	}
	if ie.Flag != flag || !strings.Contains(err.Error(), contains) || !strings.Contains(err.Error(), "hint: ") && ie.Hint != "" {
		t.Fatalf("want an error naming %s with %q, got %q (flag %s)", flag, contains, err, ie.Flag)
	}
}

// catalogState is the catalog of every schema plus the test's roles (its
// scenario prefix's and the application's) with their members and the roles
// they are members of: what a refused command must leave as it was. Roles
// are cluster-wide: other tests, of this package and of others running at
// the same time, make and drop their own, which this leaves out.
func (e *env) catalogState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn := e.db.Conn(t)
	snap, err := pgtest.Snapshot(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	roles := one[string](t, conn, `SELECT coalesce(string_agg(r.rolname
			|| ':' || coalesce((SELECT string_agg(m.rolname, ',' ORDER BY m.rolname)
				FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member WHERE a.roleid = r.oid), '')
			|| ':' || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname)
				FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid WHERE a.member = r.oid), ''),
			' ' ORDER BY r.rolname), '')
		FROM pg_roles r WHERE left(r.rolname, length($1)) = $1 OR r.rolname = $2`, e.prefix, e.app)
	return snap + "\nroles: " + roles
}

const shopSchema = `
CREATE TABLE tenants (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE customers (id bigserial PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants, name text NOT NULL);
CREATE TABLE orders (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants,
	customer_id bigint REFERENCES customers, total numeric(12,2) NOT NULL CHECK (total >= 0), note text, created timestamptz NOT NULL DEFAULT now());
CREATE INDEX orders_tenant ON orders (tenant_id);
CREATE TABLE prices (sku text PRIMARY KEY, price numeric NOT NULL);
INSERT INTO tenants VALUES (1, 'one'), (2, 'two');
INSERT INTO customers (tenant_id, name) SELECT 1 + i % 2, 'c' || i FROM generate_series(1, 10) i;
INSERT INTO orders (tenant_id, customer_id, total) SELECT c.tenant_id, c.id, c.id * 10 FROM customers c;
INSERT INTO prices VALUES ('a', 1), ('b', 2);
`
