// Package doctor reports what needs attention in a managed schema whatever
// its history: INVALID indexes, NOT VALID constraints, strata objects left
// by an interrupted command, sequences near the end of their range, RLS
// tables that version views would bypass, and a few things a DBA checks
// before a migration.
package doctor

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Severities.
const (
	Error   = "error"
	Warning = "warning"
)

// Finding is one thing that needs attention.
type Finding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Object   string `json:"object"`
	Message  string `json:"message"`
	Hint     string `json:"hint"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%-7s %-28s %s: %s (hint: %s)", f.Severity, f.Code, f.Object, f.Message, f.Hint)
}

// Options say what the caller knows.
type Options struct {
	Schema string
	// PhaseInProgress: strata's _strata_ objects belong to a running
	// phase, they are not leftovers.
	PhaseInProgress bool
	// PGMajor is the server's major version.
	PGMajor int
	// SequenceThreshold is the used fraction of a sequence's range that is
	// reported; default 0.75.
	SequenceThreshold float64
}

type check struct {
	code, severity, sql, message, hint string
	when                               func(o Options) bool
}

var checks = []check{
	{code: "invalid_index", severity: Error,
		sql: `SELECT quote_ident(n.nspname)||'.'||quote_ident(c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT i.indisvalid ORDER BY 1`,
		message: "the index is INVALID (a failed or interrupted CREATE INDEX CONCURRENTLY): queries do not use it, writes still maintain it",
		hint:    "DROP INDEX CONCURRENTLY it, then build it again with CREATE INDEX CONCURRENTLY"},
	{code: "not_valid_constraint", severity: Warning,
		sql: `SELECT quote_ident(n.nspname)||'.'||quote_ident(c.relname)||'.'||quote_ident(co.conname) FROM pg_constraint co
			JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND NOT co.convalidated ORDER BY 1`,
		message: "the constraint is NOT VALID: existing rows were never checked",
		hint:    "ALTER TABLE ... VALIDATE CONSTRAINT (takes only SHARE UPDATE EXCLUSIVE)"},
	{code: "strata_leftover", severity: Error, when: func(o Options) bool { return !o.PhaseInProgress },
		sql: `SELECT kind||' '||name FROM (
			SELECT 'column' AS kind, quote_ident(n.nspname)||'.'||quote_ident(c.relname)||'.'||quote_ident(a.attname) AS name
				FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.attname LIKE '\_strata\_%'
			UNION ALL SELECT CASE c.relkind WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' ELSE 'relation' END, quote_ident(n.nspname)||'.'||quote_ident(c.relname)
				FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE '\_strata\_%'
			UNION ALL SELECT 'trigger', quote_ident(n.nspname)||'.'||quote_ident(c.relname)||'.'||quote_ident(t.tgname)
				FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND t.tgname LIKE '\_strata\_%'
			UNION ALL SELECT 'constraint', quote_ident(n.nspname)||'.'||quote_ident(c.relname)||'.'||quote_ident(co.conname)
				FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND co.conname LIKE '\_strata\_%'
			UNION ALL SELECT 'function', quote_ident(n.nspname)||'.'||quote_ident(p.proname)
				FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname LIKE '\_strata\_%'
		) x ORDER BY 1`,
		message: "strata's object is left by an interrupted command (no phase is in progress)",
		hint:    "if a strata process was killed, run strata status; otherwise drop the object"},
	{code: "rls_bypassed_by_version_views", severity: Error, when: func(o Options) bool { return o.PGMajor > 0 && o.PGMajor < 15 },
		sql: `SELECT quote_ident(n.nspname)||'.'||quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relrowsecurity ORDER BY 1`,
		message: "the table has row level security, and on PostgreSQL before 15 views run as their owner (no security_invoker): the version schema's view bypasses its policies",
		hint:    "upgrade to PostgreSQL 15+, or keep the table out of expand/contract migrations"},
	{code: "foreign_key_without_index", severity: Warning,
		sql: `SELECT quote_ident(n.nspname)||'.'||quote_ident(c.relname)||'.'||quote_ident(co.conname) FROM pg_constraint co
			JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND co.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = co.conrelid
				AND (i.indkey::int2[])[0:cardinality(co.conkey) - 1] @> co.conkey AND (i.indkey::int2[])[0:cardinality(co.conkey) - 1] <@ co.conkey)
			ORDER BY 1`,
		message: "no index starts with the foreign key's columns: deletes and updates of the referenced table scan this one",
		hint:    "CREATE INDEX CONCURRENTLY on the foreign key's columns"},
	{code: "table_without_primary_key", severity: Warning,
		sql: `SELECT quote_ident(n.nspname)||'.'||quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname NOT LIKE '\_strata\_%'
			AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conrelid = c.oid AND co.contype = 'p') ORDER BY 1`,
		message: "the table has no primary key: backfills and logical replication need one",
		hint:    "add a primary key (build a unique index CONCURRENTLY, then ADD PRIMARY KEY USING INDEX)"},
	{code: "duplicate_index", severity: Warning,
		sql: `SELECT quote_ident(n.nspname)||'.'||quote_ident(c2.relname) FROM pg_index a JOIN pg_index b ON a.indrelid = b.indrelid
			AND a.indexrelid < b.indexrelid AND a.indkey::text = b.indkey::text AND a.indclass::text = b.indclass::text
			AND coalesce(pg_get_expr(a.indexprs, a.indrelid), '') = coalesce(pg_get_expr(b.indexprs, b.indrelid), '')
			AND coalesce(pg_get_expr(a.indpred, a.indrelid), '') = coalesce(pg_get_expr(b.indpred, b.indrelid), '')
			AND a.indisunique = b.indisunique
			JOIN pg_class c2 ON c2.oid = b.indexrelid JOIN pg_namespace n ON n.oid = c2.relnamespace
			WHERE n.nspname = $1 ORDER BY 1`,
		message: "another index of the table has the same definition: it costs writes and space for nothing",
		hint:    "DROP INDEX CONCURRENTLY one of them"},
}

// seqQuery lists the sequences of the schema (identity ones too) with the
// range they can really use: the smaller of the sequence's and, when it
// feeds a column, the column type's.
const seqQuery = `SELECT quote_ident(s.schemaname)||'.'||quote_ident(s.sequencename), coalesce(s.last_value, s.start_value)::float8,
	s.min_value::float8, s.max_value::float8, s.increment_by::float8,
	coalesce((SELECT CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 END
		FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_class'::regclass AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
		AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1), s.max_value)::float8
