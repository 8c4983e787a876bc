package pglock

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/internal/pgquery"
)

// classifyCases are statements with the locks PostgreSQL 15 takes for them.
// The oracle test (oracle_test.go) checks most of them against a server.
var classifyCases = []struct {
	sql  string
	want []Lock
}{
	{"ALTER TABLE t ADD COLUMN c int", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ADD COLUMN c int DEFAULT 0", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ADD COLUMN c float DEFAULT random()", []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
	{"ALTER TABLE t ADD COLUMN c bigserial", []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
	{"ALTER TABLE t ADD COLUMN c int NOT NULL", []Lock{{Relation: "t", Mode: AccessExclusive, Scan: true}}},
	{"ALTER TABLE t ADD COLUMN c int REFERENCES p", []Lock{{Relation: "t", Mode: AccessExclusive, Scan: true}, {Relation: "p", Mode: ShareRowExclusive}}},
	{"ALTER TABLE t ALTER COLUMN a SET DEFAULT 1", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ALTER COLUMN a DROP NOT NULL", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ALTER COLUMN a SET NOT NULL", []Lock{{Relation: "t", Mode: AccessExclusive, Scan: true}}},
	{"ALTER TABLE t ALTER COLUMN a TYPE bigint", []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
	{"ALTER TABLE t ALTER COLUMN a SET STATISTICS 100", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"ALTER TABLE t ALTER COLUMN a SET (n_distinct = 10)", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"ALTER TABLE t ALTER COLUMN b SET STORAGE EXTERNAL", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t DROP COLUMN b", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", []Lock{{Relation: "t", Mode: AccessExclusive, Scan: true}}},
	{"ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p", []Lock{{Relation: "t", Mode: ShareRowExclusive, Scan: true}, {Relation: "p", Mode: ShareRowExclusive}}},
	{"ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p NOT VALID", []Lock{{Relation: "t", Mode: ShareRowExclusive}, {Relation: "p", Mode: ShareRowExclusive}}},
	{"ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)", []Lock{{Relation: "t", Mode: AccessExclusive, Scan: true}}},
	{"ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX t_a_key", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t VALIDATE CONSTRAINT c", []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}}},
	{"ALTER TABLE t DROP CONSTRAINT c", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ENABLE TRIGGER ALL", []Lock{{Relation: "t", Mode: ShareRowExclusive}}},
	{"ALTER TABLE t SET (fillfactor = 70)", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"ALTER TABLE t SET (fillfactor = 70, user_catalog_table = true)", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t SET UNLOGGED", []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
	{"ALTER TABLE t CLUSTER ON t_pkey", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"ALTER TABLE t OWNER TO someone", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t ALTER COLUMN a SET STATISTICS 10, ADD COLUMN z int", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE pt ATTACH PARTITION pt2 FOR VALUES FROM (10) TO (20)", []Lock{{Relation: "pt", Mode: ShareUpdateExclusive}, {Relation: "pt2", Mode: AccessExclusive, Scan: true}}},
	{"ALTER TABLE pt DETACH PARTITION pt1", []Lock{{Relation: "pt", Mode: AccessExclusive}, {Relation: "pt1", Mode: AccessExclusive}}},
	{"ALTER TABLE pt DETACH PARTITION pt1 CONCURRENTLY", []Lock{{Relation: "pt", Mode: ShareUpdateExclusive}, {Relation: "pt1", Mode: AccessExclusive}}},
	{"ALTER INDEX pt_k ATTACH PARTITION pt1_k", []Lock{{Relation: "pt_k", Mode: ShareUpdateExclusive}, {Relation: "pt1_k", Mode: AccessExclusive}}},
	{"ALTER INDEX t_a_idx RENAME TO t_a_idx2", []Lock{{Relation: "t_a_idx", Mode: ShareUpdateExclusive}}},
	{"ALTER INDEX t_a_idx SET (fillfactor = 50)", []Lock{{Relation: "t_a_idx", Mode: ShareUpdateExclusive}}},
	{"ALTER TABLE t RENAME TO t2", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t RENAME COLUMN a TO aa", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE t RENAME CONSTRAINT c TO c2", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"ALTER TABLE s.t SET SCHEMA other", []Lock{{Relation: "s.t", Mode: AccessExclusive}}},
	{"CREATE INDEX ON t (a)", []Lock{{Relation: "t", Mode: Share, Scan: true}}},
	{"CREATE INDEX CONCURRENTLY ON t (a)", []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}}},
	{"DROP INDEX t_a_idx", []Lock{{Relation: "t_a_idx", Mode: AccessExclusive}}},
	{"DROP INDEX CONCURRENTLY t_a_idx", []Lock{{Relation: "t_a_idx", Mode: ShareUpdateExclusive}}},
	{"REINDEX INDEX t_a_idx", []Lock{{Relation: "t_a_idx", Mode: AccessExclusive, Rewrite: true}}},
	{"REINDEX TABLE t", []Lock{{Relation: "t", Mode: Share, Scan: true}}},
	{"REINDEX TABLE CONCURRENTLY t", []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}}},
	{"DROP TABLE t, u", []Lock{{Relation: "t", Mode: AccessExclusive}, {Relation: "u", Mode: AccessExclusive}}},
	{"DROP TRIGGER x ON s.t", []Lock{{Relation: "s.t", Mode: AccessExclusive}}},
	{"TRUNCATE t", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"LOCK TABLE t IN SHARE MODE", []Lock{{Relation: "t", Mode: Share}}},
	{"LOCK t", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"VACUUM t", []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}}},
	{"VACUUM FULL t", []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
	{"ANALYZE t", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"CLUSTER t USING t_pkey", []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
	{"REFRESH MATERIALIZED VIEW mv", []Lock{{Relation: "mv", Mode: AccessExclusive, Rewrite: true}}},
	{"REFRESH MATERIALIZED VIEW CONCURRENTLY mv", []Lock{{Relation: "mv", Mode: Exclusive, Scan: true}}},
	{"CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", []Lock{{Relation: "t", Mode: ShareRowExclusive}}},
	{"CREATE POLICY pol ON t USING (true)", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", []Lock{{Relation: "t", Mode: AccessExclusive}}},
	{"COMMENT ON COLUMN t.a IS 'x'", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"CREATE STATISTICS st ON a, b FROM t", []Lock{{Relation: "t", Mode: ShareUpdateExclusive}}},
	{"CREATE TABLE n (id int REFERENCES t (id))", []Lock{{Relation: "t", Mode: ShareRowExclusive}}},
	{"CREATE TABLE pt3 PARTITION OF pt FOR VALUES FROM (10) TO (20)", []Lock{{Relation: "pt", Mode: AccessExclusive}}},
	{"CREATE TABLE ch () INHERITS (p)", []Lock{{Relation: "p", Mode: ShareUpdateExclusive}}},
	{"CREATE VIEW v AS SELECT * FROM t JOIN p ON p.id = t.pid", []Lock{{Relation: "t", Mode: AccessShare}, {Relation: "p", Mode: AccessShare}}},
	{"SELECT * FROM t FOR UPDATE", []Lock{{Relation: "t", Mode: RowShare}}},
	{"WITH x AS (SELECT 1) SELECT * FROM x, t", []Lock{{Relation: "t", Mode: AccessShare}}},
	{"UPDATE t SET a = 1", []Lock{{Relation: "t", Mode: RowExclusive, Scan: true}}},
	{"DELETE FROM t WHERE id IN (SELECT id FROM p)", []Lock{{Relation: "t", Mode: RowExclusive}, {Relation: "p", Mode: AccessShare}}},
	{"INSERT INTO t (id) SELECT id FROM p", []Lock{{Relation: "t", Mode: RowExclusive}, {Relation: "p", Mode: AccessShare}}},
	{"ALTER SEQUENCE sq RESTART", []Lock{{Relation: "sq", Mode: ShareRowExclusive}}},
	{"SET lock_timeout = '1s'", nil},
	{"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", nil},
	{"ALTER TYPE mood ADD VALUE 'meh'", nil},
}

func parseOne(t testing.TB, sql string) *pgquery.Statement {
	t.Helper()
	f, err := pgquery.Parse(sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(f.Statements) != 1 {
		t.Fatalf("%s: %d statements", sql, len(f.Statements))
	}
	return f.Statements[0]
}

func TestClassify(t *testing.T) {
	for _, c := range classifyCases {
		got := Classify(parseOne(t, c.sql), Config{})
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Classify(%s) (-want +got):\n%s", c.sql, diff)
		}
	}
}

func TestClassifyVersions(t *testing.T) {
	cases := []struct {
		sql  string
		pg   int
		want []Lock
	}{
		{"ALTER TABLE t ADD COLUMN c int DEFAULT 0", 10, []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
		{"ALTER TABLE pt ATTACH PARTITION pt2 DEFAULT", 11, []Lock{{Relation: "pt", Mode: AccessExclusive}, {Relation: "pt2", Mode: AccessExclusive, Scan: true}}},
		{"ALTER INDEX i RENAME TO j", 11, []Lock{{Relation: "i", Mode: AccessExclusive}}},
		{"ALTER TABLE t ALTER COLUMN a SET NOT NULL", 11, []Lock{{Relation: "t", Mode: AccessExclusive, Scan: true}}},
	}
	for _, c := range cases {
		got := Classify(parseOne(t, c.sql), Config{PGVersion: c.pg})
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("PG %d: Classify(%s) (-want +got):\n%s", c.pg, c.sql, diff)
		}
	}
}

func TestClassifySQLContext(t *testing.T) {
	src := `CREATE TABLE t (id bigint, name varchar(20), at timestamp, pid bigint);
ALTER TABLE t ALTER COLUMN name TYPE varchar(40);
ALTER TABLE t ALTER COLUMN name TYPE varchar(10);
SET TIME ZONE 'UTC';
ALTER TABLE t ALTER COLUMN at TYPE timestamptz;
ALTER TABLE t ADD CONSTRAINT t_id_nn CHECK (id IS NOT NULL) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT t_id_nn;
ALTER TABLE t ALTER COLUMN id SET NOT NULL;
ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT t_p;
ALTER TABLE t DROP CONSTRAINT t_p;
CREATE INDEX t_name ON t (name);
DROP INDEX t_name;
CREATE INDEX CONCURRENTLY t_id ON t (id);
`
	got, err := ClassifySQL(src, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := []StatementLocks{
		{Statement: "CREATE TABLE t (id bigint, name varchar(20), at timestamp, pid bigint)", Line: 1, Column: 1},
		{Statement: "ALTER TABLE t ALTER COLUMN name TYPE varchar(40)", Line: 2, Column: 1, Locks: []Lock{{Relation: "t", Mode: AccessExclusive}}},
		{Statement: "ALTER TABLE t ALTER COLUMN name TYPE varchar(10)", Line: 3, Column: 1, Locks: []Lock{{Relation: "t", Mode: AccessExclusive, Rewrite: true}}},
		{Statement: "SET TIME ZONE 'UTC'", Line: 4, Column: 1},
		{Statement: "ALTER TABLE t ALTER COLUMN at TYPE timestamptz", Line: 5, Column: 1, Locks: []Lock{{Relation: "t", Mode: AccessExclusive}}},
		{Statement: "ALTER TABLE t ADD CONSTRAINT t_id_nn CHECK (id IS NOT NULL) NOT VALID", Line: 6, Column: 1, Locks: []Lock{{Relation: "t", Mode: AccessExclusive}}},
		{Statement: "ALTER TABLE t VALIDATE CONSTRAINT t_id_nn", Line: 7, Column: 1, Locks: []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}}},
		{Statement: "ALTER TABLE t ALTER COLUMN id SET NOT NULL", Line: 8, Column: 1, Locks: []Lock{{Relation: "t", Mode: AccessExclusive}}},
		{Statement: "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p NOT VALID", Line: 9, Column: 1, Locks: []Lock{{Relation: "t", Mode: ShareRowExclusive}, {Relation: "p", Mode: ShareRowExclusive}}},
		{Statement: "ALTER TABLE t VALIDATE CONSTRAINT t_p", Line: 10, Column: 1, Locks: []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}, {Relation: "p", Mode: RowShare}}},
		{Statement: "ALTER TABLE t DROP CONSTRAINT t_p", Line: 11, Column: 1, Locks: []Lock{{Relation: "t", Mode: AccessExclusive}, {Relation: "p", Mode: AccessExclusive}}},
		{Statement: "CREATE INDEX t_name ON t (name)", Line: 12, Column: 1, Locks: []Lock{{Relation: "t", Mode: Share, Scan: true}}},
		{Statement: "DROP INDEX t_name", Line: 13, Column: 1, Locks: []Lock{{Relation: "t_name", Mode: AccessExclusive}, {Relation: "t", Mode: AccessExclusive}}},
		{Statement: "CREATE INDEX CONCURRENTLY t_id ON t (id)", Line: 14, Column: 1, Locks: []Lock{{Relation: "t", Mode: ShareUpdateExclusive, Scan: true}}, NoTransaction: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ClassifySQL (-want +got):\n%s", diff)
	}
	if _, err := ClassifySQL("SELEC 1", Config{}); err == nil {
		t.Error("ClassifySQL of bad SQL: no error")
	}
}

func TestLockMode(t *testing.T) {
	for m := AccessShare; m <= AccessExclusive; m++ {
		back, ok := ParseLockMode(m.PGLocksName())
		if !ok || back != m {
			t.Errorf("ParseLockMode(%q) = %v, %v", m.PGLocksName(), back, ok)
		}
		back, ok = ParseLockMode(m.String())
		if !ok || back != m {
			t.Errorf("ParseLockMode(%q) = %v, %v", m.String(), back, ok)
		}
		for o := AccessShare; o <= AccessExclusive; o++ {
			if m.Conflicts(o) != o.Conflicts(m) {
				t.Errorf("conflict table not symmetric for %v, %v", m, o)
			}
		}
	}
	if ShareUpdateExclusive.BlocksWrites() || !Share.BlocksWrites() || Exclusive.BlocksReads() || !AccessExclusive.BlocksReads() {
		t.Error("BlocksReads/BlocksWrites wrong")
	}
	if got := ShareRowExclusive.PGLocksName(); got != "ShareRowExclusiveLock" {
		t.Errorf("PGLocksName = %q", got)
	}
	var m LockMode
	if err := m.UnmarshalText([]byte("ROW SHARE")); err != nil || m != RowShare {
		t.Errorf("UnmarshalText = %v, %v", m, err)
	}
	if err := m.UnmarshalText([]byte("BIG")); err == nil {
		t.Error("UnmarshalText accepted BIG")
	}
}

func TestTypeChangeRewrites(t *testing.T) {
	cases := []struct {
		from, to string
		pg       int
		utc      bool
		rewrite  bool
	}{
		{"varchar(10)", "varchar(20)", 15, false, false},
		{"varchar(10)", "varchar(5)", 15, false, true},
		{"varchar(10)", "varchar", 15, false, false},
		{"varchar", "varchar(30)", 15, false, true},
		{"varchar(10)", "text", 15, false, false},
		{"text", "varchar", 15, false, false},
		{"text", "varchar(10)", 15, false, true},
		{"character varying(10)", "citext", 15, false, false},
		{"numeric(10,2)", "numeric(12,2)", 15, false, false},
		{"numeric(10,2)", "numeric(12,3)", 15, false, true},
		{"numeric(10,2)", "numeric", 15, false, false},
		{"numeric", "numeric(10,2)", 15, false, true},
		{"decimal(10)", "numeric(12)", 15, false, false},
		{"timestamp", "timestamptz", 15, false, true},
		{"timestamp", "timestamptz", 15, true, false},
		{"timestamptz", "timestamp", 12, true, false},
		{"timestamp", "timestamptz", 11, true, true},
		{"timestamp(3)", "timestamp(6)", 15, false, false},
		{"timestamp", "timestamp(3)", 15, false, true},
		{"time(2)", "time(4)", 15, false, false},
		{"interval(3)", "interval(5)", 15, false, false},
		{"interval(3)", "interval", 15, false, false},
		{"interval", "interval(3)", 15, false, true},
		{"cidr", "inet", 15, false, false},
		{"inet", "cidr", 15, false, true},
		{"bit(4)", "varbit", 15, false, false},
		{"bit(4)", "varbit(8)", 15, false, true},
		{"varbit(4)", "varbit(8)", 15, false, false},
		{"char(4)", "char(8)", 15, false, true},
		{"char(4)", "text", 15, false, true},
		{"text", "bpchar", 15, false, false},
		{"xml", "text", 15, false, false},
		{"json", "jsonb", 15, false, true},
		{"int", "bigint", 15, false, true},
		{"integer", "int4", 15, false, false},
		{"text[]", "varchar[]", 15, false, true},
		{"text[]", "text[]", 15, false, false},
	}
	typ := func(s string) *pgquery.TypeName {
		cat := NewCatalog()
		if err := cat.AddColumnTypes(map[string]string{"t.c": s}); err != nil {
			t.Fatal(err)
		}
		return cat.get("t", "c")
	}
	for _, c := range cases {
		got, why := typeChangeRewrites(typ(c.from), typ(c.to), c.pg, c.utc)
		if got != c.rewrite {
			t.Errorf("%s -> %s (PG %d, UTC %v): rewrite = %v (%s), want %v", c.from, c.to, c.pg, c.utc, got, why, c.rewrite)
		}
		if got && why == "" {
			t.Errorf("%s -> %s: rewrite without a reason", c.from, c.to)
		}
	}
}

func TestVolatileCall(t *testing.T) {
	cases := map[string]bool{
		"0": false, "now()": false, "CURRENT_TIMESTAMP": false, "'a' || lower('B')": false,
		"random()": true, "gen_random_uuid()": true, "nextval('s')": true, "coalesce(1, my_func())": true,
		"(now() + interval '1 day')::date": false, "jsonb_build_object('a', 1)": false,
	}
	for expr, want := range cases {
		s := parseOne(t, "SELECT "+expr)
		val := s.Node.GetSelectStmt().TargetList[0].GetResTarget().Val
		if fn, got := volatileCall(val); got != want {
			t.Errorf("volatileCall(%s) = %v (%s), want %v", expr, got, fn, want)
		}
	}
}
