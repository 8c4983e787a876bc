package lint

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// ruleUnguardedUpExpression checks the up and down expressions of migration
// files (LintMigration), not SQL statements: it has no per-statement check.
var ruleUnguardedUpExpression = rule{
	Rule: Rule{
		Code:     "SA030",
		Name:     "unguarded-up-expression",
		Group:    GroupCompat,
		Severity: SeverityWarning,
		Message:  "an up or down expression can fail, or yield NULL for a NOT NULL column, on values the other version can write",
		Why: "While both versions run, strata's sync trigger computes up for every row the old version writes (and " +
			"down for every row the new version writes), inside that write. A bare cast of a text column " +
			"(score::integer) fails on any value that is not a number, and an expression over a nullable column " +
			"(initcap(name)) yields NULL, which a NOT NULL column refuses: either way the old version's insert or " +
			"update fails, in production, for values it was always allowed to write; at start, existing rows with " +
			"such values make the backfill fail. The rule looks at migration files only (strata lint on .toml and " +
			".json files); a cast is not reported when Config.ColumnTypes says its column is not a string type, nor a " +
			"NULL when Config.NotNullColumns lists every column the expression reads (strata lint fills both from " +
			"the database when it has a connection).",
		SafeWay: "Make the expression total over every value the old version can write: guard casts " +
			"(CASE WHEN score ~ '^[-+]?[0-9]{1,9}$' THEN score::integer END, or NULLIF(score, '')::integer when " +
			"the column only ever holds numbers or empty strings) and wrap expressions over nullable columns in " +
			"coalesce(initcap(name), ''). Decide what the new version sees for values that have no meaning in it.",
	},
}

// textTypes are the string types a cast from which parses text.
var textTypes = map[string]bool{"text": true, "varchar": true, "bpchar": true, "citext": true, "name": true,
	"character varying": true, "character": true, "char": true}

// nonNullFuncs never return NULL (whatever their arguments).
var nonNullFuncs = map[string]bool{"coalesce": true, "concat": true, "concat_ws": true, "format": true,
	"num_nulls": true, "num_nonnulls": true, "now": true, "current_timestamp": true, "gen_random_uuid": true}

// checkUnguardedExpressions reports the up/down expressions of action a
// (at base, e.g. "actions[0]") that this rule finds.
func checkUnguardedExpressions(m *migration.Migration, a migration.Action, base string, cfg *Config) []Finding {
	r := &ruleUnguardedUpExpression
	if !cfg.Enabled(r.Rule) {
		return nil
	}
	type expr struct {
		key, sql, table string
		notNull         bool
	}
	var exprs []expr
	switch a := a.(type) {
	case *migration.AlterColumn:
		notNull := a.Changes.Nullable != nil && !*a.Changes.Nullable
		if a.Changes.Type != nil || notNull {
			exprs = append(exprs, expr{".up", a.Up, a.Table, notNull})
		}
		if a.Changes.Type != nil {
			exprs = append(exprs, expr{".down", a.Down, a.Table, false})
		}
	case *migration.AddColumn:
		if a.Up != nil && !a.Up.MultiTable() {
			exprs = append(exprs, expr{".up", a.Up.Expr, a.Table, !a.Column.Nullable})
		}
	}
	var out []Finding
	for _, e := range exprs {
		if strings.TrimSpace(e.sql) == "" {
			continue
		}
		n, err := pgquery.ParseExpr(e.sql)
		if err != nil {
			continue // SA000 reports it
		}
		var msgs []string
		for _, c := range unguardedCasts(n) {
			if typ, ok := knownType(cfg, e.table, c.column); ok && !textTypes[typ] {
				continue
			}
			msgs = append(msgs, fmt.Sprintf("%s::%s fails on a value of %s that is not a valid %s", c.column, c.typ, c.column, c.typ))
		}
		if e.notNull {
			if col := nullableSource(n, func(c string) bool { return knownNotNull(cfg, e.table, c) }); col != "" {
				msgs = append(msgs, fmt.Sprintf("the column is NOT NULL but the expression is NULL when %s is NULL (not wrapped in coalesce)", col))
			}
		}
		for _, msg := range msgs {
			out = append(out, Finding{File: m.File, Line: m.Lines[base+e.key], Column: 1, Code: r.Code, Rule: r.Name,
				Severity: r.Severity, Message: fmt.Sprintf("%s%s: %s: guard it so every value the other version writes maps to one", base, e.key, msg),
				Why: r.Why, SafeWay: r.SafeWay, Statement: e.sql})
		}
	}
	return out
}

type castOf struct{ column, typ string }

// unguardedCasts lists the casts of a bare column to a type that is not a
// string type, outside any CASE (which is how a cast is guarded).
func unguardedCasts(root *pgquery.Node) []castOf {
	var out []castOf
	pgquery.Walk(root, func(n *pgquery.Node) bool {
		if n.GetCaseExpr() != nil {
			return false
		}
		tc := n.GetTypeCast()
		if tc == nil || tc.Arg == nil || tc.Arg.GetColumnRef() == nil {
			return true
		}
		typ := pgquery.CanonicalType(tc.TypeName)
		if textTypes[typ] {
			return true
		}
		out = append(out, castOf{column: columnName(tc.Arg.GetColumnRef()), typ: pgquery.TypeString(tc.TypeName)})
		return true
	})
	return out
}

// nullableSource returns a column the expression reads when the expression
// can be NULL because of it: "" when the expression is a coalesce, a
// function that never yields NULL, a CASE with an ELSE, a test, a constant,
// or reads no column that is not known (notNull) to be NOT NULL.
func nullableSource(n *pgquery.Node, notNull func(column string) bool) string {
	switch {
	case n.GetCoalesceExpr() != nil, n.GetNullTest() != nil, n.GetBooleanTest() != nil:
		return ""
	case n.GetCaseExpr() != nil && n.GetCaseExpr().Defresult != nil:
		return ""
	case n.GetFuncCall() != nil:
		names := pgquery.Strs(n.GetFuncCall().Funcname)
		if len(names) > 0 && nonNullFuncs[strings.ToLower(names[len(names)-1])] {
			return ""
		}
	case n.GetTypeCast() != nil:
		return nullableSource(n.GetTypeCast().Arg, notNull)
	}
	col := ""
	pgquery.Walk(n, func(c *pgquery.Node) bool {
		if col != "" {
			return false
		}
		if cr := c.GetColumnRef(); cr != nil && !notNull(columnName(cr)) {
			col = columnName(cr)
		}
		return true
	})
	return col
}

// knownNotNull tells whether Config.NotNullColumns lists table.column.
func knownNotNull(cfg *Config, table, column string) bool {
	for _, k := range cfg.NotNullColumns {
		if k == table+"."+column || k == "public."+table+"."+column {
			return true
		}
	}
	return false
}

func columnName(cr *pgquery.ColumnRef) string {
	names := pgquery.Strs(cr.Fields)
	return strings.Join(names, ".")
}

var typeMods = regexp.MustCompile(`\s*\(.*$`)

// knownType is the type Config.ColumnTypes gives table.column, its modifiers
// left out, lower case.
func knownType(cfg *Config, table, column string) (string, bool) {
	for _, k := range []string{table + "." + column, "public." + table + "." + column} {
		if t, ok := cfg.ColumnTypes[k]; ok {
			return strings.ToLower(strings.TrimSpace(typeMods.ReplaceAllString(t, ""))), true
		}
	}
	return "", false
}
