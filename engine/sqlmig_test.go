package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// A .sql file that needs ACCESS EXCLUSIVE on a table held by an open
// transaction is retried until the blocker ends, and the application's
// queries on that table never wait longer than the lock timeout.
func TestSQLFileLockRetry(t *testing.T) {
	const lockTimeout = 200 * time.Millisecond
	fx := loadFixture(t, "sqlfile/lock_retry")
	e := newEnv(t, fx.setup(),
		func(o *engine.Options) { o.LockTimeout = lockTimeout; o.LockDeadline = time.Minute })
	migs := e.migs("", fx.migrations()...)

	blocker, err := pgx.Connect(e.ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(context.Background())
	tx, err := blocker.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, e.ctx, blocker, "SELECT * FROM items") // holds ACCESS SHARE
	_ = tx

	app, err := pgx.Connect(e.ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	var (
		mu      sync.Mutex
		maxWait time.Duration
		queries int
	)
	stop := make(chan struct{})
	appDone := make(chan struct{})
	go func() {
		defer close(appDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			_, err := app.Exec(e.ctx, "UPDATE items SET n = n + 1 WHERE id = 1")
			d := time.Since(t0)
			mu.Lock()
			if err == nil {
				queries++
			}
			maxWait = max(maxWait, d)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	done := make(chan error, 1)
	go func() { _, err := e.m.Migrate(e.ctx, migs); done <- err }()
	time.Sleep(1500 * time.Millisecond) // several lock timeouts and retries
	select {
	case err := <-done:
		t.Fatalf("migrate finished while the blocker held its lock: %v", err)
	default:
	}
	if err := tx.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("migrate: %v", err)
	}
	close(stop)
	<-appDone
	mu.Lock()
	defer mu.Unlock()
	t.Logf("app: %d updates, longest %s (lock_timeout %s)", queries, maxWait, lockTimeout)
	if queries < 10 {
		t.Fatalf("the application made only %d updates", queries)
	}
	// The slack covers scheduling on a busy machine, far below a wait for
	// the blocker (1.5s).
	if maxWait > lockTimeout+150*time.Millisecond {
		t.Fatalf("an application query waited %s, longer than the lock timeout %s", maxWait, lockTimeout)
	}
	if got := queryStrings(t, e.ctx, app, "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'"); len(got) != 1 {
		t.Fatalf("the column was not added: %v", got)
	}
}

// A CREATE INDEX CONCURRENTLY whose build fails on a duplicate leaves no
// INVALID index, names the index and the key, and succeeds once the data
// is fixed.
func TestSQLFileConcurrentIndexFails(t *testing.T) {
	fx := loadFixture(t, "tables/dup_emails")
	e := newEnv(t, fx.setup())
	migs := e.migs("", "001_idx.sql", fx.file("unique_email.sql"))
	_, err := e.m.Migrate(e.ctx, migs)
	if err == nil {
		t.Fatal("migrate succeeded over a duplicate")
	}
	for _, want := range []string{"001_idx.sql:2: statement 1", `users_email_key`, "Key (email)=(a@x) is duplicated"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	conn, err := pgx.Connect(e.ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if got := queryStrings(t, e.ctx, conn, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"); len(got) != 0 {
		t.Fatalf("INVALID indexes left: %v", got)
	}
	exec(t, e.ctx, conn, "UPDATE users SET email = 'b@x' WHERE id = 2")
	if _, err := e.m.Migrate(e.ctx, migs); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if got := queryStrings(t, e.ctx, conn, "SELECT indexname FROM pg_indexes WHERE indexname = 'users_email_key'"); len(got) != 1 {
		t.Fatalf("index not built: %v", got)
	}
}
