package pgtest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// snapshotSection is one part of a Snapshot: a query returning one text
// column, already in a deterministic order. perSchema queries take the
// schema list as $1 (text[]).
type snapshotSection struct {
	title     string
	perSchema bool
	query     string
}

// Helpers used inside the queries:
//   - coalesce(x, '-') marks absent values;
//   - quote_literal on free text (comments) keeps "" and "-" apart;
//   - every name is printed schema-qualified with %I, never via regclass
//     (whose output depends on search_path);
//   - ORDER BY uses COLLATE "C" so the order does not depend on the locale.
var snapshotSections = []snapshotSection{
	{
		title: "schemas (all non-system schemas in the database)",
		query: `
SELECT format('%I owner=%s acl=%s comment=%s',
       n.nspname, pg_get_userbyid(n.nspowner), coalesce(n.nspacl::text, '-'),
       coalesce(quote_literal(obj_description(n.oid, 'pg_namespace')), '-'))
FROM pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY n.nspname COLLATE "C"`,
	},
	{
		title:     "relations",
		perSchema: true,
		query: `
SELECT format('%I.%I kind=%s owner=%s persistence=%s replica_identity=%s rls=%s force_rls=%s options=%s acl=%s comment=%s%s%s%s',
       n.nspname, c.relname,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned_table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized_view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign_table'
                      ELSE c.relkind::text END,
       pg_get_userbyid(c.relowner), c.relpersistence, c.relreplident,
       c.relrowsecurity::text, c.relforcerowsecurity::text,
       coalesce((SELECT array_agg(o ORDER BY o COLLATE "C") FROM unnest(c.reloptions) AS o
                 WHERE o NOT LIKE 'pg\_%')::text, '-'),
       coalesce(c.relacl::text, '-'),
       coalesce(quote_literal(obj_description(c.oid, 'pg_class')), '-'),
       CASE WHEN c.relkind = 'p' THEN ' partition_key=' || pg_get_partkeydef(c.oid) ELSE '' END,
       CASE WHEN c.relispartition THEN ' partition_bound=' || pg_get_expr(c.relpartbound, c.oid) ELSE '' END,
       coalesce(' inherits=' || (
           SELECT string_agg(format('%I.%I', pn.nspname, p.relname), ',' ORDER BY i.inhseqno)
           FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
           WHERE i.inhrelid = c.oid), ''))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
	},
	{
		// Columns are numbered by rank among live columns, not attnum, so
		// adding and dropping a column leaves no trace.
		title:     "columns (rank among non-dropped columns)",
		perSchema: true,
		query: `
SELECT format('%I.%I #%s %I %s%s%s%s%s%s%s stattarget=%s%s%s comment=%s',
       a.nspname, a.relname, a.rank, a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attnotnull THEN ' not_null' ELSE '' END,
       CASE WHEN a.attgenerated <> '' THEN ' generated=' || a.attgenerated::text || ' ' || pg_get_expr(d.adbin, d.adrelid)
            WHEN d.adbin IS NOT NULL THEN ' default=' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END,
       CASE a.attidentity WHEN 'a' THEN ' identity=always' WHEN 'd' THEN ' identity=by_default' ELSE '' END,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN format(' collation=%I.%I', cn.nspname, co.collname) ELSE '' END,
       CASE WHEN a.attstorage <> t.typstorage THEN ' storage=' || a.attstorage::text ELSE '' END,
       -- Options named pg_* are not user settings (some builds record
       -- internal bookkeeping there); leave them out.
       coalesce(' options=' || (SELECT array_agg(o ORDER BY o COLLATE "C") FROM unnest(a.attoptions) AS o
                                WHERE o NOT LIKE 'pg\_%')::text, ''),
       coalesce(a.attstattarget::int, -1),
       coalesce(' acl=' || a.attacl::text, ''),
       coalesce(' fdw_options=' || a.attfdwoptions::text, ''),
       coalesce(quote_literal(col_description(a.attrelid, a.attnum)), '-'))
FROM (
    SELECT n.nspname, c.relname, at.attrelid, at.attnum, at.attname, at.atttypid, at.atttypmod,
           at.attnotnull, at.attgenerated, at.attidentity, at.attcollation, at.attstorage,
           at.attoptions, at.attstattarget, at.attacl, at.attfdwoptions,
           row_number() OVER (PARTITION BY at.attrelid ORDER BY at.attnum) AS rank
    FROM pg_attribute at
    JOIN pg_class c ON c.oid = at.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
      AND at.attnum > 0 AND NOT at.attisdropped
) a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
ORDER BY a.nspname COLLATE "C", a.relname COLLATE "C", a.rank`,
	},
	{
		title:     "constraints",
		perSchema: true,
		query: `
SELECT format('%s %I type=%s validated=%s local=%s: %s',
       CASE WHEN c.relname IS NOT NULL THEN format('%I.%I', n.nspname, c.relname)
            ELSE format('domain %I.%I', tn.nspname, t.typname) END,
       k.conname, k.contype, k.convalidated::text, k.conislocal::text, pg_get_constraintdef(k.oid))
FROM pg_constraint k
LEFT JOIN pg_class c ON c.oid = k.conrelid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_type t ON t.oid = k.contypid
LEFT JOIN pg_namespace tn ON tn.oid = t.typnamespace
WHERE n.nspname = ANY($1) OR tn.nspname = ANY($1)
ORDER BY coalesce(n.nspname, tn.nspname) COLLATE "C", coalesce(c.relname, t.typname) COLLATE "C",
         k.conname COLLATE "C", pg_get_constraintdef(k.oid) COLLATE "C"`,
	},
	{
		title:     "indexes",
		perSchema: true,
		query: `
SELECT format('%I.%I %I valid=%s ready=%s live=%s replica_identity=%s clustered=%s comment=%s: %s',
       n.nspname, c.relname, ic.relname, x.indisvalid::text, x.indisready::text, x.indislive::text,
       x.indisreplident::text, x.indisclustered::text,
       coalesce(quote_literal(obj_description(ic.oid, 'pg_class')), '-'),
       pg_get_indexdef(x.indexrelid))
FROM pg_index x
JOIN pg_class ic ON ic.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1)
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", ic.relname COLLATE "C"`,
	},
	{
		// Internal triggers (foreign keys) are left out: their names
		// contain OIDs. The constraints section covers foreign keys.
		title:     "triggers",
		perSchema: true,
		query: `
SELECT format('%I.%I %I enabled=%s: %s', n.nspname, c.relname, g.tgname, g.tgenabled, pg_get_triggerdef(g.oid))
FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1) AND NOT g.tgisinternal
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", g.tgname COLLATE "C"`,
	},
	{
		title:     "rules",
		perSchema: true,
		query: `
SELECT format('%I.%I %I: %s', schemaname, tablename, rulename, definition)
FROM pg_rules
WHERE schemaname = ANY($1)
ORDER BY schemaname COLLATE "C", tablename COLLATE "C", rulename COLLATE "C"`,
	},
	{
		title:     "policies",
		perSchema: true,
		query: `
SELECT format('%I.%I %I cmd=%s permissive=%s roles=%s using=%s check=%s',
       n.nspname, c.relname, p.polname, p.polcmd, p.polpermissive::text,
       (SELECT string_agg(x.role, ',' ORDER BY x.role COLLATE "C")
        FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END AS role
              FROM unnest(p.polroles) AS r) x),
       coalesce(pg_get_expr(p.polqual, p.polrelid), '-'),
       coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-'))
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1)
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", p.polname COLLATE "C"`,
	},
	{
		title:     "view definitions",
		perSchema: true,
		query: `
SELECT format('%I.%I:%s', n.nspname, c.relname,
       replace(E'\n' || rtrim(pg_get_viewdef(c.oid, true)), E'\n', E'\n    '))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1) AND c.relkind IN ('v', 'm')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
	},
	{
		title:     "sequences",
		perSchema: true,
		query: `
SELECT format('%I.%I type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
       n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle::text,
       coalesce((SELECT format('%I.%I.%I', tn.nspname, t.relname, a.attname)
                 FROM pg_depend d
                 JOIN pg_class t ON t.oid = d.refobjid
                 JOIN pg_namespace tn ON tn.oid = t.relnamespace
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                   AND d.deptype IN ('a', 'i')
                 LIMIT 1), '-'))
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1)
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
	},
	{
		// Array types, table row types and multiranges are implied by other
		// objects and left out. Composite type attributes are listed under
		// columns.
		title:     "types",
		perSchema: true,
		query: `
SELECT format('%I.%I kind=%s owner=%s acl=%s comment=%s%s',
       n.nspname, t.typname,
       CASE t.typtype WHEN 'c' THEN 'composite' WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain'
                      WHEN 'r' THEN 'range' WHEN 'b' THEN 'base' ELSE t.typtype::text END,
       pg_get_userbyid(t.typowner), coalesce(t.typacl::text, '-'),
       coalesce(quote_literal(obj_description(t.oid, 'pg_type')), '-'),
       CASE t.typtype
         WHEN 'e' THEN ' labels=' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
                                              FROM pg_enum e WHERE e.enumtypid = t.oid), '')
         WHEN 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod)
                       || CASE WHEN t.typnotnull THEN ' not_null' ELSE '' END
                       || coalesce(' default=' || t.typdefault, '')
         WHEN 'r' THEN (SELECT ' subtype=' || format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
         ELSE '' END)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE n.nspname = ANY($1)
  AND t.typtype IN ('c', 'e', 'd', 'r', 'b')
  AND (t.typtype <> 'c' OR c.relkind = 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C"`,
	},
	{
		// Extension members are left out; see the extensions section.
		title:     "functions",
		perSchema: true,
		query: `
SELECT format('%I.%I(%s) kind=%s returns=%s lang=%s volatility=%s strict=%s security_definer=%s config=%s acl=%s body_md5=%s comment=%s',
       n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
       coalesce(pg_get_function_result(p.oid), '-'), l.lanname, p.provolatile, p.proisstrict::text,
       p.prosecdef::text, coalesce(p.proconfig::text, '-'), coalesce(p.proacl::text, '-'),
       md5(coalesce(p.prosrc, '')),
       coalesce(quote_literal(obj_description(p.oid, 'pg_proc')), '-'))
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY n.nspname COLLATE "C", p.proname COLLATE "C", pg_get_function_identity_arguments(p.oid) COLLATE "C"`,
	},
	{
		title:     "extended statistics",
		perSchema: true,
		query: `
SELECT format('%I.%I: %s', n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid))
FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
WHERE n.nspname = ANY($1)
ORDER BY n.nspname COLLATE "C", s.stxname COLLATE "C"`,
	},
	{
		title: "extensions (whole database)",
		query: `
SELECT format('%I version=%s schema=%I', e.extname, e.extversion, n.nspname)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname COLLATE "C"`,
	},
	{
		title: "event triggers (whole database)",
		query: `
SELECT format('%I event=%s function=%I.%I enabled=%s tags=%s',
       et.evtname, et.evtevent, n.nspname, p.proname, et.evtenabled, coalesce(et.evttags::text, '-'))
FROM pg_event_trigger et
JOIN pg_proc p ON p.oid = et.evtfoid
JOIN pg_namespace n ON n.oid = p.pronamespace
ORDER BY et.evtname COLLATE "C"`,
	},
}

