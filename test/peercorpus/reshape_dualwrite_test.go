package peercorpus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgquery"
)

// Dual-write tests ported from Reshape's own tests (the facts they assert:
// which rows each version sees; the code is strata's). Each runs the
// corpus's unchanged files: the first migration, its seed, then start of
// the second; between start and complete (or abort) a client of the old
// version and one of the new (search_path = <version schema>, <managed
// schema>, as docs/version-schemas.md says) write and read each other's
// rows. Complete and abort are both covered, and nothing temporary is left.

// dualCase is one ported test.
type dualCase struct {
	id string // the corpus case (testdata/reshape/<id>: tests/... or docs/...)
	// during writes through both versions and checks what each reads.
	during func(t *testing.T, old, new *client)
	// after checks the managed schema once the phase is over (completed
	// is false after abort).
	after func(t *testing.T, base *client, completed bool)
}

func TestReshapeDualWrite(t *testing.T) {
	cases := []dualCase{
		{
			// A data transform (up and down, the type stays).
			id: "tests/test_alter_column_data",
			during: func(t *testing.T, old, new *client) {
				want(t, new.rows("SELECT id, name FROM users ORDER BY id"), "1|JOHN DOE", "2|JANE DOE")
				want(t, old.rows("SELECT id, name FROM users ORDER BY id"), "1|john Doe", "2|jane Doe")
				old.exec("INSERT INTO users (id, name) VALUES (3, 'Test Testsson')")
				want(t, new.rows("SELECT name FROM users WHERE id = 3"), "TEST TESTSSON")
				new.exec("INSERT INTO users (id, name) VALUES (4, 'Some Name')")
				want(t, old.rows("SELECT name FROM users WHERE id = 4"), "some name")
			},
			after: func(t *testing.T, base *client, completed bool) {
				if completed {
					want(t, base.rows("SELECT id, name FROM users ORDER BY id"), "1|JOHN DOE", "2|JANE DOE", "3|TEST TESTSSON", "4|Some Name")
					return
				}
				want(t, base.rows("SELECT id, name FROM users ORDER BY id"), "1|john Doe", "2|jane Doe", "3|Test Testsson", "4|some name")
			},
		},
		{
			// create_table.up without where: rows follow their source row
			// by the new table's key.
			id: "docs/readme_05",
			during: func(t *testing.T, old, new *client) {
				want(t, new.rows("SELECT user_id, coalesce(user_email, 'null') FROM profiles ORDER BY 1"), "1|a@x.io", "2|b@x.io", "3|null")
				old.exec("INSERT INTO users (id, email) VALUES (4, 'd@x.io')")
				old.exec("UPDATE users SET email = 'a2@x.io' WHERE id = 1")
				old.exec("DELETE FROM users WHERE id = 2")
				want(t, new.rows("SELECT user_id, coalesce(user_email, 'null') FROM profiles ORDER BY 1"), "1|a2@x.io", "3|null", "4|d@x.io")
				old.exec("UPDATE users SET id = 5 WHERE id = 3")
				want(t, new.rows("SELECT user_id FROM profiles ORDER BY 1"), "1", "4", "5")
			},
			after: func(t *testing.T, base *client, completed bool) {
				want(t, base.rows("SELECT id, coalesce(email, 'null') FROM users ORDER BY id"), "1|a2@x.io", "4|d@x.io", "5|null")
				if completed {
					want(t, base.rows("SELECT user_id, coalesce(user_email, 'null') FROM profiles ORDER BY 1"), "1|a2@x.io", "4|d@x.io", "5|null")
					return
				}
				want(t, base.rows("SELECT count(*) FROM pg_tables WHERE tablename = 'profiles'"), "0")
			},
		},
		{
			id: "tests/test_alter_column_rename",
			during: func(t *testing.T, old, new *client) {
				want(t, new.rows("SELECT id, full_name FROM users ORDER BY id"), "1|John Doe", "2|Jane Doe")
				old.exec("INSERT INTO users (id, name) VALUES (3, 'Test Testsson')")
				want(t, new.rows("SELECT full_name FROM users WHERE id = 3"), "Test Testsson")
				new.exec("INSERT INTO users (id, full_name) VALUES (4, 'Test Testsson 2')")
				want(t, old.rows("SELECT name FROM users WHERE id = 4"), "Test Testsson 2")
				new.exec("UPDATE users SET full_name = 'Jane Roe' WHERE id = 2")
				want(t, old.rows("SELECT name FROM users WHERE id = 2"), "Jane Roe")
			},
			after: func(t *testing.T, base *client, completed bool) {
				col := "name"
				if completed {
					col = "full_name"
				}
				want(t, base.rows("SELECT id, "+col+" FROM users ORDER BY id"),
					"1|John Doe", "2|Jane Roe", "3|Test Testsson", "4|Test Testsson 2")
			},
		},
		{
			id: "tests/test_alter_column_set_nullable",
			during: func(t *testing.T, old, new *client) {
				old.exec("INSERT INTO users (id, name) VALUES (2, 'Test Testsson')")
				want(t, new.rows("SELECT name FROM users WHERE id = 2"), "Test Testsson")
				new.exec("INSERT INTO users (id, name) VALUES (3, NULL)")
				// The old version sees down's value for the new version's NULL.
				want(t, old.rows("SELECT name FROM users WHERE id = 3"), "TEST_DEFAULT_VALUE")
				want(t, new.rows("SELECT coalesce(name, 'null') FROM users WHERE id = 3"), "null")
				if err := old.tryExec("INSERT INTO users (id, name) VALUES (4, NULL)"); err == nil {
					t.Error("the old version inserted a NULL name: it is NOT NULL for it")
				}
			},
			after: func(t *testing.T, base *client, completed bool) {
				if completed {
					want(t, base.rows("SELECT id, coalesce(name, 'null') FROM users ORDER BY id"),
						"1|John Doe", "2|Test Testsson", "3|null")
					want(t, base.rows("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'"), "YES")
					return
				}
				want(t, base.rows("SELECT id, name FROM users ORDER BY id"),
					"1|John Doe", "2|Test Testsson", "3|TEST_DEFAULT_VALUE")
				want(t, base.rows("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'"), "NO")
			},
		},
		{
			id: "tests/test_extract_relation_into_new_table",
			during: func(t *testing.T, old, new *client) {
				want(t, new.rows("SELECT account_id, user_id, role FROM user_account_connections ORDER BY 1, 2"), "1|1|ADMIN")
				// The old version adds a user with its account: the new
				// version sees the connection.
				old.exec("INSERT INTO users (id, account_id, account_role) VALUES (2, 1, 'reader')")
				want(t, new.rows("SELECT account_id, user_id, role FROM user_account_connections ORDER BY 1, 2"), "1|1|ADMIN", "1|2|READER")
				// The new version adds a user, then its connection: the old
				// version sees the user with its account and role.
				new.exec("INSERT INTO users (id) VALUES (3)")
				new.exec("INSERT INTO user_account_connections (account_id, user_id, role) VALUES (1, 3, 'WRITER')")
				want(t, old.rows("SELECT id, account_id, account_role FROM users ORDER BY id"), "1|1|admin", "2|1|reader", "3|1|writer")
				// The new version changes a role; the old version moves a user.
				new.exec("UPDATE user_account_connections SET role = 'OWNER' WHERE user_id = 1")
				want(t, old.rows("SELECT account_role FROM users WHERE id = 1"), "owner")
				old.exec("INSERT INTO accounts (id) VALUES (2)")
				old.exec("UPDATE users SET account_id = 2 WHERE id = 2")
				want(t, new.rows("SELECT account_id, user_id, role FROM user_account_connections WHERE user_id = 2"), "2|2|READER")
			},
			after: func(t *testing.T, base *client, completed bool) {
				if completed {
					want(t, base.rows("SELECT account_id, user_id, role FROM user_account_connections ORDER BY 1, 2"),
						"1|1|OWNER", "1|3|WRITER", "2|2|READER")
					want(t, base.rows("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position"), "id")
					return
				}
				want(t, base.rows("SELECT id, account_id, account_role FROM users ORDER BY id"), "1|1|owner", "2|2|reader", "3|1|writer")
				want(t, base.rows("SELECT count(*) FROM pg_tables WHERE tablename = 'user_account_connections'"), "0")
			},
		},
	}
	for _, c := range cases {
		for _, complete := range []bool{true, false} {
			name := c.id + "/abort"
			if complete {
				name = c.id + "/complete"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := newRun(t, filepath.Join(corpusDir, c.id))
				seed, err := os.ReadFile(filepath.Join(r.src, "seed.sql"))
				if err != nil {
					t.Fatal(err)
				}
				setup, err := filepath.Glob(filepath.Join(r.src, "1_*.toml"))
				if err != nil || len(setup) != 1 {
					t.Fatalf("setup file: %v %v", setup, err)
				}
				second, err := filepath.Glob(filepath.Join(r.src, "2_*.toml"))
				if err != nil || len(second) != 1 {
					t.Fatalf("second file: %v %v", second, err)
				}
				if o, detail := r.prepare([]string{filepath.Base(setup[0])}, seed); o != "" {
					t.Fatalf("%s\n%s", o, detail)
				}
				before := r.dump()
				r.add(filepath.Base(second[0]))
				if out, code := r.strata("start"); code != 0 {
					t.Fatalf("start: %s", out)
				}
				out, code := r.strata("status", "--json")
				var st engine.Status
				if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.VersionSchema == "" || st.PreviousSchema == "" {
					t.Fatalf("status --json: exit %d\n%s", code, out)
				}
				old := newClient(t, r, st.PreviousSchema)
				new := newClient(t, r, st.VersionSchema)
				c.during(t, old, new)
				old.close()
				new.close()
				if complete {
					if out, code := r.strata("complete", "--watch", "0"); code != 0 {
						t.Fatalf("complete: %s", out)
					}
				} else if out, code := r.strata("abort"); code != 0 {
					t.Fatalf("abort: %s", out)
				}
				base := newClient(t, r, "public")
				defer base.close()
				c.after(t, base, complete)
				assertClean(t, base)
				// The version schemas left: the new one after complete,
				// the old one after abort.
				keep, gone := st.VersionSchema, st.PreviousSchema
				if !complete {
					keep, gone = gone, keep
				}
				want(t, base.rows("SELECT nspname FROM pg_namespace WHERE nspname IN ($1, $2) ORDER BY 1", keep, gone), keep)
				if !complete {
					if after := r.dump(); after != before {
						t.Errorf("abort did not restore the schema:\n%s", cmp.Diff(before, after))
					}
				}
			})
		}
	}
}

