package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// junctionMigration is the spec's canonical example: a 1:N relation moved
// into an N:M junction table (tables/junction's junction.toml).
func junctionMigration(t testing.TB) string {
	t.Helper()
	return loadFixture(t, "tables/junction").file("junction.toml")
}

// junctionConsistent checks that both versions agree: every user's old-version
// account is its first membership (in key order) in the new version, or NULL
// when it has none; and every old-version account corresponds to a membership.
func junctionConsistent(t *testing.T, ctx context.Context, oldc, newc *pgx.Conn) {
	t.Helper()
	old := queryStrings(t, ctx, oldc, `SELECT id, coalesce(account_id::text, '-'), coalesce(account_role, '-') FROM users ORDER BY id`)
	derived := queryStrings(t, ctx, newc, `SELECT u.id, coalesce(m.account_id::text, '-'), coalesce(m.role, '-') FROM users u
		LEFT JOIN LATERAL (SELECT * FROM account_users au WHERE au.user_id = u.id ORDER BY au.account_id, au.user_id LIMIT 1) m ON true
		ORDER BY u.id`)
	if diff := cmp.Diff(derived, old); diff != "" {
		t.Errorf("old version's users differ from what the new version's memberships imply (-new +old):\n%s", diff)
	}
}

func TestMultiTableJunction(t *testing.T) {
	for _, path := range []string{"complete", "abort"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, tables(t, "junction"))
			before := e.snapshot("public")
			res := e.start(e.migs("", "001_junction.toml", junctionMigration(t)))
			oldc := e.versionConn("", "public")
			newc := e.versionConn(res.VersionSchema, "public")
			ctx := e.ctx

			// The backfill filled the junction table from users.
			if got := queryStrings(t, ctx, newc, `SELECT count(*) FROM account_users`); got[0] != "300" {
				t.Fatalf("account_users has %s rows after start, want 300", got[0])
			}
			junctionConsistent(t, ctx, oldc, newc)

			// Old version: insert, move to another account, change role, delete.
			exec(t, ctx, oldc, `INSERT INTO users VALUES (1001, 'old-new', 2, 'member')`)
			exec(t, ctx, oldc, `UPDATE users SET account_id = 4 WHERE id = 1`) // was account 2
			exec(t, ctx, oldc, `UPDATE users SET account_role = 'owner' WHERE id = 3`)
			exec(t, ctx, oldc, `DELETE FROM users WHERE id = 5`)
			got := queryStrings(t, ctx, newc, `SELECT account_id, user_id, role FROM account_users WHERE user_id IN (1, 3, 5, 1001) ORDER BY user_id, account_id`)
			want := []string{"4|1|member", "4|3|owner", "2|1001|member"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("memberships after old-version writes (-want +got):\n%s", diff)
			}
			junctionConsistent(t, ctx, oldc, newc)

			// The old version's NOT NULL still holds for the old version.
			if _, err := oldc.Exec(ctx, `INSERT INTO users VALUES (1002, 'x', NULL, 'member')`); err == nil || !strings.Contains(err.Error(), "23502") {
				t.Errorf("old-version insert with a NULL account: err = %v, want a not-null violation", err)
			}

			// New version: a user and its membership in one transaction.
			tx, err := newc.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, ctx, tx.Conn(), `INSERT INTO users (id, name) VALUES (2001, 'new-new')`)
			exec(t, ctx, tx.Conn(), `INSERT INTO account_users VALUES (3, 2001, 'admin')`)
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got = queryStrings(t, ctx, oldc, `SELECT account_id, account_role FROM users WHERE id = 2001`)
			if diff := cmp.Diff([]string{"3|admin"}, got); diff != "" {
				t.Errorf("old view of a user the new version made (-want +got):\n%s", diff)
			}
			// New version: move a membership, add a second one, update and delete.
			exec(t, ctx, newc, `UPDATE account_users SET account_id = 4 WHERE user_id = 2001`)
			exec(t, ctx, newc, `INSERT INTO account_users VALUES (2, 24, 'guest')`) // user 24 is in account 5: now also 2, which comes first
			exec(t, ctx, newc, `UPDATE account_users SET role = 'boss' WHERE user_id = 7`)
			exec(t, ctx, newc, `DELETE FROM account_users WHERE user_id = 9`)
			exec(t, ctx, newc, `UPDATE users SET name = 'renamed' WHERE id = 11`)
			got = queryStrings(t, ctx, oldc, `SELECT id, coalesce(account_id::text, '-'), coalesce(account_role, '-'), name FROM users WHERE id IN (7, 9, 11, 24, 2001) ORDER BY id`)
			want = []string{"7|3|boss|u7", "9|-|-|u9", "11|2|member|renamed", "24|2|guest|u24", "2001|4|admin|new-new"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("old view after new-version writes (-want +got):\n%s", diff)
			}
			junctionConsistent(t, ctx, oldc, newc)

			if path == "complete" {
				e.complete()
				e.assertClean("")
				cols := queryStrings(t, ctx, newc, `SELECT column_name FROM information_schema.columns
					WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position`)
				if diff := cmp.Diff([]string{"id", "name"}, cols); diff != "" {
					t.Errorf("users columns after complete (-want +got):\n%s", diff)
				}
				if got := queryStrings(t, ctx, newc, `SELECT count(*) FROM account_users WHERE user_id = 2001`); got[0] != "1" {
					t.Errorf("memberships of user 2001 after complete: %v", got)
				}
				exec(t, ctx, newc, `INSERT INTO account_users VALUES (5, 2001, 'member')`)
				return
			}
			// Abort: user 9 has no membership any more, so its old-version
			// account is NULL: NOT NULL cannot be restored until it is fixed.
			if _, err := e.m.Abort(ctx); err == nil || !strings.Contains(err.Error(), "account_id") {
				t.Fatalf("abort with a NULL account left by the new version: err = %v, want a NOT NULL failure", err)
			}
			exec(t, ctx, oldc, `UPDATE users SET account_id = 1, account_role = 'member' WHERE account_id IS NULL`)
			e.abort()
			e.assertClean("")
			if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
				t.Errorf("catalog after abort differs from before start (-before +after):\n%s", diff)
			}
			got = queryStrings(t, ctx, oldc, `SELECT id, account_id, account_role FROM users WHERE id IN (1, 3, 1001, 2001) ORDER BY id`)
			want = []string{"1|4|member", "3|4|owner", "1001|2|member", "2001|4|admin"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("users after abort (-want +got):\n%s", diff)
			}
		})
	}
}
