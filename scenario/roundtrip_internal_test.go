package scenario

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgtest"
)

// counter counts the connections opened and the round trips: each
// statement, and each batch (its statements go together).
type counter struct {
	mu             sync.Mutex
	conns, queries int
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.queries++
	c.mu.Unlock()
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	c.queries++
	c.mu.Unlock()
	return ctx
}
func (c *counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (c *counter) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	c.mu.Lock()
	c.conns++
	c.mu.Unlock()
	return ctx
}
func (c *counter) TraceConnectEnd(context.Context, pgx.TraceConnectEndData) {}

// TestRoundTrips: the fixed cost of create, diff and drop is round trips
// and connections (docs/scenarios.md, Performance). A scenario of one table
// is made on one connection (no exported snapshot, no second connection)
// in four round trips (three while strata's state tables do not exist):
// the checks and the catalog, the checks that read the state tables, the
// scenario's statements in one pipeline, then the copy's record with the
// COMMIT and the read-back. Diff is one batch (its transaction, the
// metadata and the catalog) through pgx, plus the read of the change log
// on the connection's wire protocol (not counted here). Drop is two: the
// transaction with the scenario's record, then the drops with the COMMIT.
// None of them reads live sizes or log counts.
func TestRoundTrips(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE s (id bigint PRIMARY KEY, tenant int NOT NULL, v text);
		CREATE INDEX s_tenant ON s (tenant);
		INSERT INTO s SELECT i, i % 10, md5(i::text) FROM generate_series(1, 5000) i`)
	m, err := New(db.URL, Options{Prefix: "rt_" + db.Name[len(db.Name)-8:] + "_"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(what string, maxConns, maxQueries int, fn func() error) {
		t.Helper()
		c := &counter{}
		m.cfg.Tracer = c
		defer func() { m.cfg.Tracer = nil }()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %d connection(s), %d round trip(s)", what, c.conns, c.queries)
		if c.conns > maxConns || c.queries > maxQueries {
			t.Errorf("%s: %d connection(s) and %d round trip(s), want at most %d and %d", what, c.conns, c.queries, maxConns, maxQueries)
		}
	}
	// The first scenario installs the metadata tables.
	run("first create", 1, 3, func() error {
		_, err := m.Create(ctx, CreateSpec{Name: "a", Tables: []string{"s"}, Where: "tenant = 3"})
		return err
	})
	run("create", 1, 4, func() error {
		_, err := m.Create(ctx, CreateSpec{Name: "b", Tables: []string{"s"}, Where: "tenant = 3"})
		return err
	})
	// 50 rows changed, and one changed and changed back (no difference).
	db.Exec(t, `UPDATE "`+m.opts.Prefix+`b".s SET v = 'x' WHERE id % 100 = 3`)
	db.Exec(t, `UPDATE "`+m.opts.Prefix+`b".s SET v = v || 'y' WHERE id = 13`)
	db.Exec(t, `UPDATE "`+m.opts.Prefix+`b".s SET v = left(v, -1) WHERE id = 13`)
	run("diff", 1, 1, func() error {
		d, err := m.Diff(ctx, "b", DiffOptions{})
		if err == nil && d.Total() != 50 {
			t.Errorf("diff: %d changes, want 50", d.Total())
		}
		return err
	})
	run("drop", 1, 2, func() error {
		_, err := m.Drop(ctx, "b", false)
		return err
	})
	// A one-table create that fails half-way (the filter fails on a row)
	// leaves nothing behind: it was one transaction.
	_, err = m.Create(ctx, CreateSpec{Name: "c", Tables: []string{"s"}, Where: "10 / (id - 4000) > -100"})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("want division by zero, got %v", err)
	}
	var left int
	if err := db.Conn(t).QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = $1)
		+ (SELECT count(*) FROM strata.scenario WHERE name = 'c')`, m.opts.Prefix+"c").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("a failed create left %d object(s) behind", left)
	}
	if _, err := m.Drop(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
}
