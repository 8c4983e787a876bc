package engine_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// TestDefaultStatementTimeoutIgnored: a database default statement_timeout
// (and idle_in_transaction_session_timeout) does not kill strata's own
// statements: a start with a backfill in large batches and a concurrent
// index build on 300,000 rows succeeds with a 50ms default, and the
// connection strata used keeps no session setting of its own.
func TestDefaultStatementTimeoutIgnored(t *testing.T) {
	e := newEnv(t, loadFixture(t, "timeouts/statement_timeout").setup())
	db := pgx.Identifier{e.db.Name}.Sanitize()
	e.db.Exec(t, `ALTER DATABASE `+db+` SET statement_timeout = '50ms';
		ALTER DATABASE `+db+` SET idle_in_transaction_session_timeout = '50ms'`)
	m, err := engine.New(e.db.URL, engine.Options{BatchSize: 100000, BatchTarget: -1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	migs := e.migs("", "001_price.toml", priceMigration(t))
	if _, err := m.Start(e.ctx, migs); err != nil {
		t.Fatalf("start with a 50ms default statement_timeout: %v", err)
	}
	if _, err := m.Complete(e.ctx); err != nil {
		t.Fatalf("complete with a 50ms default statement_timeout: %v", err)
	}
	// The test's own checks below open new connections: without the 50ms
	// default, which on a loaded machine cancels their catalog queries
	// (the checks, not strata, then failed).
	e.db.Exec(t, `SET statement_timeout = 0; ALTER DATABASE `+db+` RESET statement_timeout;
		ALTER DATABASE `+db+` RESET idle_in_transaction_session_timeout`)
	got := queryStrings(t, e.ctx, e.db.Conn(t), `SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'items_name_idx'::regclass`)
	if len(got) != 1 || got[0] != "true" {
		t.Errorf("items_name_idx valid = %v, want [true]", got)
	}
	e.assertClean("")
}

// TestOneConnectionRefusedClearly: strata needs two connections (lock and
// work); a role limited to one gets an error saying so, and nothing changed.
func TestOneConnectionRefusedClearly(t *testing.T) {
	e := newEnv(t, pricedItems(t).setup())
	role := "one_" + e.db.Name[len(e.db.Name)-8:]
	// CONNECTION LIMIT does not apply to superusers.
	e.db.Exec(t, `CREATE ROLE `+role+` LOGIN CONNECTION LIMIT 1`)
	t.Cleanup(func() { e.db.Exec(t, `DROP OWNED BY `+role+`; DROP ROLE `+role) })
	u, err := url.Parse(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	m, err := engine.New(u.String(), engine.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	_, err = m.Start(e.ctx, e.migs("", "001_price.toml", priceMigration(t)))
	if err == nil || !strings.Contains(err.Error(), "strata needs two connections") || !strings.Contains(err.Error(), "hint: raise the role's or database's CONNECTION LIMIT") {
		t.Fatalf("start with a one-connection role: err = %v, want the two-connections error with its hint", err)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("the refused start changed the database")
	}
}
