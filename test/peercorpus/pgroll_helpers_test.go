package peercorpus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/migration"
)

// pgrollExpect is one line of testdata/pgroll-expected.tsv.
type pgrollExpect struct {
	id       string
	result   string // pass, fails-at-start, fails-at-complete, fails-at-abort
	warnings []string
}

// pgrollReadExpected reads the expectations: id, result, then one column
// per expected warning (exact text, as strata convert prints it).
func pgrollReadExpected(t *testing.T, file string) map[string]pgrollExpect {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]pgrollExpect{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			t.Fatalf("%s:%d: want id, result and warnings separated by tabs", file, i+1)
		}
		switch f[1] {
		case "pass", "fails-at-start", "fails-at-abort", "fails-at-complete":
		default:
			t.Fatalf("%s:%d: result %q: want pass, fails-at-start, fails-at-abort or fails-at-complete", file, i+1, f[1])
		}
		if _, dup := out[f[0]]; dup {
			t.Fatalf("%s:%d: %s given twice", file, i+1, f[0])
		}
		out[f[0]] = pgrollExpect{id: f[0], result: f[1], warnings: f[2:]}
	}
	return out
}

// pgrollSeeds reads testdata/pgroll-seed.sql: "-- after NN" lines start
// the SQL run after step NN completes.
func pgrollSeeds(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	cur := ""
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "-- after "); ok {
			cur = s
			continue
		}
		if cur != "" {
			out[cur] += line
		}
	}
	return out
}

// pgrollStrata runs the strata CLI in-process.
func pgrollStrata(url, dir string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), append([]string{"--url", url, "--dir", dir}, args...), nil, &out, &errb)
	if code != 0 {
		return out.String(), fmt.Errorf("strata %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), nil
}

// pgrollSchemas lists the non-system schemas.
func pgrollSchemas(ctx context.Context, t *testing.T, conn *pgx.Conn) map[string]bool {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// pgrollCounts returns the row count of every table of public.
func pgrollCounts(ctx context.Context, t *testing.T, conn *pgx.Conn) map[string]int64 {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r','p') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM public."+pgx.Identifier{n}.Sanitize()).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// pgrollVersionNames maps each base table to its name in the new version
// (renamed by rename_table, gone with remove_table) from the converted
// migration.
func pgrollVersionNames(t *testing.T, file string, data []byte, tables map[string]int64) map[string]string {
	t.Helper()
	m, err := migration.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for n := range tables {
		out[n] = n
	}
	for _, a := range m.Actions {
		switch a := a.(type) {
		case *migration.RenameTable:
			for b, cur := range out {
				if cur == a.Table {
					out[b] = a.NewName
				}
			}
		case *migration.RemoveTable:
			for b, cur := range out {
				if cur == a.Table {
					delete(out, b)
				}
			}
		}
	}
	return out
}

// pgrollCheckRows counts every table's rows through a version (its search
// path) under the name that version gives the table, and wants the counts
// the base tables had.
func pgrollCheckRows(ctx context.Context, conn *pgx.Conn, searchPath string, names map[string]string, want map[string]int64) error {
	if _, err := conn.Exec(ctx, "SET search_path TO "+searchPath); err != nil {
		return err
	}
	defer conn.Exec(ctx, "RESET search_path") //nolint:errcheck
	var bad []string
	for base, n := range names {
		var c int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{n}.Sanitize()).Scan(&c); err != nil {
			return fmt.Errorf("reading %s through search_path %s: %w", n, searchPath, err)
		}
		if c != want[base] {
			bad = append(bad, fmt.Sprintf("%s: %d rows, want %d", n, c, want[base]))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("through search_path %s: %s", searchPath, strings.Join(bad, "; "))
	}
	return nil
}

// pgrollProbeInsert inserts one row into relation rel through a version,
// giving a value to every column that has no default (a marker text, a
// number, now(), the enum's first label...), reads it back, and deletes it
// again, so that later steps see only the seed rows. An integrity error
// (class 23: a foreign key, check or NOT NULL the made-up row breaks) means
// the table does not take an arbitrary row: ok is false. Any other error
// is returned.
func pgrollProbeInsert(ctx context.Context, conn *pgx.Conn, searchPath, rel string, n int) (ok bool, err error) {
	if _, err := conn.Exec(ctx, "SET search_path TO "+searchPath); err != nil {
		return false, err
	}
	defer conn.Exec(ctx, "RESET search_path") //nolint:errcheck
	rows, err := conn.Query(ctx, `
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typtype::text,
       (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder LIMIT 1),
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
         OR EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum)
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, rel)
	if err != nil {
		return false, err
	}
	type col struct {
		name, typ, kind string
		label           *string
		hasDef          bool
	}
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.name, &c.typ, &c.kind, &c.label, &c.hasDef); err != nil {
			return false, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	var names, vals []string
	for _, c := range cols {
		if c.hasDef {
			continue
		}
		names = append(names, pgx.Identifier{c.name}.Sanitize())
		vals = append(vals, pgrollValue(c.typ, c.kind, c.label, n))
	}
	q := "INSERT INTO " + pgx.Identifier{rel}.Sanitize()
	if len(names) == 0 {
		q += " DEFAULT VALUES"
	} else {
		q += " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
	}
	first := pgx.Identifier{cols[0].name}.Sanitize()
	var key string
	if err := conn.QueryRow(ctx, q+" RETURNING "+first+"::text", nil...).Scan(&key); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "23") {
			return false, nil
		}
		return false, fmt.Errorf("%s: %w", q, err)
	}
	var c int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{rel}.Sanitize()+" WHERE "+first+"::text = $1", key).Scan(&c); err != nil || c != 1 {
		return false, fmt.Errorf("reading back the row inserted into %s: %d rows (%v)", rel, c, err)
	}
	if _, err := conn.Exec(ctx, "DELETE FROM "+pgx.Identifier{rel}.Sanitize()+" WHERE "+first+"::text = $1", key); err != nil {
		return false, fmt.Errorf("deleting the probe row of %s: %w", rel, err)
	}
	return true, nil
}

func pgrollValue(typ, kind string, label *string, n int) string {
	switch {
	case label != nil:
		return "'" + strings.ReplaceAll(*label, "'", "''") + "'"
	case strings.HasPrefix(typ, "time") || strings.HasPrefix(typ, "date"):
		return "now()"
	case typ == "boolean":
		return "true"
	case strings.Contains(typ, "int") || strings.HasPrefix(typ, "numeric") || strings.HasPrefix(typ, "double") || typ == "real":
		return fmt.Sprintf("%d", 900000+n)
	case strings.HasPrefix(typ, "jsonb") || strings.HasPrefix(typ, "json"):
		return "'{}'"
	}
	_ = kind
	return fmt.Sprintf("'probe-%d'", n)
}

// pgrollVersionRelations lists the relations a client with this search
// path reaches by name (the version schema's views first, then public's
// tables), skipping strata's tombstones.
func pgrollVersionRelations(ctx context.Context, conn *pgx.Conn, vs string) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r','p','v')
  AND NOT coalesce(c.reloptions @> ARRAY['check_option=local'], false)
UNION
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p')
  AND NOT EXISTS (SELECT 1 FROM pg_class v WHERE v.relnamespace = $1::regnamespace AND v.relname = c.relname)
ORDER BY 1`, vs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func pgrollWriteFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o666); err != nil {
		t.Fatal(err)
	}
}
