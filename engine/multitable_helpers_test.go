package engine_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Multi-table migrations (docs/multi-table.md): the canonical case checked
// after every single write, the extract and merge cases, write conflicts
// between the versions on the same rows, lock order at complete, the
// backfill of a column taken from another table racing a write, columns
// renamed earlier in the migration, and recursion.

// --- helpers ---

// waitLockWait waits until the backend pid waits for a lock.
func waitLockWait(t *testing.T, ctx context.Context, conn *pgx.Conn, pid uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var waiting bool
		if err := conn.QueryRow(ctx, `SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1`, int32(pid)).Scan(&waiting); err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		if waiting {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("backend %d never waited for a lock", pid)
}

// lockWaitWithin reports whether backend pid waits for a lock before
// timeout; it stops early (false) when the statement on done finished,
// which is then left on done for the caller.
func lockWaitWithin(ctx context.Context, conn *pgx.Conn, pid uint32, done <-chan error, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var waiting bool
		if err := conn.QueryRow(ctx, `SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1`, int32(pid)).Scan(&waiting); err == nil && waiting {
			return true
		}
		if len(done) > 0 {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// strataWaiting reports whether one of strata's sessions waits for a lock.
func strataWaiting(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'strata%'
		AND wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n)
	return n > 0, err
}

func waitStrataLockWait(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := strataWaiting(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("strata never waited for a lock")
}

// asyncExec runs sql on conn in a goroutine; the result arrives on the channel.
func asyncExec(ctx context.Context, conn *pgx.Conn, sql string, args ...any) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, sql, args...)
		ch <- err
	}()
	return ch
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// step is one write of an app version: its statements run in one
// transaction (autocommit when there is one), and the test checks both
// versions after each statement, from inside the transaction, and after the
// commit from another connection.
type step struct {
	who   string // "old" or "new"
	sqls  []string
	code  string // SQLSTATE the (single) statement must fail with
	noMid bool   // an intermediate state of the transaction is not one the check accepts
	// then runs after the commit: reads by the other version of what was
	// written, and its expected rows.
	read, want string
}

func runSteps(t *testing.T, p *phase, steps []step, check func(conn *pgx.Conn)) {
	t.Helper()
	ctx := p.e.ctx
	for _, s := range steps {
		conn, other := p.old, p.new
		if s.who == "new" {
			conn, other = p.new, p.old
		}
		if s.code != "" {
			p.fails(conn, s.code, s.sqls[0])
			check(conn)
			continue
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sql := range s.sqls {
			if _, err := tx.Exec(ctx, sql); err != nil {
				t.Fatalf("%s version: %s: %v", s.who, sql, err)
			}
			if len(s.sqls) > 1 && !s.noMid {
				check(conn)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("%s version: commit %v: %v", s.who, s.sqls, err)
		}
		check(other)
		if s.read != "" {
			got := strings.Join(queryStrings(t, ctx, other, s.read), ", ")
			if got != s.want {
				t.Errorf("after %s version's %v, the other version reads %q, want %q", s.who, s.sqls, got, s.want)
			}
		}
	}
}

func sorted(rows []string) []string {
	out := append([]string(nil), rows...)
	sort.Strings(out)
	return out
}

// --- the canonical case, every step ---

// junctionCheck checks, on one connection (so also inside a transaction),
// that the versions agree: every user's old-version account and role are
// those of its first membership (NULL when it has none), both versions
// show the same users with the same names, and the memberships are exactly
// those the old version's columns imply plus extras, memberships the new
// version added as N:M rows ("account|user|role").
func junctionCheck(t *testing.T, ctx context.Context, conn *pgx.Conn, vs string, extras []string) {
	t.Helper()
	v := pgx.Identifier{vs}.Sanitize()
	old := queryStrings(t, ctx, conn, `SELECT id, name, coalesce(account_id::text, '-'), coalesce(account_role, '-') FROM public.users ORDER BY id`)
	derived := queryStrings(t, ctx, conn, `SELECT u.id, u.name, coalesce(m.account_id::text, '-'), coalesce(m.role, '-') FROM `+v+`.users u
		LEFT JOIN LATERAL (SELECT * FROM `+v+`.account_users au WHERE au.user_id = u.id ORDER BY au.account_id LIMIT 1) m ON true
		ORDER BY u.id`)
	if diff := cmp.Diff(derived, old); diff != "" {
		t.Errorf("old version's users differ from what the new version's users and memberships imply (-new +old):\n%s", diff)
	}
	implied := queryStrings(t, ctx, conn, `SELECT account_id || '|' || id || '|' || account_role FROM public.users WHERE account_id IS NOT NULL`)
	got := queryStrings(t, ctx, conn, `SELECT account_id || '|' || user_id || '|' || role FROM `+v+`.account_users`)
	if diff := cmp.Diff(sorted(append(implied, extras...)), sorted(got)); diff != "" {
		t.Errorf("memberships differ from what the old version's users imply plus the extras %v (-want +got):\n%s", extras, diff)
	}
}
