package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
)

// TestIndexBuildsDoNotWaitForTheLock: the lock connection's keepalive query
// runs inside the lock's open transaction; a CREATE INDEX CONCURRENTLY that
// lists the old snapshots while that query runs waits for the transaction's
// end, which comes only when strata is done. With the keepalive pinging
// all the time, eight builds still finish well within the lock deadline.
func TestIndexBuildsDoNotWaitForTheLock(t *testing.T) {
	defer engine.SetKeepaliveEvery(time.Millisecond)()
	fx := loadFixture(t, "index/many_builds")
	e := newEnv(t, tables(t, "docs"), func(o *engine.Options) { o.LockDeadline = 20 * time.Second })
	migs := e.migs("", fx.migrations()...)
	// Short transactions that take xids all the time: the keepalive's
	// snapshots are then older than a build's reference snapshot.
	churn, err := pgx.Connect(e.ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer churn.Close(context.Background())
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _ = churn.Exec(ctx, "SELECT txid_current()")
		}
	}()
	begun := time.Now()
	_, err = e.m.Start(e.ctx, migs)
	stop()
	<-done
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if d := time.Since(begun); d > 15*time.Second {
		t.Errorf("start took %s: a build waited for strata's own lock transaction", d)
	}
	want(t, "invalid indexes", nil, e.invalidIndexes())
	if _, err := e.m.Abort(e.ctx); err != nil {
		t.Fatal(err)
	}
}
