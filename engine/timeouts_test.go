package engine_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/engine"
)

// TestDefaultStatementTimeoutIgnored: a database default statement_timeout
// (and idle_in_transaction_session_timeout) does not kill strata's own
// statements: a start with a backfill in large batches and a concurrent
// index build on 300,000 rows succeeds with a 50ms default, and the
// connection strata used keeps no session setting of its own.
func TestDefaultStatementTimeoutIgnored(t *testing.T) {
	e := newEnv(t, `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price text);
INSERT INTO items SELECT g, md5(g::text), g::text FROM generate_series(1, 300000) g;`)
	db := pgx.Identifier{e.db.Name}.Sanitize()
	e.db.Exec(t, `ALTER DATABASE `+db+` SET statement_timeout = '50ms'`)
	e.db.Exec(t, `ALTER DATABASE `+db+` SET idle_in_transaction_session_timeout = '50ms'`)
	m, err := engine.New(e.db.URL, engine.Options{BatchSize: 100000, BatchTarget: -1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	migs := e.migs("", "001_price.toml", connModesMigration)
	if _, err := m.Start(e.ctx, migs); err != nil {
		t.Fatalf("start with a 50ms default statement_timeout: %v", err)
	}
	if _, err := m.Complete(e.ctx); err != nil {
		t.Fatalf("complete with a 50ms default statement_timeout: %v", err)
	}
	got := queryStrings(t, e.ctx, e.db.Conn(t), `SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'items_name_idx'::regclass`)
	if len(got) != 1 || got[0] != "true" {
		t.Errorf("items_name_idx valid = %v, want [true]", got)
	}
	e.assertClean("")
}
