package planreport_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/internal/planreport"
	"github.com/stratapg/strata/lint"
	"github.com/stratapg/strata/migration"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) { pgtest.Main(m) }

const setup = `CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text, price text,
	status text DEFAULT 'active', legacy int NOT NULL DEFAULT 0);
CREATE TABLE teams (id int PRIMARY KEY, title text);`

// Each case is one action type; the golden file holds the annotated plan.
var cases = map[string]string{
	"create_table": `
[[actions]]
type = "create_table"
name = "accounts"
primary_key = ["id"]
  [[actions.columns]]
  name = "id"
  type = "bigint"
  generated = "ALWAYS AS IDENTITY"
  [[actions.columns]]
  name = "owner_id"
  type = "bigint"
  nullable = false
  [[actions.foreign_keys]]
  name = "accounts_owner_fk"
  columns = ["owner_id"]
  referenced_table = "users"
  referenced_columns = ["id"]
`,
	"add_column": `
[[actions]]
type = "add_column"
table = "users"
up = "lower(email)"
  [actions.column]
  name = "email_lower"
  type = "text"
  nullable = false
`,
	"add_column_volatile_default": `
[[actions]]
type = "add_column"
table = "users"
  [actions.column]
  name = "token"
  type = "uuid"
  default = "gen_random_uuid()"
`,
	"add_column_identity": `
[[actions]]
type = "add_column"
table = "users"
  [actions.column]
  name = "member_no"
  type = "bigint"
  generated = "ALWAYS AS IDENTITY"
`,
	"alter_column_type": `
[[actions]]
type = "alter_column"
table = "users"
column = "price"
up = "price::numeric"
down = "price::text"
  [actions.changes]
  type = "numeric(12,2)"
`,
	"alter_column_not_null": `
[[actions]]
type = "alter_column"
table = "users"
column = "email"
up = "coalesce(email, 'unknown')"
  [actions.changes]
  nullable = false
`,
	"alter_column_rename_default_comment": `
[[actions]]
type = "alter_column"
table = "users"
column = "status"
  [actions.changes]
  name = "state"
  default = "'new'"
  comment = "lifecycle state"
`,
	"remove_column": `
[[actions]]
type = "remove_column"
table = "users"
column = "legacy"
down = "0"
`,
	"rename_table": `
[[actions]]
type = "rename_table"
table = "teams"
new_name = "groups"
`,
	"remove_table": `
[[actions]]
type = "remove_table"
table = "teams"
`,
	"custom": `
[[actions]]
type = "custom"
start = "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name)"
abort = "DROP INDEX CONCURRENTLY IF EXISTS users_name_idx"
`,
	"custom_unsafe": `
[[actions]]
type = "custom"
start = "ALTER TABLE users ADD CONSTRAINT price_set CHECK (price <> '')"
abort = "ALTER TABLE users DROP CONSTRAINT IF EXISTS price_set"
`,
}

// extraSetup is more schema for the cases that need it (indexes,
// constraints and enums to remove, dependents to carry).
const extraSetup = `CREATE TYPE mood AS ENUM ('ok', 'meh');
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id), amount text UNIQUE,
	code text, feeling mood, CONSTRAINT orders_amount_check CHECK (amount IS NOT NULL OR code IS NOT NULL));
CREATE INDEX orders_amount_idx ON orders (amount) WHERE amount IS NOT NULL;`

// extraCases use setup and extraSetup.
var extraCases = map[string]string{
	"add_unique": `
[[actions]]
type = "add_unique"
table = "orders"
unique = { name = "orders_code_key", columns = ["code"], include = ["user_id"], deferrable = true }
`,
	"rename_constraint": `
[[actions]]
type = "rename_constraint"
table = "orders"
constraint = "orders_amount_key"
new_name = "orders_amount_unique"
`,
	"remove_constraint": `
[[actions]]
type = "remove_constraint"
table = "orders"
constraint = "orders_amount_key"
`,
	"set_replica_identity": `
[[actions]]
type = "set_replica_identity"
table = "orders"
identity = "index"
index = "orders_pkey"
`,
	"add_index": `
[[actions]]
type = "add_index"
table = "orders"
  [actions.index]
  name = "orders_code_amount_idx"
  columns = ["code", "(lower(amount))"]
  unique = true
  include = ["user_id"]
  where = "amount IS NOT NULL"
`,
	"remove_index": `
[[actions]]
type = "remove_index"
index = "orders_amount_idx"
`,
	"add_check": `
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "orders_code_short"
  expression = "length(code) < 20"
`,
	"remove_check": `
[[actions]]
type = "remove_check"
table = "orders"
check = "orders_amount_check"
`,
	"add_foreign_key": `
[[actions]]
type = "add_foreign_key"
table = "users"
  [actions.foreign_key]
  name = "users_legacy_fk"
  columns = ["legacy"]
  referenced_table = "orders"
  referenced_columns = ["id"]
  on_delete = "SET NULL"
`,
	"remove_foreign_key": `
[[actions]]
type = "remove_foreign_key"
table = "orders"
foreign_key = "orders_user_id_fkey"
`,
	"create_enum": `
[[actions]]
type = "create_enum"
name = "size"
values = ["s", "m", "l"]

[[actions]]
type = "add_column"
table = "orders"
  [actions.column]
  name = "size"
  type = "size"
  default = "'m'"
`,
	"alter_enum": `
[[actions]]
type = "alter_enum"
name = "mood"
  [[actions.add]]
  value = "great"
  before = "ok"
  [[actions.rename]]
  from = "meh"
  to = "bad"
`,
	"remove_enum": `
[[actions]]
type = "remove_column"
table = "orders"
column = "feeling"

[[actions]]
type = "remove_enum"
enum = "mood"
`,
	"alter_column_carry": `
[[actions]]
type = "alter_column"
table = "orders"
column = "amount"
up = "NULLIF(amount, '')::numeric"
down = "amount::text"
  [actions.changes]
  type = "numeric(12,2)"
  nullable = false
`,
}

