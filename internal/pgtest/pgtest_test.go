package pgtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func countUserRelations(t *testing.T, d *DB) int {
	t.Helper()
	conn := d.Conn(t)
	var n int
	err := conn.QueryRow(context.Background(), `
		SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	err := getServer(t).admin.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestNewGivesDistinctEmptyDatabases(t *testing.T) {
	d1, d2 := New(t), New(t)
	if d1.Name == d2.Name || d1.URL == d2.URL {
		t.Fatalf("two New() calls returned the same database: %+v %+v", d1, d2)
	}
	for _, d := range []*DB{d1, d2} {
		if !strings.HasPrefix(d.Name, "t_testnewgivesdistinctemptydatabases_") {
			t.Errorf("database name %q does not follow t_<test name>_<random>", d.Name)
		}
		if n := countUserRelations(t, d); n != 0 {
			t.Errorf("new database %s has %d user relations, want 0", d.Name, n)
		}
		var cur string
		if err := d.Conn(t).QueryRow(context.Background(), "SELECT current_database()").Scan(&cur); err != nil {
			t.Fatal(err)
		}
		if cur != d.Name {
			t.Errorf("d.URL connects to %q, want %q", cur, d.Name)
		}
	}

	// Multi-statement Exec without args, and a statement with args.
	d1.Exec(t, "CREATE TABLE t (id int); CREATE INDEX ON t (id)")
	d1.Exec(t, "INSERT INTO t VALUES ($1)", 42)
	if n := countUserRelations(t, d1); n != 2 {
		t.Errorf("d1 has %d user relations after CREATE TABLE + INDEX, want 2", n)
	}
	if n := countUserRelations(t, d2); n != 0 {
		t.Errorf("d2 has %d user relations after creating a table in d1, want 0", n)
	}
	var sum int
	if err := d1.Pool(t).QueryRow(context.Background(), "SELECT sum(id) FROM t").Scan(&sum); err != nil || sum != 42 {
		t.Errorf("SELECT sum(id) via Pool = %d, %v; want 42", sum, err)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		d := New(t)
		name = d.Name
		d.Conn(t) // an open connection must not prevent the drop
		if !databaseExists(t, name) {
			t.Fatalf("database %s does not exist during the test", name)
		}
	})
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after its test finished", name)
	}
}

func TestParallelNew(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			d := New(t)
			d.Exec(t, "CREATE TABLE x (id int)")
			if n := countUserRelations(t, d); n != 1 {
				t.Errorf("%s has %d user relations, want 1", d.Name, n)
			}
		})
	}
}

func TestTemplateIsClosed(t *testing.T) {
	var allow, isTemplate bool
	err := getServer(t).admin.QueryRow(context.Background(),
		"SELECT datallowconn, datistemplate FROM pg_database WHERE datname = $1", TemplateName).Scan(&allow, &isTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if allow || !isTemplate {
		t.Errorf("template %s: datallowconn=%v datistemplate=%v, want false, true", TemplateName, allow, isTemplate)
	}
}

func TestDBName(t *testing.T) {
	long := strings.Repeat("VeryLong/Sub Test-", 10)
	for _, in := range []string{"TestX", "TestX/sub_test#01", long, "Test/ü/", ""} {
		got := dbName(in)
		if len(got) > 63 {
			t.Errorf("dbName(%q) = %q: %d bytes, max 63", in, got, len(got))
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Errorf("dbName(%q) = %q contains %q", in, got, r)
			}
		}
		if dbName(in) == got {
			t.Errorf("dbName(%q) returned %q twice", in, got)
		}
	}
	if got := dbName("TestX/sub_test#01"); !strings.HasPrefix(got, "t_testx_sub_test_01_") {
		t.Errorf("dbName(TestX/sub_test#01) = %q", got)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5/postgres?sslmode=disable": "postgres://u:p@h:5/t_x?sslmode=disable",
		"postgresql://h/":               "postgresql://h/t_x",
		"host=h port=5 dbname=postgres": "host=h port=5 dbname=postgres dbname='t_x'",
	} {
		if got := withDatabase(in, "t_x"); got != want {
			t.Errorf("withDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}

// snap returns a snapshot and checks that taking it twice gives the same text.
func snap(t *testing.T, conn *pgx.Conn, schemas ...string) string {
	t.Helper()
	ctx := context.Background()
	s, err := Snapshot(ctx, conn, schemas...)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Snapshot(ctx, conn, schemas...)
	if err != nil {
		t.Fatal(err)
	}
	if s != again {
		t.Fatalf("Snapshot is not deterministic:\n%s", cmp.Diff(s, again))
	}
	return s
}

const snapshotSchema = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE parent (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text COLLATE "C" NOT NULL DEFAULT 'x');
CREATE TABLE child (
    id serial PRIMARY KEY,
    parent_id bigint REFERENCES parent (id),
    m mood,
    n posint,
    doubled int GENERATED ALWAYS AS (n * 2) STORED,
    CONSTRAINT n_small CHECK (n < 100)
) WITH (fillfactor = 70);
CREATE INDEX child_parent_idx ON child (parent_id) WHERE parent_id IS NOT NULL;
ALTER TABLE child ALTER COLUMN m SET STATISTICS 500;
COMMENT ON TABLE child IS 'the child';
COMMENT ON COLUMN child.m IS 'how it feels';
CREATE VIEW child_view AS SELECT id, m FROM child WHERE n > 1;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER child_touch BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE child ENABLE ROW LEVEL SECURITY;
CREATE POLICY child_pol ON child USING (n > 0);
GRANT SELECT ON child TO PUBLIC;
`

func TestSnapshot(t *testing.T) {
	d := New(t)
	d.Exec(t, snapshotSchema)
	dc := d.Conn(t)
	base := snap(t, dc, "public")
	t.Logf("snapshot:\n%s", base)

	// From PostgreSQL 16 on, pg_get_viewdef leaves out the relation name of
	// column references when the query reads one relation.
	viewDef := "public.child_view:\n     SELECT child.id,\n        child.m\n       FROM public.child"
	if ServerMajor(t) >= 16 {
		viewDef = "public.child_view:\n     SELECT id,\n        m\n       FROM public.child"
	}
	for _, want := range []string{
		"public.child kind=table", "fillfactor=70", "acl={", "comment='the child'",
		"public.child #3 m public.mood", "stattarget=500", "comment='how it feels'",
		"public.child #5 doubled integer generated=s ((n)::integer * 2)",
		"public.parent #1 id bigint not_null identity=always",
		`public.parent #2 name text not_null default='x'::text collation=pg_catalog."C"`,
		"public.child n_small type=c validated=true local=true: CHECK (((n)::integer < 100))",
		"public.child child_parent_idx valid=true",
		"public.child child_touch enabled=O: CREATE TRIGGER child_touch BEFORE UPDATE ON public.child FOR EACH ROW EXECUTE FUNCTION public.touch()",
		"public.child child_pol cmd=* permissive=true roles=public using=((n)::integer > 0)",
		viewDef,
		"REFERENCES public.parent(id)", "default=nextval('public.child_id_seq'::regclass)",
		"public.mood kind=enum", "labels='sad','ok','happy'",
		"public.posint kind=domain", "domain public.posint posint_check",
		"public.touch() kind=f returns=trigger lang=plpgsql",
		"public.child_id_seq type=integer", "owned_by=public.child.id",
	} {
		if !strings.Contains(base, want) {
			t.Errorf("snapshot lacks %q", want)
		}
	}
	if strings.Contains(base, "RI_ConstraintTrigger") {
		t.Error("snapshot contains internal foreign key triggers (their names hold OIDs)")
	}

	// Connection settings do not matter, and the connection is left as it was.
	conn := d.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET search_path = pg_catalog, public; SET TimeZone = 'Asia/Tokyo'"); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inTx, err := Snapshot(ctx, conn, "public")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(base, inTx); diff != "" {
		t.Errorf("snapshot depends on search_path or transaction state (-default +custom):\n%s", diff)
	}
	var sp string
	if err := tx.QueryRow(ctx, "SHOW search_path").Scan(&sp); err != nil || sp != "pg_catalog, public" {
		t.Errorf("search_path after Snapshot = %q, %v; want it unchanged", sp, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// NOT VALID constraints and their validation show.
	d.Exec(t, "ALTER TABLE parent ADD CONSTRAINT id_pos CHECK (id > 0) NOT VALID")
	notValid := snap(t, dc, "public")
	if !strings.Contains(notValid, "public.parent id_pos type=c validated=false") {
		t.Error("snapshot does not show a NOT VALID constraint as validated=false")
	}
	d.Exec(t, "ALTER TABLE parent VALIDATE CONSTRAINT id_pos")
	if !strings.Contains(snap(t, dc, "public"), "public.parent id_pos type=c validated=true") {
		t.Error("snapshot does not show a validated constraint as validated=true")
	}
	d.Exec(t, "ALTER TABLE parent DROP CONSTRAINT id_pos")

	// The same schema in another database gives the same snapshot: no
	// OIDs or other accidental values leak in.
	other := New(t)
	other.Exec(t, snapshotSchema)
	if diff := cmp.Diff(base, snap(t, other.Conn(t), "public")); diff != "" {
		t.Errorf("same schema, different databases, different snapshots (-first +second):\n%s", diff)
	}

	// Each change shows up; undoing it restores the snapshot exactly.
	changes := []struct{ name, do, undo string }{
		{"add column", "ALTER TABLE child ADD COLUMN extra text", "ALTER TABLE child DROP COLUMN extra"},
		{"column default", "ALTER TABLE parent ALTER COLUMN name SET DEFAULT 'y'", "ALTER TABLE parent ALTER COLUMN name SET DEFAULT 'x'"},
		{"drop not null", "ALTER TABLE parent ALTER COLUMN name DROP NOT NULL", "ALTER TABLE parent ALTER COLUMN name SET NOT NULL"},
		{"column type", "ALTER TABLE parent ALTER COLUMN name TYPE varchar(10)", `ALTER TABLE parent ALTER COLUMN name TYPE text COLLATE "C"`},
		{"column collation", `ALTER TABLE parent ALTER COLUMN name TYPE text COLLATE "POSIX"`, `ALTER TABLE parent ALTER COLUMN name TYPE text COLLATE "C"`},
		{"column options", "ALTER TABLE parent ALTER COLUMN name SET (n_distinct = 5)", "ALTER TABLE parent ALTER COLUMN name RESET (n_distinct)"},
		{"index", "CREATE INDEX child_m_idx ON child (m)", "DROP INDEX child_m_idx"},
		{"trigger", "CREATE TRIGGER parent_touch BEFORE INSERT ON parent FOR EACH ROW EXECUTE FUNCTION touch()", "DROP TRIGGER parent_touch ON parent"},
		{"disable trigger", "ALTER TABLE child DISABLE TRIGGER child_touch", "ALTER TABLE child ENABLE TRIGGER child_touch"},
		{"schema", "CREATE SCHEMA strata_v2", "DROP SCHEMA strata_v2"},
		{"constraint", "ALTER TABLE parent ADD CONSTRAINT name_len CHECK (length(name) < 50)", "ALTER TABLE parent DROP CONSTRAINT name_len"},
		{"function", "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a'", "DROP FUNCTION f(int)"},
		{"view", "CREATE OR REPLACE VIEW child_view AS SELECT id, m FROM child WHERE n > 2", "CREATE OR REPLACE VIEW child_view AS SELECT id, m FROM child WHERE n > 1"},
		{"comment", "COMMENT ON TABLE parent IS 'p'", "COMMENT ON TABLE parent IS NULL"},
		{"grant", "GRANT INSERT ON child TO PUBLIC", "REVOKE INSERT ON child FROM PUBLIC"},
		{"column grant", "GRANT UPDATE (m) ON child TO PUBLIC", "REVOKE UPDATE (m) ON child FROM PUBLIC"},
		{"policy", "CREATE POLICY p2 ON child USING (true)", "DROP POLICY p2 ON child"},
		{"statistics target", "ALTER TABLE parent ALTER COLUMN name SET STATISTICS 10", "ALTER TABLE parent ALTER COLUMN name SET STATISTICS -1"},
		{"reloptions", "ALTER TABLE parent SET (fillfactor = 50)", "ALTER TABLE parent RESET (fillfactor)"},
		{"rls", "ALTER TABLE parent ENABLE ROW LEVEL SECURITY", "ALTER TABLE parent DISABLE ROW LEVEL SECURITY"},
		{"enum label", "ALTER TYPE mood ADD VALUE 'meh'", ""},
	}
	for _, c := range changes {
		d.Exec(t, c.do)
		changed := snap(t, dc, "public")
		if changed == base {
			t.Errorf("%s: snapshot did not change after %q", c.name, c.do)
		}
		if c.undo == "" {
			continue
		}
		d.Exec(t, c.undo)
		if diff := cmp.Diff(base, snap(t, dc, "public")); diff != "" {
			t.Errorf("%s: snapshot differs after %q then %q (-before +after):\n%s", c.name, c.do, c.undo, diff)
		}
	}
}

// TestSnapshotAddDropColumn is the case that matters most for abort tests: a
// dropped column stays in pg_attribute (attisdropped) and shifts attnums,
// but must not show in the snapshot.
func TestSnapshotAddDropColumn(t *testing.T) {
	d := New(t)
	d.Exec(t, "CREATE TABLE t (a int, b text); CREATE INDEX t_b ON t (b)")
	dc := d.Conn(t)
	before := snap(t, dc, "public")
	d.Exec(t, "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 1")
	added := snap(t, dc, "public")
	if !strings.Contains(added, "public.t #3 c integer not_null default=1") {
		t.Errorf("snapshot after ADD COLUMN lacks the column:\n%s", added)
	}
	d.Exec(t, "ALTER TABLE t DROP COLUMN c")
	if diff := cmp.Diff(before, snap(t, dc, "public")); diff != "" {
		t.Errorf("snapshot differs after add + drop column (-before +after):\n%s", diff)
	}

	// Dropping a middle column and re-adding it at the end changes order,
	// which the snapshot must show, and later columns keep dense ranks.
	d.Exec(t, "ALTER TABLE t DROP COLUMN a; ALTER TABLE t ADD COLUMN a int")
	after := snap(t, dc, "public")
	if !strings.Contains(after, "public.t #1 b text") || !strings.Contains(after, "public.t #2 a integer") {
		t.Errorf("ranks after dropping and re-adding a column are wrong:\n%s", after)
	}
	if after == before {
		t.Error("snapshot did not change after reordering columns")
	}
}

func TestSnapshotSchemas(t *testing.T) {
	d := New(t)
	d.Exec(t, "CREATE SCHEMA app; CREATE TABLE app.t (id int); CREATE TABLE public.u (id int)")
	dc := d.Conn(t)
	onlyPublic := snap(t, dc, "public")
	if !strings.Contains(onlyPublic, "\napp owner=") {
		t.Error("schema list does not include schema app when snapshotting only public")
	}
	if strings.Contains(onlyPublic, "app.t") {
		t.Error("snapshot of public includes table app.t")
	}
	all := snap(t, dc)
	if !strings.Contains(all, "app.t kind=table") || !strings.Contains(all, "public.u kind=table") {
		t.Errorf("snapshot without schema arguments does not cover all schemas:\n%s", all)
	}
}

// BenchmarkCreateDatabase measures cloning the template with each strategy.
// Run: go test ./internal/pgtest -run '^$' -bench CreateDatabase
func BenchmarkCreateDatabase(b *testing.B) {
	s := getServer(b)
	strategies := []string{""}
	if s.major >= 15 {
		strategies = []string{"WAL_LOG", "FILE_COPY"}
	}
	ctx := context.Background()
	for _, strategy := range strategies {
		name := strategy
		if name == "" {
			name = "default"
		}
		b.Run(name, func(b *testing.B) {
			var created []string
			for b.Loop() {
				db := dbName("bench")
				if err := s.createDBWith(ctx, db, strategy); err != nil {
					b.Fatal(err)
				}
				created = append(created, db)
			}
			b.StopTimer()
			for _, db := range created {
				if _, err := s.admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel4", func(b *testing.B) {
			var mu sync.Mutex
			var created []string
			b.SetParallelism(2) // 2 x GOMAXPROCS(2) = 4 concurrent creators
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					db := dbName("bench")
					if err := s.createDBWith(ctx, db, strategy); err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					created = append(created, db)
					mu.Unlock()
				}
			})
			b.StopTimer()
			for _, db := range created {
				if _, err := s.admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNewTiming logs how long New takes (create + register cleanup).
func TestNewTiming(t *testing.T) {
	getServer(t)
	const n = 10
	start := time.Now()
	for range n {
		New(t)
	}
	t.Logf("New: %v per database (strategy %q)", time.Since(start)/n, getServer(t).strategy)
}
