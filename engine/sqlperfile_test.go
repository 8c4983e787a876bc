package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The leftover check still runs after plain files in the same session: a
// NOT VALID constraint left by the third file is an error naming it, the
// file leaves nothing and no record, and the first two stay applied.
func TestSQLFileNotValidAfterPlainFiles(t *testing.T) {
	e := newEnv(t, "")
	migs := e.migs("", loadFixture(t, "sqlfile/not_valid_after_plain").migrations()...)
	_, err := e.m.Migrate(e.ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "003_check.sql left NOT VALID constraint n_positive on public.items") {
		t.Fatalf("migrate: %v", err)
	}
	conn, err := pgx.Connect(e.ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if got := queryStrings(t, e.ctx, conn, "SELECT conname FROM pg_constraint WHERE conname = 'n_positive'"); len(got) != 0 {
		t.Fatalf("the constraint stayed: %v", got)
	}
	got := queryStrings(t, e.ctx, conn, "SELECT name || ':' || (completed_at IS NOT NULL) FROM strata.history ORDER BY name")
	if strings.Join(got, " ") != "001_t:true 002_seed:true 003_check:false" {
		t.Fatalf("history: %v", got)
	}
}

// An INVALID index of the name a CONCURRENTLY build uses, left by an
// earlier interrupted run, is dropped and the index built (without a
// look-up before the build: the build fails at once as existing).
func TestSQLFileConcurrentIndexOverStaleInvalid(t *testing.T) {
	fx := loadFixture(t, "tables/dup_emails")
	e := newEnv(t, fx.setup())
	conn, err := pgx.Connect(e.ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(e.ctx, "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)"); err == nil {
		t.Fatal("the build over a duplicate succeeded")
	}
	if got := queryStrings(t, e.ctx, conn, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"); len(got) != 1 {
		t.Fatalf("setup: INVALID indexes: %v", got)
	}
	exec(t, e.ctx, conn, "UPDATE users SET email = 'b@x' WHERE id = 2")
	migs := e.migs("", "001_idx.sql", fx.file("unique_email.sql"))
	if _, err := e.m.Migrate(e.ctx, migs); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if got := queryStrings(t, e.ctx, conn, "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'users_email_key'::regclass"); strings.Join(got, "") != "true" {
		t.Fatalf("index valid: %v", got)
	}
}
