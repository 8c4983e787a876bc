package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratapg/strata/plan"
)

type crossTrig struct {
	before map[string][]string // "old" / "new" -> statements
	after  map[string][]string
}

func (p *planner) crossTriggers() (map[string]*crossTrig, []string) {
	trigs := map[string]*crossTrig{}
	var order []string
	get := func(phys string) *crossTrig {
		t := trigs[phys]
		if t == nil {
			t = &crossTrig{before: map[string][]string{}, after: map[string][]string{}}
			trigs[phys] = t
			order = append(order, phys)
		}
		return t
	}
	for _, f := range p.cross.fills {
		p.fillTriggers(f, get(f.S.Phys))
	}
	for _, l := range p.cross.links {
		p.linkTriggers(l, get(l.T.Phys), get(l.O.Phys))
	}
	sort.Strings(order)
	return trigs, order
}

// fillTriggers: the old version writes S; the matching rows of N follow.
func (p *planner) fillTriggers(f *tableFill, s *crossTrig) {
	nq := qual(p.schema, f.N.Phys)
	var cols, exprs, pkExprs, notNull, set []string
	pk := map[string]bool{}
	for _, k := range f.On {
		pk[k] = true
	}
	exprOf := map[string]string{}
	for _, v := range f.Values {
		c := f.N.col(v.Column)
		cols = append(cols, ident(c.Phys))
		exprs = append(exprs, "("+v.Expr+")")
		exprOf[c.Phys] = "(" + v.Expr + ")"
		if !pk[c.Phys] {
			set = append(set, ident(c.Phys)+" = EXCLUDED."+ident(c.Phys))
		}
	}
	for _, k := range f.On {
		e := exprOf[k]
		if e == "" {
			e = "NULL"
		}
		pkExprs = append(pkExprs, e)
		notNull = append(notNull, e+" IS NOT NULL")
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	upsert := func(row string) string {
		return "INSERT INTO " + nq + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") +
			" FROM " + rowSource(f.S, row, f.S.Name) + " WHERE " + strings.Join(notNull, " AND ") +
			" ON CONFLICT (" + identList(f.On) + ") " + conflict
	}
	pkRow := "ROW(" + strings.Join(qualified(f.N.Name, f.On), ", ") + ")"
	// On UPDATE, the row of N the old values determined goes, unless the new
	// values determine the same one (then the upsert below updates it).
	stale := pkRow + " = (SELECT " + strings.Join(pkExprs, ", ") + " FROM " + rowSource(f.S, "OLD", f.S.Name) + ")" +
		" AND NOT EXISTS (SELECT 1 FROM " + rowSource(f.S, "NEW", f.S.Name) + " WHERE " + pkRow +
		" IS NOT DISTINCT FROM ROW(" + strings.Join(pkExprs, ", ") + "))"
	// On UPDATE, the row of N is written only when the values it takes
	// from S change: an old-version write to other columns of S (a user's
	// name) must not lock rows of N, or it could deadlock with a
	// new-version write to them (which locks N's row before S's). Compared
	// as text: false positives only cost an upsert, and every type has one.
	changed := "(SELECT ROW(" + strings.Join(exprs, ", ") + ")::text FROM " + rowSource(f.S, "NEW", f.S.Name) + ")" +
		" IS DISTINCT FROM (SELECT ROW(" + strings.Join(exprs, ", ") + ")::text FROM " + rowSource(f.S, "OLD", f.S.Name) + ")"
	s.after["old"] = append(s.after["old"],
		"IF TG_OP = 'DELETE' THEN\n  DELETE FROM "+nq+" AS "+ident(f.N.Name)+" USING "+rowSource(f.S, "OLD", f.S.Name)+" WHERE ("+f.Where+");\nEND IF;",
		"IF TG_OP = 'UPDATE' THEN\n  DELETE FROM "+nq+" AS "+ident(f.N.Name)+" WHERE "+stale+";\nEND IF;",
		"IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND "+changed+") THEN\n  "+upsert("NEW")+";\nEND IF;")
}

// related renders the key rows of t that a row (NEW or OLD) of o relates to
// through where.
func (p *planner) related(t, o *vTable, row, where string) string {
	return "SELECT " + strings.Join(qualified(t.Name, keyNames(t)), ", ") + " FROM " + p.tableSource(t, t.Name) +
		", " + rowSource(o, row, o.Name) + " WHERE (" + where + ")"
}

// derive renders the value of l's column for the row of T bound to alias
// tRow (a FROM item), taking the first matching row of O in key order.
func (p *planner) derive(l *link, tRow string) string {
	order := ""
	if names := keyNames(l.O); len(names) > 0 {
		order = " ORDER BY " + strings.Join(qualified(l.O.Name, names), ", ")
	}
	return "(SELECT (" + l.Value + ") FROM " + p.tableSource(l.O, l.O.Name) + ", " + tRow + " WHERE (" + l.Where + ")" + order + " LIMIT 1)"
}

// linkTriggers: the driving version writes O; the related rows of T are
// recomputed. It writes T; the column is computed from O.
func (p *planner) linkTriggers(l *link, t, o *crossTrig) {
	ver := "new"
	if l.Up {
		ver = "old"
	}
	tq := qual(p.schema, l.T.Phys)
	keyRow := strings.Join(qualified("_strata_t", l.T.Key), ", ")
	if len(l.T.Key) > 1 {
		keyRow = "ROW(" + keyRow + ")"
	}
	lock := func(row string) string {
		return "PERFORM 1 FROM " + tq + " AS _strata_t WHERE " + keyRow + " IN (" + p.related(l.T, l.O, row, l.Where) + ") FOR UPDATE OF _strata_t;"
	}
	recompute := func(row string) string {
		return "UPDATE " + tq + " AS _strata_t SET " + ident(l.Col) + " = " + p.derive(l, lateralSource(l.T, "_strata_t", l.T.Name)) +
			" WHERE " + keyRow + " IN (" + p.related(l.T, l.O, row, l.Where) + ");"
	}
	o.before[ver] = append(o.before[ver],
		"IF TG_OP IN ('INSERT', 'UPDATE') THEN\n  "+lock("NEW")+"\nEND IF;",
		"IF TG_OP IN ('UPDATE', 'DELETE') THEN\n  "+lock("OLD")+"\nEND IF;")
	o.after[ver] = append(o.after[ver],
		"IF TG_OP IN ('INSERT', 'UPDATE') THEN\n  "+recompute("NEW")+"\nEND IF;",
		"IF TG_OP IN ('UPDATE', 'DELETE') THEN\n  "+recompute("OLD")+"\nEND IF;")
	t.before[ver] = append(t.before[ver],
		"IF TG_OP IN ('INSERT', 'UPDATE') THEN\n  NEW."+ident(l.Col)+" := "+p.derive(l, rowSource(l.T, "NEW", l.T.Name))+";\nEND IF;")
	if l.NotNull {
		t.before["old"] = append(t.before["old"],
			"IF TG_OP IN ('INSERT', 'UPDATE') AND NEW."+ident(l.Col)+" IS NULL THEN\n  RAISE EXCEPTION 'null value in column \"%\" of relation \"%\" violates not-null constraint', "+
				literal(l.Col)+", "+literal(l.T.Phys)+" USING ERRCODE = 'not_null_violation';\nEND IF;")
	}
}

func (p *planner) xfunc(phys, which string) string {
	return qual(p.state, p.ownedName("x"+which+"_", phys))
}

// crossExpand renders the start steps: NOT NULL relaxed on removed columns
// whose old-version value now comes from another table, and the triggers.
func (p *planner) crossExpand() []plan.Step {
	var out []plan.Step
	for _, l := range p.cross.links {
		if l.NotNull {
			tq := qual(p.schema, l.T.Phys)
			out = append(out, plan.Step{ID: "relax-not-null:" + l.T.Phys + "." + l.Col, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("let %s.%s be NULL for new-version rows (its NOT NULL is enforced for the old version by the sync trigger)", l.T.Phys, l.Col),
				SQL:  []string{"ALTER TABLE " + tq + " ALTER COLUMN " + ident(l.Col) + " DROP NOT NULL"},
			})
		}
	}
	trigs, order := p.crossTriggers()
	for _, phys := range order {
		tr := trigs[phys]
		tq := qual(p.schema, phys)
		var sqls []string
		for _, which := range []string{"b", "a"} {
			stmts := tr.before
			when, ret := "BEFORE", "NEW"
			if which == "a" {
				stmts, when, ret = tr.after, "AFTER", "NULL"
			}
			if len(stmts["old"]) == 0 && len(stmts["new"]) == 0 {
				continue
			}
			var b strings.Builder
			b.WriteString("BEGIN\n")
			if which == "a" {
				// The writes below fire no cross-table trigger (see crossGuard).
				b.WriteString("  PERFORM set_config('strata.cross', 'on', true);\n")
			}
			b.WriteString("  IF " + newVersionTest(p.version) + " THEN\n")
			for _, s := range stmts["new"] {
				b.WriteString(indent(s, "    ") + "\n")
			}
			b.WriteString("  ELSE\n")
			for _, s := range stmts["old"] {
				b.WriteString(indent(s, "    ") + "\n")
			}
			b.WriteString("  END IF;\n")
			if which == "b" {
				b.WriteString("  IF TG_OP = 'DELETE' THEN\n    RETURN OLD;\n  END IF;\n")
			} else {
				b.WriteString("  PERFORM set_config('strata.cross', '', true);\n")
			}
			b.WriteString("  RETURN " + ret + ";\nEND")
			body := b.String()
			fn := p.xfunc(phys, which)
			create := "CREATE TRIGGER"
			if p.cat.PGMajor >= 14 {
				create = "CREATE OR REPLACE TRIGGER"
			}
			sqls = append(sqls,
				"CREATE OR REPLACE FUNCTION "+fn+"() RETURNS trigger LANGUAGE plpgsql AS "+dollarQuote(body),
				create+" _strata_x"+which+" "+when+" INSERT OR UPDATE OR DELETE ON "+tq+" FOR EACH ROW"+
					" WHEN (current_setting('strata.backfill', true) IS DISTINCT FROM 'direct' AND "+crossGuard+")"+
					" EXECUTE FUNCTION "+fn+"()")
		}
		out = append(out, plan.Step{ID: "cross-trigger:" + phys, Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("install the cross-table sync triggers on %s", phys), SQL: sqls,
		})
	}
	return out
}

// crossGuard is the WHEN condition that keeps the cross-table triggers from
// firing for writes made by a cross-table trigger (which sets strata.cross
// around them, transaction-locally). Such a write changes only columns the
// writing version cannot see (a removed column for the new version, an added
// column or a new table for the old one), and every expression of the
// writing version reads only columns it sees: there is nothing to translate
// further. Without it, two links that derive columns of each other's tables
// (users.account_name from accounts, accounts.owner_name from users) would
// recompute each other until the stack overflows; and a recomputation would
// be held to the old version's NOT NULL on a column it does not write.
const crossGuard = "current_setting('strata.cross', true) IS DISTINCT FROM 'on'"

func indent(s, by string) string {
	return by + strings.ReplaceAll(s, "\n", "\n"+by)
}