// Snapshot renders a deterministic, human-readable text dump of the catalog
// of the given schemas (all non-system schemas if none are given), for
// comparing a database before and after an operation, e.g. "before start"
// with "after abort". Compare two snapshots with cmp.Diff for a readable
// difference.
//
// It covers: all non-system schema names (so a leftover schema shows up
// even if not listed); tables, views, materialized views, sequences and
// foreign tables with owner, persistence, replica identity, RLS flags,
// reloptions, grants (relacl), comments, partitioning and inheritance;
// columns in attnum order numbered by rank among non-dropped columns (so a
// dropped column leaves no trace) with type, not null, default, identity,
// generated expression, non-default collation and storage, attoptions,
// statistics target, column grants and comments; constraints (definition and
// convalidated) of tables and domains; indexes (pg_get_indexdef, indisvalid,
// indisready, indislive, replica identity, clustered); user triggers
// (pg_get_triggerdef, enabled state); rules; RLS policies; view definitions;
// sequence parameters and ownership; enum, domain, range, composite and base
// types; functions and procedures (identity arguments, result, language,
// volatility, strictness, SECURITY DEFINER, config, grants, md5 of the body);
// extended statistics; plus, database-wide, extensions and event triggers.
//
// OIDs, attnums of dropped columns and internal (foreign key) triggers never
// appear, so snapshots of two databases with the same schema are equal.
//
// The output does not depend on the connection's settings: Snapshot runs in
// a transaction (a savepoint if conn is already in one) with search_path =
// pg_catalog, so every name in definitions is schema-qualified, and fixed
// TimeZone, DateStyle, IntervalStyle and extra_float_digits. It rolls the
// transaction (or savepoint) back, leaving conn as it was.
func Snapshot(ctx context.Context, conn *pgx.Conn, schemas ...string) (snap string, err error) {
	var begin, end []string
	switch st := conn.PgConn().TxStatus(); st {
	case 'I':
		begin = []string{"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"}
		end = []string{"ROLLBACK"}
	case 'T':
		begin = []string{"SAVEPOINT strata_pgtest_snapshot"}
		end = []string{"ROLLBACK TO SAVEPOINT strata_pgtest_snapshot", "RELEASE SAVEPOINT strata_pgtest_snapshot"}
	default:
		return "", fmt.Errorf("pgtest: snapshot: connection is in transaction status %q (failed transaction?)", st)
	}
	begin = append(begin, `SET LOCAL search_path = pg_catalog`, `SET LOCAL TimeZone = 'UTC'`,
		`SET LOCAL DateStyle = 'ISO, MDY'`, `SET LOCAL IntervalStyle = 'postgres'`,
		`SET LOCAL extra_float_digits = 1`, `SET LOCAL quote_all_identifiers = off`)
	for _, q := range begin {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("pgtest: snapshot: %s: %w", q, err)
		}
	}
	defer func() {
		for _, q := range end {
			if _, endErr := conn.Exec(context.WithoutCancel(ctx), q); endErr != nil && err == nil {
				snap, err = "", fmt.Errorf("pgtest: snapshot: %s: %w", q, endErr)
			}
		}
	}()
	return snapshot(ctx, conn, schemas)
}

func snapshot(ctx context.Context, conn *pgx.Conn, schemas []string) (string, error) {
	if len(schemas) == 0 {
		rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace
			WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname COLLATE "C"`)
		if err != nil {
			return "", fmt.Errorf("pgtest: snapshot: list schemas: %w", err)
		}
		schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", fmt.Errorf("pgtest: snapshot: list schemas: %w", err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot of schemas %s\n", strings.Join(schemas, ", "))
	for _, sec := range snapshotSections {
		var args []any
		if sec.perSchema {
			args = []any{schemas}
		}
		rows, err := conn.Query(ctx, sec.query, args...)
		if err != nil {
			return "", fmt.Errorf("pgtest: snapshot: %s: %w", sec.title, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", fmt.Errorf("pgtest: snapshot: %s: %w", sec.title, err)
		}
		fmt.Fprintf(&b, "\n== %s\n", sec.title)
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}
