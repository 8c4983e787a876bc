package doctor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/doctor"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const clean = `CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a integer, b text);
CREATE TABLE u (id integer PRIMARY KEY, t_id bigint REFERENCES t (id));
CREATE INDEX u_t_id ON u (t_id);
ALTER TABLE t ENABLE ROW LEVEL SECURITY;`

func findings(t *testing.T, db *pgtest.DB, pgMajor int) []doctor.Finding {
	t.Helper()
	ctx := context.Background()
	if pgMajor != 0 {
		conn := db.Conn(t)
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		f, err := doctor.Check(ctx, tx, doctor.Options{Schema: "public", PGMajor: pgMajor})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	m, err := engine.New(db.URL, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return withoutOldServerRLS(t, f)
}

// withoutOldServerRLS: the clean schema has a table with row-level
// security, which before PostgreSQL 15 is itself a finding (the version
// views cannot apply its policies). On such a server the finding must be
// there; it is removed so that the tests see the rest alike on every major.
func withoutOldServerRLS(t *testing.T, f []doctor.Finding) []doctor.Finding {
	t.Helper()
	if pgtest.ServerMajor(t) >= 15 {
		return f
	}
	var out []doctor.Finding
	seen := false
	for _, x := range f {
		if x.Code == "rls_bypassed_by_version_views" && x.Object == "public.t" {
			seen = true
			continue
		}
		out = append(out, x)
	}
	if !seen {
		t.Fatalf("PostgreSQL %d: no rls_bypassed_by_version_views on public.t among %v", pgtest.ServerMajor(t), f)
	}
	return out
}

func TestCleanReportsNothing(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, clean)
	if f := findings(t, db, 0); len(f) != 0 {
		t.Fatalf("a clean database: %v", f)
	}
}

func TestEachFinding(t *testing.T) {
	cases := []struct {
		code, severity, object, change string
		pgMajor                        int
	}{
		{"invalid_index", doctor.Error, "public.t_a", `CREATE INDEX t_a ON t (a); UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_a'::regclass`, 0},
		{"not_valid_constraint", doctor.Warning, "public.t.a_pos", `ALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0) NOT VALID`, 0},
		{"strata_leftover", doctor.Error, "column public.t._strata_1_a", `ALTER TABLE t ADD COLUMN _strata_1_a bigint`, 0},
		{"strata_leftover", doctor.Error, "trigger public.t._strata_sync", `CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
			CREATE TRIGGER _strata_sync BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()`, 0},
		{"sequence_near_limit", doctor.Error, "public.u_seq", `CREATE SEQUENCE u_seq AS integer; SELECT setval('u_seq', 2000000000)`, 0},
		{"sequence_near_limit", doctor.Error, "public.t_id_seq", `SELECT setval('t_id_seq', 8000000000000000000)`, 0},
		{"sequence_near_limit", doctor.Error, "public.s_seq", `CREATE TABLE s (id serial PRIMARY KEY); ALTER SEQUENCE s_id_seq AS bigint; ALTER SEQUENCE s_id_seq RENAME TO s_seq; SELECT setval('s_seq', 1700000000)`, 0},
		{"rls_bypassed_by_version_views", doctor.Error, "public.t", ``, 14},
		{"foreign_key_without_index", doctor.Warning, "public.u.u_t_id_fkey", `DROP INDEX u_t_id`, 0},
		{"table_without_primary_key", doctor.Warning, "public.nokey", `CREATE TABLE nokey (x integer)`, 0},
		{"duplicate_index", doctor.Warning, "public.u_t_id2", `CREATE INDEX u_t_id2 ON u (t_id)`, 0},
	}
	for _, c := range cases {
		t.Run(c.code+"_"+c.object, func(t *testing.T) {
			db := pgtest.New(t)
			db.Exec(t, clean)
			if c.change != "" {
				db.Exec(t, c.change)
			}
			got := findings(t, db, c.pgMajor)
			var lines []string
			for _, f := range got {
				lines = append(lines, f.String())
			}
			if len(got) != 1 || got[0].Code != c.code || got[0].Object != c.object || got[0].Severity != c.severity {
				t.Fatalf("want one %s %s on %s, got:\n%s", c.severity, c.code, c.object, strings.Join(lines, "\n"))
			}
		})
	}
}