// client is a connection of one version: its search_path is the version
// schema, then the managed schema.
type client struct {
	t    *testing.T
	conn *pgx.Conn
}

func newClient(t *testing.T, r *run, schema string) *client {
	t.Helper()
	conn := r.db.Conn(t)
	path := pgquery.Ident(schema)
	if schema != "public" {
		path += ", public"
	}
	if _, err := conn.Exec(context.Background(), "SET search_path = "+path); err != nil {
		t.Fatal(err)
	}
	return &client{t: t, conn: conn}
}

func (c *client) close() { c.conn.Close(context.Background()) }

func (c *client) tryExec(sql string) error {
	_, err := c.conn.Exec(context.Background(), sql)
	return err
}

func (c *client) exec(sql string) {
	c.t.Helper()
	if err := c.tryExec(sql); err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
}

// rows returns the rows of a query, columns joined by "|", NULL as NULL.
func (c *client) rows(sql string, args ...any) []string {
	c.t.Helper()
	rows, err := c.conn.Query(context.Background(), sql, args...)
	if err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			c.t.Fatalf("%s: %v", sql, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func want(t *testing.T, got []string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// assertClean fails the test if anything temporary of strata's is left: a
// column, constraint or trigger named _strata*, a function in the state
// schema, a phase row or a backfill checkpoint.
func assertClean(t *testing.T, c *client) {
	t.Helper()
	checks := map[string]string{
		"temporary columns": `SELECT c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
			WHERE a.attname LIKE '\_strata%' AND NOT a.attisdropped AND a.attnum > 0`,
		"temporary constraints":         `SELECT conname FROM pg_constraint WHERE conname LIKE '\_strata%'`,
		"sync triggers":                 `SELECT tgname FROM pg_trigger WHERE tgname LIKE '\_strata%'`,
		"functions in the state schema": `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'strata'`,
		"phase rows":                    `SELECT schema_name FROM strata.phase`,
		"checkpoints":                   `SELECT step FROM strata.backfill`,
	}
	for what, q := range checks {
		if got := c.rows(q); len(got) > 0 {
			t.Errorf("left behind: %s: %v", what, got)
		}
	}
}
