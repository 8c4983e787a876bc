package engine_test

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/engine"
)

// pricedItems is tables/priced_items: items with a text price.
func pricedItems(t testing.TB) *fixture {
	t.Helper()
	return loadFixture(t, "tables/priced_items")
}

// priceMigration exercises every kind of state write (phase with jsonb plan
// and migrations, cursors, backfill checkpoints with jsonb keys, history)
// and every kind of step (transactional DDL, a backfill with two workers, a
// concurrent index build): tables/priced_items's price_only.toml and
// name_idx.toml in one file.
func priceMigration(t testing.TB) string {
	t.Helper()
	f := pricedItems(t)
	return f.file("price_only.toml") + f.file("name_idx.toml")
}

// TestQueryExecModes: strata works whatever pgx query exec mode the user's
// URL asks for, including the two that send parameters as text
// (simple_protocol and exec), which failed with 22P02 on the jsonb state.
func TestQueryExecModes(t *testing.T) {
	for _, mode := range []string{"simple_protocol", "exec", "describe_exec", "cache_describe", "cache_statement", ""} {
		name := mode
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pricedItems(t).setup())
			u := e.db.URL
			if mode != "" {
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				q := pu.Query()
				q.Set("default_query_exec_mode", mode)
				pu.RawQuery = q.Encode()
				u = pu.String()
			}
			m, err := engine.New(u, engine.Options{BatchSize: 500, BatchTarget: -1, Workers: 2, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			migs := e.migs("", "001_price.toml", priceMigration(t))
			res, err := m.Start(e.ctx, migs)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			st, err := m.Status(e.ctx, migs)
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			if st.Phase != "started" || len(st.Backfills) != 1 || !st.Backfills[0].Done || st.Backfills[0].RowsDone != 3000 {
				t.Errorf("status = %+v, want started with one done backfill of 3000 rows", st)
			}
			newc := e.versionConn(res.VersionSchema, "public")
			got := queryStrings(t, e.ctx, newc, "SELECT count(*), sum(price)::text FROM items")
			if diff := cmp.Diff([]string{"3000|4501500.00"}, got); diff != "" {
				t.Errorf("new version (-want +got):\n%s", diff)
			}
			if _, err := m.Complete(e.ctx); err != nil {
				t.Fatalf("complete: %v", err)
			}
			got = queryStrings(t, e.ctx, e.versionConn("", "public"), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
				WHERE attrelid = 'items'::regclass AND attname = 'price'`)
			if diff := cmp.Diff([]string{"numeric(12,2)"}, got); diff != "" {
				t.Errorf("after complete (-want +got):\n%s", diff)
			}
			// A second phase, aborted, on the recorded history.
			migs = e.migs("", "001_price.toml", priceMigration(t), "002_name.toml", pricedItems(t).file("name_len.toml"))
			if _, err := m.Start(e.ctx, migs); err != nil {
				t.Fatalf("start 002: %v", err)
			}
			if _, err := m.Abort(e.ctx); err != nil {
				t.Fatalf("abort 002: %v", err)
			}
			e.assertClean("")
		})
	}
}