// spaceReport is the size report strata plan adds (cli.spaceOf), with the
// free disk, which depends on the machine, replaced by a fixed figure once
// checked to be either a size or a reason.
func spaceReport(ctx context.Context, t *testing.T, m *engine.Migrator, plan *engine.Plan) *planreport.Space {
	t.Helper()
	d, err := m.SpaceReport(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Tables) == 0 {
		return nil
	}
	if d.Free < 0 && d.Where == "" || d.Free >= 0 && !strings.HasPrefix(d.Where, "/") {
		t.Errorf("free disk %d at %q: want a size and a directory, or -1 and a reason", d.Free, d.Where)
	}
	sp := &planreport.Space{FreeBytes: 100 << 30, FreeWhere: "/data (free disk masked in the golden)"}
	for _, ts := range d.Tables {
		if ts.Size <= 0 || ts.Worst != ts.Size || ts.Expected <= 0 || ts.Expected >= ts.Size {
			t.Errorf("space of %s: size %d, expected extra %d, worst %d: want 0 < expected < worst = size", ts.Table, ts.Size, ts.Expected, ts.Worst)
		}
		sp.Tables = append(sp.Tables, planreport.TableSpace{Table: ts.Table, SizeBytes: ts.Size, ExpectedExtraBytes: ts.Expected, WorstExtraBytes: ts.Worst})
	}
	return sp
}

// TestPlanGolden renders the annotated plan of each action and compares it
// with testdata/<action>.golden; strata's own SQL must lint clean of errors.
func TestPlanGolden(t *testing.T) {
	all := map[string]string{}
	for name, file := range cases {
		all[name] = file
	}
	for name, file := range extraCases {
		all[name] = file
	}
	for name, file := range all {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.New(t)
			db.Exec(t, setup)
			if _, ok := extraCases[name]; ok {
				db.Exec(t, extraSetup)
			}
			m, err := engine.New(db.URL, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			fsys := fstest.MapFS{"m/001_" + name + ".toml": {Data: []byte(file)}}
			migs, err := migration.Load(fsys, "m")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			plan, err := m.Plan(ctx, migs)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := planreport.Build(plan, plan.PGMajor)
			if err != nil {
				t.Fatal(err)
			}
			rep.Space = spaceReport(ctx, t, m, plan)
			var buf bytes.Buffer
			if err := planreport.WriteText(&buf, rep); err != nil {
				t.Fatal(err)
			}
			major := plan.PGMajor
			checkGolden(t, name+".golden", major, buf.String())
			// The JSON form (strata plan --format json) has its own golden.
			var jbuf bytes.Buffer
			if err := planreport.WriteJSON(&jbuf, rep); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".json", major, jbuf.String())
			if name == "custom_unsafe" {
				// The user's own SQL is linted too.
				if !rep.HasErrors() {
					t.Errorf("custom SQL adding a CHECK without NOT VALID: want a lint error")
				}
				return
			}
			for _, ph := range rep.Phases {
				for _, st := range ph.Steps {
					for _, s := range st.Statements {
						for _, f := range s.Findings {
							if f.Severity == lint.SeverityError {
								t.Errorf("strata's own SQL has a lint error in %s/%s: %s %s\n%s", ph.Name, st.ID, f.Code, f.Message, s.SQL)
							}
						}
						if len(s.Locks) == 0 && needsLock(s.SQL) {
							t.Errorf("no lock reported for %s", s.SQL)
						}
					}
				}
			}
		})
	}
}

func needsLock(sql string) bool {
	for _, p := range []string{"ALTER TABLE", "UPDATE", "CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", "DROP TABLE"} {
		if len(sql) >= len(p) && sql[:len(p)] == p {
			return true
		}
	}
	return false
}

// goldenMajor is the PostgreSQL major the goldens testdata/NAME.golden
// and NAME.json are recorded on (CI's main major).
const goldenMajor = 15

// checkGolden compares got, planned on a server of major, with what that
// major should give: testdata/NAME.pg<major>.EXT when there is one (plans
// that differ there, e.g. NOT NULL constraints on PostgreSQL 18), else the
// golden of goldenMajor as expectOn adapts it. With -update it writes the
// golden on goldenMajor, and on another major the per-major file only when
// the output differs from that (removing one that no longer does).
func checkGolden(t *testing.T, file string, major int, got string) {
	t.Helper()
	ext := filepath.Ext(file)
	base := filepath.Join("testdata", file)
	perMajor := filepath.Join("testdata", strings.TrimSuffix(file, ext)+fmt.Sprintf(".pg%d", major)+ext)
	if *update && major == goldenMajor {
		if err := os.WriteFile(base, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(base)
	if err != nil {
		t.Fatalf("%v (run with -update on PostgreSQL %d to create it)", err, goldenMajor)
	}
	want, wantFile := expectOn(major, string(raw)), base
	if *update && major != goldenMajor {
		if got == want {
			if err := os.Remove(perMajor); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(perMajor, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(perMajor); err == nil {
		want, wantFile = string(b), perMajor
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan on PostgreSQL %d differs from %s (-want +got):\n%s", major, wantFile, diff)
	}
}

// expectOn adapts a golden recorded on goldenMajor to what major plans:
// before PostgreSQL 15 views have no security_invoker option, so the
// version views are made without it (the planner refuses tables with row
// security there, see planner.checkRowSecurity).
func expectOn(major int, golden string) string {
	if major < 15 {
		golden = strings.ReplaceAll(golden, " WITH (security_invoker = true)", "")
	}
	return golden
}
