package pglock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// oracleFixture is the schema every oracle statement runs against.
const oracleFixture = `
CREATE TABLE p (id int PRIMARY KEY, v int);
CREATE TABLE t (id int PRIMARY KEY, a int, b text, c varchar(10), ts timestamp, pid int,
  CONSTRAINT t_pid_fkey FOREIGN KEY (pid) REFERENCES p (id));
CREATE INDEX t_a_idx ON t (a);
CREATE UNIQUE INDEX t_a_key ON t (a);
ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;
ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id) NOT VALID;
CREATE TABLE u (id int);
CREATE TABLE pt (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (10);
CREATE TABLE pt2 (id int, k int);
CREATE INDEX pt_k ON ONLY pt (k);
CREATE INDEX pt1_k ON pt1 (k);
CREATE MATERIALIZED VIEW mv AS SELECT id, v FROM p;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE SEQUENCE sq;
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
CREATE DOMAIN d AS int;
CREATE TABLE dt (x d);
CREATE SCHEMA other;
INSERT INTO p VALUES (1, 1), (2, 2);
INSERT INTO t VALUES (1, 1, 'x', 'y', '2024-01-01', 1);
INSERT INTO u VALUES (1);
INSERT INTO pt VALUES (1, 1);
INSERT INTO pt2 VALUES (2, 12);
INSERT INTO dt VALUES (1);
REFRESH MATERIALIZED VIEW mv;
`

// oracleCase is a statement whose locks the oracle checks. pre runs in the
// session before the statement's transaction (and is classified with it).
type oracleCase struct {
	pre, sql string
	// skipRewrite: the statement gives the relation a new file without
	// rewriting it (TRUNCATE), so relfilenode says nothing.
	skipRewrite bool
}

