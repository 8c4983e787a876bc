package pgbouncer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgbouncer"
	"github.com/stratapg/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestTransactionMode checks the pooler facts docs/poolers.md states: in
// transaction mode a session SET stays on the server connection for the
// next client, SET LOCAL does not, and the options connection parameter is
// refused.
func TestTransactionMode(t *testing.T) {
	db := pgtest.New(t)
	b := pgbouncer.ForTest(t, pgtest.ServerURL(t), pgbouncer.Options{PoolSize: 1, Users: map[string]string{"postgres": ""}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := b.URL("postgres", db.Name) + "&default_query_exec_mode=exec"
	_, err := pgx.Connect(ctx, u+"&options=-c%20search_path%3Dx")
	if err == nil || !strings.Contains(err.Error(), "unsupported startup parameter: options") {
		t.Errorf("connect with options=-c search_path=x: err = %v, want pgbouncer's refusal", err)
	}
	a, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	show := func() string {
		var s string
		if err := c.QueryRow(ctx, "SHOW search_path").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := pgx.BeginFunc(ctx, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "SET LOCAL search_path = local_only")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := show(); got == "local_only" {
		t.Errorf("SET LOCAL reached another client: search_path %q", got)
	}
	if _, err := a.Exec(ctx, "SET search_path = leaked"); err != nil {
		t.Fatal(err)
	}
	if got := show(); got != "leaked" {
		t.Errorf("another client's search_path = %q; want the leaked session SET (pool of one server connection)", got)
	}
}
