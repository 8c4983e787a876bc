package pgexec_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgexec"
)

func TestRetryPermanentAndOnRetry(t *testing.T) {
	r := &pgexec.Runner{Deadline: time.Minute}
	lock := &pgconn.PgError{Code: "55P03", Message: "lock timeout"}
	calls, retries := 0, 0
	err := r.Retry(context.Background(), func() error {
		calls++
		if calls < 3 {
			return lock
		}
		return pgexec.Permanent(lock)
	}, func(int, time.Duration, error) { retries++ })
	if err != lock || calls != 3 || retries != 2 {
		t.Fatalf("Retry = %v after %d calls, %d retries; want the unwrapped error after 3 calls, 2 retries", err, calls, retries)
	}
	err = r.Retry(context.Background(), func() error { return errors.New("no") }, nil)
	if err == nil || err.Error() != "no" {
		t.Fatalf("Retry = %v, want the non-retryable error", err)
	}
}