var oracleCases = []oracleCase{
	{sql: "ALTER TABLE t ADD COLUMN x int"},
	{sql: "ALTER TABLE t ADD COLUMN x int DEFAULT 0"},
	{sql: "ALTER TABLE t ADD COLUMN x int NOT NULL DEFAULT 0"},
	{sql: "ALTER TABLE t ADD COLUMN x float DEFAULT random()"},
	{sql: "ALTER TABLE t ADD COLUMN x bigserial"},
	{sql: "ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS (a + 1) STORED"},
	{sql: "ALTER TABLE t ADD COLUMN x int REFERENCES p"},
	{sql: "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1"},
	{sql: "ALTER TABLE t ALTER COLUMN a DROP NOT NULL"},
	{sql: "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
	{sql: "ALTER TABLE t ALTER COLUMN a TYPE bigint"},
	{sql: "ALTER TABLE t ALTER COLUMN a TYPE int"},
	{sql: "ALTER TABLE t ALTER COLUMN c TYPE varchar(20)"},
	{sql: "ALTER TABLE t ALTER COLUMN c TYPE varchar(5)"},
	{sql: "ALTER TABLE t ALTER COLUMN c TYPE text"},
	{sql: "ALTER TABLE t ALTER COLUMN b TYPE varchar(3)"},
	{pre: "SET TIME ZONE 'UTC'", sql: "ALTER TABLE t ALTER COLUMN ts TYPE timestamptz"},
	{pre: "SET TIME ZONE 'America/New_York'", sql: "ALTER TABLE t ALTER COLUMN ts TYPE timestamptz"},
	{sql: "ALTER TABLE t ALTER COLUMN a SET STATISTICS 100"},
	{sql: "ALTER TABLE t ALTER COLUMN a SET (n_distinct = 10)"},
	{sql: "ALTER TABLE t ALTER COLUMN b SET STORAGE EXTERNAL"},
	{sql: "ALTER TABLE t DROP COLUMN b"},
	{sql: "ALTER TABLE t ADD CONSTRAINT c2 CHECK (a > 0)"},
	{sql: "ALTER TABLE t ADD CONSTRAINT c2 CHECK (a > 0) NOT VALID"},
	{sql: "ALTER TABLE t ADD CONSTRAINT f2 FOREIGN KEY (pid) REFERENCES p"},
	{sql: "ALTER TABLE t ADD CONSTRAINT f2 FOREIGN KEY (pid) REFERENCES p NOT VALID"},
	{sql: "ALTER TABLE t ADD CONSTRAINT u2 UNIQUE (id, a)"},
	{sql: "ALTER TABLE t ADD CONSTRAINT u2 UNIQUE USING INDEX t_a_key"},
	{sql: "ALTER TABLE p ADD CONSTRAINT p_v_key UNIQUE (v)"},
	{sql: "ALTER TABLE t VALIDATE CONSTRAINT c"},
	{sql: "ALTER TABLE t VALIDATE CONSTRAINT f"},
	{sql: "ALTER TABLE t DROP CONSTRAINT c"},
	{sql: "ALTER TABLE t DROP CONSTRAINT t_pid_fkey"},
	{sql: "ALTER TABLE t ENABLE TRIGGER ALL"},
	{sql: "ALTER TABLE t DISABLE TRIGGER trg"},
	{sql: "ALTER TABLE t SET (fillfactor = 70)"},
	{sql: "ALTER TABLE t SET (autovacuum_enabled = false, toast_tuple_target = 200)"},
	{sql: "ALTER TABLE t SET (user_catalog_table = true)"},
	{sql: "ALTER TABLE u SET UNLOGGED"},
	{sql: "ALTER TABLE t CLUSTER ON t_a_idx"},
	{sql: "ALTER TABLE t OWNER TO CURRENT_USER"},
	{sql: "ALTER TABLE t REPLICA IDENTITY FULL"},
	{sql: "ALTER TABLE t ENABLE ROW LEVEL SECURITY"},
	{sql: "ALTER TABLE t ALTER COLUMN a SET STATISTICS 10, ADD COLUMN z int"},
	{sql: "ALTER TABLE pt ATTACH PARTITION pt2 FOR VALUES FROM (10) TO (20)"},
	{sql: "ALTER TABLE pt DETACH PARTITION pt1"},
	{sql: "ALTER INDEX pt_k ATTACH PARTITION pt1_k"},
	{sql: "ALTER INDEX t_a_idx RENAME TO t_a_idx2"},
	{sql: "ALTER INDEX t_a_idx SET (fillfactor = 50)"},
	{sql: "ALTER TABLE t RENAME TO t2"},
	{sql: "ALTER TABLE t RENAME COLUMN a TO aa"},
	{sql: "ALTER TABLE t RENAME CONSTRAINT c TO c3"},
	{sql: "ALTER TABLE u SET SCHEMA other"},
	{sql: "CREATE INDEX ON t (b)"},
	{sql: "CREATE UNIQUE INDEX ON t (id, b)"},
	{sql: "CREATE INDEX ON pt (id)"},
	{sql: "DROP INDEX t_a_idx"},
	{sql: "REINDEX INDEX t_a_idx"},
	{sql: "REINDEX TABLE t"},
	{sql: "DROP TABLE u"},
	{sql: "DROP TRIGGER trg ON t"},
	{sql: "TRUNCATE u", skipRewrite: true},
	{sql: "LOCK TABLE t IN SHARE MODE"},
	{sql: "LOCK TABLE t, u IN ROW EXCLUSIVE MODE"},
	{sql: "ANALYZE t"},
	{sql: "CLUSTER t USING t_pkey"},
	{sql: "REFRESH MATERIALIZED VIEW mv"},
	{sql: "REFRESH MATERIALIZED VIEW CONCURRENTLY mv"},
	{sql: "CREATE TRIGGER trg2 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg()"},
	{sql: "CREATE POLICY pol ON t USING (true)"},
	{sql: "CREATE RULE r AS ON INSERT TO u DO INSTEAD NOTHING"},
	{sql: "COMMENT ON TABLE t IS 'x'"},
	{sql: "COMMENT ON COLUMN t.a IS 'x'"},
	{sql: "CREATE STATISTICS st ON a, b FROM t"},
	{sql: "CREATE TABLE n (id int REFERENCES t (id))"},
	{sql: "CREATE TABLE pt3 PARTITION OF pt FOR VALUES FROM (20) TO (30)"},
	{sql: "CREATE TABLE ch () INHERITS (p)"},
	{sql: "CREATE VIEW v AS SELECT t.a, p.v FROM t JOIN p ON p.id = t.pid"},
	{sql: "SELECT * FROM t FOR UPDATE"},
	{sql: "UPDATE t SET a = 1"},
	{sql: "DELETE FROM t WHERE id IN (SELECT id FROM p)"},
	{sql: "INSERT INTO u (id) SELECT id FROM p"},
	{sql: "ALTER SEQUENCE sq RESTART", skipRewrite: true}, // a new one-row file
	{sql: "ALTER DOMAIN d ADD CONSTRAINT dc CHECK (VALUE > 0)"},
}

// oracleConcurrentCases cannot run in a transaction block: each runs on a
// fresh database while another session's open transaction makes it wait, and
// the locks it holds or waits for are read while it waits.
var oracleConcurrentCases = []struct {
	sql, block string // block: what the other session's transaction does
}{
	{"CREATE INDEX CONCURRENTLY t_b_idx ON t (b)", "LOCK TABLE t IN ROW EXCLUSIVE MODE"},
	{"DROP INDEX CONCURRENTLY t_a_idx", "LOCK TABLE t IN ROW EXCLUSIVE MODE"},
	{"REINDEX INDEX CONCURRENTLY t_a_idx", "LOCK TABLE t IN ROW EXCLUSIVE MODE"},
	{"REINDEX TABLE CONCURRENTLY t", "LOCK TABLE t IN ROW EXCLUSIVE MODE"},
	// The final ACCESS EXCLUSIVE on the partition waits for this one.
	{"ALTER TABLE pt DETACH PARTITION pt1 CONCURRENTLY", "LOCK TABLE pt1 IN ACCESS SHARE MODE"},
}

// expectedLocks classifies sql after the fixture and pre, as a migration
// file holding them would be.
func expectedLocks(t *testing.T, pre, sql string, pgVersion int) []Lock {
	t.Helper()
	src := oracleFixture + ";\n" + pre + ";\n" + sql + ";\n"
	all, err := ClassifySQL(src, Config{PGVersion: pgVersion})
	if err != nil {
		t.Fatalf("ClassifySQL: %v", err)
	}
	return all[len(all)-1].Locks
}

// relationOIDs resolves the relations of locks before the statement runs
// (it may rename or drop them).
func relationOIDs(ctx context.Context, t *testing.T, conn *pgx.Conn, locks []Lock) map[string]uint32 {
	t.Helper()
	oids := map[string]uint32{}
	for _, l := range locks {
		var oid *uint32
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1)::oid", l.Relation).Scan(&oid); err != nil {
			t.Fatalf("resolve %s: %v", l.Relation, err)
		}
		if oid == nil {
			t.Fatalf("Classify names relation %q, which does not exist", l.Relation)
		}
		oids[l.Relation] = *oid
	}
	return oids
}

