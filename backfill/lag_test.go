package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgtest"
)

// startWALReceiver streams the test cluster's WAL with pg_receivewal, a real
// physical replication client: the server lists it in pg_stat_replication
// like a standby. It is stopped when the test ends.
func startWALReceiver(t *testing.T, admin *pgx.Conn) {
	t.Helper()
	bin := pgtest.ClientBinary(t, "pg_receivewal")
	cfg := admin.Config()
	connStr := fmt.Sprintf("host=%s port=%d user=%s", cfg.Host, cfg.Port, cfg.User)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-d", connStr, "-D", t.TempDir(), "--no-loop", "-s", "1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("pg_receivewal: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		// Wait for the server to forget it, for the tests that follow.
		wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer wcancel()
		for wctx.Err() == nil {
			var n int
			if admin.QueryRow(wctx, `SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`).Scan(&n) == nil && n == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_receivewal not streaming after 30s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicationLagHiddenFromRole: a login role without pg_monitor sees a
// streaming standby in pg_stat_replication with NULL state and lag. A
// backfill with MaxReplicationLag as that role must refuse, naming
// pg_monitor, and change no row; once the role has pg_monitor it runs.
func TestReplicationLagHiddenFromRole(t *testing.T) {
	f := newFixture(t, itemsDDL)
	role := "lag_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))[:20] + fmt.Sprint(time.Now().UnixNano()%100000)
	f.db.Exec(t, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN;
		ALTER TABLE items OWNER TO %[1]s;
		GRANT USAGE ON SCHEMA strata TO %[1]s;
		GRANT ALL ON ALL TABLES IN SCHEMA strata TO %[1]s;
		GRANT ALL ON ALL SEQUENCES IN SCHEMA strata TO %[1]s;`, role))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, pgtest.ServerURL(t))
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(ctx)
		// The test database (and what the role owns in it) is dropped
		// after this cleanup: reassign first so the role can go.
		if _, err := f.conn.Exec(ctx, fmt.Sprintf("REASSIGN OWNED BY %[1]s TO CURRENT_USER; DROP OWNED BY %[1]s", role)); err != nil {
			t.Error(err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Error(err)
		}
	})
	startWALReceiver(t, f.conn)

	cfg, err := pgx.ParseConfig(f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	conn, err := pgx.ConnectConfig(f.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// The premise: the standby is listed, its state and lag hidden.
	var rows, hidden int
	if err := conn.QueryRow(f.ctx, `SELECT count(*), count(*) FILTER (WHERE state IS NULL AND replay_lag IS NULL AND write_lag IS NULL)
		FROM pg_stat_replication`).Scan(&rows, &hidden); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || hidden != rows {
		t.Fatalf("as %s: %d rows in pg_stat_replication, %d with NULL state and lag; want all hidden", role, rows, hidden)
	}

	f.r.MaxReplicationLag = time.Hour
	f.r.Connect = func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) }
	err = f.r.Run(f.ctx, conn, "bf", items)
	if !errors.Is(err, backfill.ErrLagHidden) {
		t.Fatalf("Run as a role without pg_monitor: err = %v, want ErrLagHidden", err)
	}
	for _, want := range []string{`role "` + role + `"`, "GRANT pg_monitor TO", "hint:", "--max-replication-lag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS NOT NULL`); n != 0 {
		t.Errorf("%d rows filled by a backfill that refused to run", n)
	}

	// With pg_monitor the lag is visible and the backfill runs.
	f.db.Exec(t, "GRANT pg_monitor TO "+role)
	if err := f.r.Run(f.ctx, conn, "bf", items); err != nil {
		t.Fatalf("Run with pg_monitor: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM items WHERE x IS DISTINCT FROM id * 2`); n != 0 {
		t.Errorf("%d rows not filled", n)
	}
}
