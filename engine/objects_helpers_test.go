package engine_test

import (
	"strings"
	"testing"
)

// Helpers of the index, constraint, enum and column-replacement tests.

// indexes lists the indexes of schema.table: "name valid=...: definition",
// with the definition as pg_get_indexdef prints it under search_path
// public (so without "public.").
func (e *env) indexes(schema, table string) []string {
	e.t.Helper()
	return queryStrings(e.t, e.ctx, e.catalogConn(), `SELECT c.relname || ' valid=' || x.indisvalid || ': ' || pg_get_indexdef(c.oid)
		FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = $1 AND t.relname = $2 ORDER BY c.relname COLLATE "C"`, schema, table)
}

// constraints lists the constraints of schema.table: "name validated=...: definition".
func (e *env) constraints(schema, table string) []string {
	e.t.Helper()
	return queryStrings(e.t, e.ctx, e.catalogConn(), `SELECT k.conname || ' validated=' || k.convalidated || ': ' || pg_get_constraintdef(k.oid)
		FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = $1 AND t.relname = $2 AND k.contype <> 'n' ORDER BY k.conname COLLATE "C"`, schema, table)
}

// invalidIndexes lists the INVALID indexes of the database.
func (e *env) invalidIndexes() []string {
	e.t.Helper()
	return queryStrings(e.t, e.ctx, e.catalogConn(), `SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
		WHERE NOT x.indisvalid OR NOT x.indisready ORDER BY 1`)
}

// usesIndex checks that the plan of query on the catalog connection (base
// tables) with sequential scans off uses the named index.
func (e *env) usesIndex(t *testing.T, index, query string, args ...any) {
	t.Helper()
	conn := e.db.Conn(t)
	exec(t, e.ctx, conn, "SET enable_seqscan = off")
	plan := strings.Join(queryStrings(t, e.ctx, conn, "EXPLAIN "+query, args...), "\n")
	if !strings.Contains(plan, " "+index+" ") && !strings.Contains(plan, " "+index+"\n") && !strings.HasSuffix(plan, " "+index) {
		t.Errorf("the plan of %s does not use index %s:\n%s", query, index, plan)
	}
}

// withSubstring returns the rows that contain s.
func withSubstring(rows []string, s string) []string {
	var out []string
	for _, r := range rows {
		if strings.Contains(r, s) {
			out = append(out, r)
		}
	}
	return out
}

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