// heldModes returns the strongest relation lock mode the backend holds (or,
// with waiting, also waits for), per relation oid.
func heldModes(ctx context.Context, t *testing.T, observer *pgx.Conn, pid uint32, waiting bool) map[uint32]LockMode {
	t.Helper()
	rows, err := observer.Query(ctx, `SELECT relation::oid, mode FROM pg_locks
		WHERE pid = $1 AND locktype = 'relation' AND (granted OR $2)
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, pid, waiting)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]LockMode{}
	for rows.Next() {
		var oid uint32
		var mode string
		if err := rows.Scan(&oid, &mode); err != nil {
			t.Fatal(err)
		}
		m, ok := ParseLockMode(mode)
		if !ok {
			t.Fatalf("pg_locks mode %q", mode)
		}
		got[oid] = max(got[oid], m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func relfilenodes(ctx context.Context, t *testing.T, conn *pgx.Conn, oids map[string]uint32) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	for rel, oid := range oids {
		var node uint32
		err := conn.QueryRow(ctx, "SELECT relfilenode FROM pg_class WHERE oid = $1", oid).Scan(&node)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // dropped
		}
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = node
	}
	return out
}

func backendPID(ctx context.Context, t *testing.T, conn *pgx.Conn) uint32 {
	t.Helper()
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

func exec(ctx context.Context, t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestOracle runs each statement on a scratch database, in a transaction left
// open, while a second connection reads pg_locks for the first one's backend:
// the strongest mode held on each relation Classify names must be the mode it
// reports, and the relation's file must change exactly when it reports a
// rewrite.
func TestOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle needs a PostgreSQL server")
	}
	db := pgtest.New(t)
	db.Exec(t, oracleFixture)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runner, observer := db.Conn(t), db.Conn(t)
	pg := pgtest.ServerMajor(t)
	pid := backendPID(ctx, t, runner)
	checked := 0
	for _, c := range oracleCases {
		t.Run(c.sql, func(t *testing.T) {
			want := expectedLocks(t, c.pre, c.sql, pg)
			if len(want) == 0 {
				t.Fatalf("Classify reports no lock for %s", c.sql)
			}
			exec(ctx, t, runner, "RESET ALL")
			if c.pre != "" {
				exec(ctx, t, runner, c.pre)
			}
			oids := relationOIDs(ctx, t, runner, want)
			before := relfilenodes(ctx, t, runner, oids)
			exec(ctx, t, runner, "BEGIN")
			defer exec(ctx, t, runner, "ROLLBACK")
			exec(ctx, t, runner, c.sql)
			got := heldModes(ctx, t, observer, pid, false)
			after := relfilenodes(ctx, t, runner, oids)
			for _, l := range want {
				if m := got[oids[l.Relation]]; m != l.Mode {
					t.Errorf("%s: PostgreSQL holds %v, Classify says %v", l.Relation, m, l.Mode)
				}
				b, ok1 := before[l.Relation]
				a, ok2 := after[l.Relation]
				if c.skipRewrite || !ok1 || !ok2 || b == 0 {
					continue
				}
				if rewritten := a != b; rewritten != l.Rewrite {
					t.Errorf("%s: rewritten = %v, Classify says Rewrite = %v", l.Relation, rewritten, l.Rewrite)
				}
			}
			checked++
		})
	}
	if checked < 30 {
		t.Errorf("only %d statements checked, want at least 30", checked)
	}
}

func TestOracleConcurrently(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle needs a PostgreSQL server")
	}
	pg := pgtest.ServerMajor(t)
	for _, c := range oracleConcurrentCases {
		t.Run(c.sql, func(t *testing.T) {
			if strings.Contains(c.sql, "DETACH") && pg < 14 {
				t.Skip("DETACH PARTITION CONCURRENTLY needs PostgreSQL 14")
			}
			db := pgtest.New(t)
			db.Exec(t, oracleFixture)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			runner, observer, blocker := db.Conn(t), db.Conn(t), db.Conn(t)
			want := expectedLocks(t, "", c.sql, pg)
			oids := relationOIDs(ctx, t, runner, want)
			pid := backendPID(ctx, t, runner)

			// The blocker's open transaction makes the statement wait, after
			// it took its own locks, until the blocker ends.
			exec(ctx, t, blocker, "BEGIN")
			exec(ctx, t, blocker, c.block)
			done := make(chan error, 1)
			go func() {
				_, err := runner.Exec(ctx, c.sql)
				done <- err
			}()
			var got map[uint32]LockMode
			deadline := time.Now().Add(time.Minute)
			for {
				var waiting bool
				err := observer.QueryRow(ctx, "SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting {
					got = heldModes(ctx, t, observer, pid, true)
					break
				}
				select {
				case err := <-done:
					t.Fatalf("%s finished without waiting (err %v)", c.sql, err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s never waited for the blocking transaction", c.sql)
				}
				time.Sleep(10 * time.Millisecond)
			}
			exec(ctx, t, blocker, "ROLLBACK")
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", c.sql, err)
			}
			for _, l := range want {
				if m := got[oids[l.Relation]]; m != l.Mode {
					t.Errorf("%s: PostgreSQL holds %v, Classify says %v", l.Relation, m, l.Mode)
				}
			}
		})
	}
}

// TestOracleCasesParse checks the oracle's statements without a server.
func TestOracleCasesParse(t *testing.T) {
	for _, c := range oracleCases {
		if _, err := ClassifySQL(c.pre+";\n"+c.sql, Config{}); err != nil {
			t.Errorf("%s: %v", c.sql, err)
		}
	}
	if len(oracleCases)+len(oracleConcurrentCases) < 30 {
		t.Errorf("%d oracle cases, want at least 30", len(oracleCases)+len(oracleConcurrentCases))
	}
}
