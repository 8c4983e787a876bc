package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// LintMigration lints the SQL written inside a strata migration file: the
// SQL of custom actions (each part runs in its own transaction, with
// lock_timeout set by strata) and every SQL expression (up, down, defaults,
// checks, where), which must at least parse. src is the file's content,
// used to place findings on the file's lines.
func LintMigration(m *migration.Migration, src []byte, cfg Config) ([]Finding, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	cfg.InTransaction = true
	cfg.AssumeLockTimeout = true
	lines := strings.Split(string(src), "\n")
	var out []Finding
	for i, a := range m.Actions {
		base := fmt.Sprintf("actions[%d]", i)
		for key, expr := range expressions(a) {
			if expr == "" {
				continue
			}
			if _, err := pgquery.Parse("SELECT (" + expr + ")"); err != nil {
				r := lookupRule(codeSyntax)
				out = append(out, Finding{File: m.File, Line: m.Lines[base+key], Column: 1, Code: r.Code, Rule: r.Name,
					Severity: r.Severity, Message: fmt.Sprintf("%s%s: the expression does not parse: %s", base, key, syntaxMessage(err)),
					Why: r.Why, SafeWay: r.SafeWay, Statement: expr})
			}
		}
		out = append(out, checkUnguardedExpressions(m, a, base, &cfg)...)
		c, ok := a.(*migration.Custom)
		if !ok {
			continue
		}
		for _, part := range []struct{ key, sql string }{{".start", c.Start}, {".complete", c.Complete}, {".abort", c.Abort}} {
			if part.sql == "" {
				continue
			}
			line := m.Lines[base+part.key]
			// A multi-line string starts on the line after its key.
			if line > 0 && line <= len(lines) {
				l := strings.TrimSpace(lines[line-1])
				if strings.HasSuffix(l, `"""`) || strings.HasSuffix(l, `'''`) {
					line++
				}
			}
			found, err := LintSQL(m.File, []byte(part.sql), cfg)
			if err != nil {
				return nil, err
			}
			for _, f := range found {
				if line > 0 {
					f.Line += line - 1
				}
				out = append(out, f)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Message < out[j].Message
	})
	return out, nil
}

func syntaxMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "pgquery") {
		return msg[i+2:]
	}
	return msg
}

// expressions lists the SQL expressions of an action by key suffix.
func expressions(a migration.Action) map[string]string {
	out := map[string]string{}
	col := func(prefix string, c migration.Column) {
		if c.Default != nil {
			out[prefix+".default"] = *c.Default
		}
	}
	val := func(key string, v *migration.Value) {
		if v == nil {
			return
		}
		if v.MultiTable() {
			out[key+".value"] = v.Expr
			out[key+".where"] = v.Where
		} else {
			out[key] = v.Expr
		}
	}
	switch a := a.(type) {
	case *migration.CreateTable:
		for i, c := range a.Columns {
			col(fmt.Sprintf(".columns[%d]", i), c)
		}
		for i, c := range a.Checks {
			out[fmt.Sprintf(".checks[%d].expression", i)] = c.Expression
		}
		for i, x := range a.Exclude {
			out[fmt.Sprintf(".exclude[%d].where", i)] = x.Where
			for j, e := range x.Elements {
				if e.Raw == "" {
					out[fmt.Sprintf(".exclude[%d].elements[%d].expression", i, j)] = e.Expression
				}
			}
		}
		if a.Up != nil {
			for _, v := range a.Up.Values {
				out[".up.values."+v.Column] = v.Expr
			}
			out[".up.where"] = a.Up.Where
		}
	case *migration.AddColumn:
		col(".column", a.Column)
		val(".up", a.Up)
	case *migration.AlterColumn:
		out[".up"] = a.Up
		out[".down"] = a.Down
		if a.Changes.Default != nil {
			out[".changes.default"] = *a.Changes.Default
		}
	case *migration.RemoveColumn:
		val(".down", a.Down)
	case *migration.AddIndex:
		out[".index.where"] = a.Index.Where
		for i, c := range a.Index.Columns {
			if strings.HasPrefix(strings.TrimSpace(c.Expression), "(") {
				out[fmt.Sprintf(".index.columns[%d]", i)] = c.Expression
			} else if c.Expression != "" {
				out[fmt.Sprintf(".index.columns[%d].expression", i)] = c.Expression
			}
		}
	case *migration.AddCheck:
		out[".check.expression"] = a.Check.Expression
	}
	return out
}