FROM pg_sequences s WHERE s.schemaname = $1 ORDER BY 1`

// Check runs every check on the schema, over q (one snapshot is best).
// The number of queries does not depend on the number of objects.
func Check(ctx context.Context, q pgx.Tx, o Options) ([]Finding, error) {
	if o.SequenceThreshold == 0 {
		o.SequenceThreshold = 0.75
	}
	out := []Finding{}
	for _, c := range checks {
		if c.when != nil && !c.when(o) {
			continue
		}
		rows, err := q.Query(ctx, c.sql, o.Schema)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.code, err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.code, err)
		}
		for _, n := range names {
			out = append(out, Finding{Severity: c.severity, Code: c.code, Object: n, Message: c.message, Hint: c.hint})
		}
	}
	rows, err := q.Query(ctx, seqQuery, o.Schema)
	if err != nil {
		return nil, fmt.Errorf("sequences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var last, min, max, inc, colMax float64
		if err := rows.Scan(&name, &last, &min, &max, &inc, &colMax); err != nil {
			return nil, fmt.Errorf("sequences: %w", err)
		}
		limit := max
		if colMax < limit {
			limit = colMax
		}
		var used float64
		if inc > 0 {
			used = (last - min) / (limit - min)
		} else {
			used = (max - last) / (max - min)
		}
		if used >= o.SequenceThreshold {
			out = append(out, Finding{Severity: Error, Code: "sequence_near_limit", Object: name,
				Message: fmt.Sprintf("the sequence has used %.0f%% of its range (at %.0f of %.0f)", used*100, last, limit),
				Hint:    "widen the column and the sequence to bigint (strata alter_column type) before it runs out"})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sequences: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity == Error
		}
		return false
	})
	return out, nil
}
