package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/strata-db/strata/backfill"
	"github.com/strata-db/strata/migration"
)

// Multi-table migrations: a new table filled from another one
// (create_table.up), a new column taken from another table (the
// {table, value, where} form of add_column.up), and a removed column whose
// old-version value comes from another table (the same form of
// remove_column.down). Writes are translated across tables by row triggers
// on both tables:
//
//   - _strata_xb, BEFORE each row: locks the rows of the other table that
//     the write will touch (always in the order "table whose column is
//     derived" first, so the two directions cannot deadlock), and computes a
//     derived column of the row being written;
//   - _strata_xa, AFTER each row: writes the other table.
//
// Which direction runs follows from who wrote, exactly as for single-table
// sync: the old version drives fills and up links, the new version drives
// down links. The other direction's trigger sees a write made by a sync
// trigger as coming from the same session's version and does nothing with
// it, so sync never recurses.

// tableFill is create_table.up.
type tableFill struct {
	N      *vTable // the new table
	S      *vTable // the source table as the old version sees it
	Values []migration.ColumnValue
	Where  string
	Create []string // the new table's DDL, to check expressions against
	Mig    *migration.Migration
	Idx    int
}

// link is a column of T derived from rows of O.
type link struct {
	Up      bool    // add_column.up (old version drives); else remove_column.down (new version drives)
	T       *vTable // T as the driving version names it
	Col     string  // physical column of T
	Type    string
	O       *vTable // O as the driving version names it
	Value   string
	Where   string
	NotNull bool // T.Col was NOT NULL: relaxed for the phase, enforced for old-version writers
	Key     string
	Mig     *migration.Migration
	Idx     int
}

type crossPlan struct {
	fills []*tableFill
	links []*link
}

// rowSource renders a row variable (NEW or OLD) of t's physical table as a
// one-row relation with t's column names, aliased.
func rowSource(t *vTable, row, alias string) string {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, row+"."+ident(c.Phys)+" AS "+ident(c.Name))
	}
	if len(cols) == 0 {
		cols = []string{"1 AS _strata_none"}
	}
	return "(SELECT " + strings.Join(cols, ", ") + ") AS " + ident(alias)
}

// tableSource renders t's physical table with t's column names, aliased.
func (p *planner) tableSource(t *vTable, alias string) string {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, ident(c.Phys)+" AS "+ident(c.Name))
	}
	return "(SELECT " + strings.Join(cols, ", ") + " FROM " + qual(p.schema, t.Phys) + ") AS " + ident(alias)
}

// lateralSource renders the row of an UPDATE target (aliased target) with
// t's column names.
func lateralSource(t *vTable, target, alias string) string {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, target+"."+ident(c.Phys)+" AS "+ident(c.Name))
	}
	return "LATERAL (SELECT " + strings.Join(cols, ", ") + ") AS " + ident(alias)
}

func keyNames(t *vTable) []string {
	var out []string
	for _, k := range t.Key {
		if c := colByPhys(t, k); c != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

func qualified(alias string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ident(alias) + "." + ident(n)
	}
	return out
}

// explain checks that sql plans, inside a rolled-back savepoint after the
// setup statements.
func (p *planner) explain(ctx context.Context, key string, setup []string, sql string) error {
	err := p.try(ctx, append(append([]string(nil), setup...), "EXPLAIN "+sql)...)
	if err != nil {
		return p.errf(key, "%s", pgMessage(err))
	}
	return nil
}

// --- registration by the actions ---

func (p *planner) fillFrom(a *migration.CreateTable, n *vTable, create []string) error {
	s, err := p.table(".up.table", a.Up.Table)
	if err != nil {
		return err
	}
	if s.Created {
		return p.errf(".up.table", "table %q is new in this phase: fill from a table the old version has", a.Up.Table)
	}
	for _, v := range a.Up.Values {
		if n.col(v.Column) == nil {
			return p.errf(".up.values."+v.Column, "column %q does not exist in table %q", v.Column, n.Name)
		}
	}
	if len(n.Key) == 0 {
		return p.errf(".primary_key", "a table filled from another table needs a primary key")
	}
	p.cross.fills = append(p.cross.fills, &tableFill{N: n.clone(), S: s.clone(), Values: a.Up.Values, Where: a.Up.Where,
		Create: create, Mig: p.mig, Idx: p.idx})
	return nil
}

func (p *planner) linkColumn(up bool, t *vTable, c *vColumn, v *migration.Value, key string, notNull bool) error {
	o, err := p.table(key+".table", v.Table)
	if err != nil {
		return err
	}
	if o.Phys == t.Phys {
		return p.errf(key+".table", "the other table must not be %q itself; use an expression", t.Name)
	}
	p.cross.links = append(p.cross.links, &link{Up: up, T: t.clone(), Col: c.Phys, Type: c.Type, O: o.clone(),
		Value: v.Expr, Where: v.Where, NotNull: notNull, Key: key, Mig: p.mig, Idx: p.idx})
	return nil
}

// --- rendering ---

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
	for _, k := range f.N.Key {
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
	for _, k := range f.N.Key {
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
			" ON CONFLICT (" + identList(f.N.Key) + ") " + conflict
	}
	pkRow := "ROW(" + strings.Join(qualified(f.N.Name, f.N.Key), ", ") + ")"
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
	return qual(p.state, internalName("x"+which+"_", p.schema+"_"+phys))
}

// crossExpand renders the start steps: NOT NULL relaxed on removed columns
// whose old-version value now comes from another table, and the triggers.
func (p *planner) crossExpand() []Step {
	var out []Step
	for _, l := range p.cross.links {
		if l.NotNull {
			tq := qual(p.schema, l.T.Phys)
			out = append(out, Step{ID: "relax-not-null:" + l.T.Phys + "." + l.Col, Kind: KindSQL, Tx: true,
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
		out = append(out, Step{ID: "cross-trigger:" + phys, Kind: KindSQL, Tx: true,
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

// crossBackfills renders the backfills: new tables filled from their source
// (INSERT ... SELECT over key ranges of the source, locking the source rows
// it reads so a concurrent move cannot leave a stale row behind), and new
// columns taken from another table.
func (p *planner) crossBackfills() []Step {
	var out []Step
	for _, f := range p.cross.fills {
		pt := p.cat.Tables[f.S.Phys]
		var types []string
		for _, k := range pt.Key {
			types = append(types, p.cat.column(f.S.Phys, k).Type)
		}
		out = append(out, Step{ID: "backfill-fill:" + f.N.Phys, Kind: KindBackfill,
			Desc: fmt.Sprintf("fill %s from %s in batches", f.N.Phys, f.S.Phys),

			Backfill: &BackfillSpec{Schema: p.schema, Table: f.S.Phys, Key: pt.Key, KeyTypes: types, Direct: true,
				Statement: p.fillStatement(f)},
		}, Step{ID: "analyze:" + f.N.Phys, Kind: KindSQL, Tx: true,
			// A table created empty has no statistics until autovacuum
			// gets to it: until then the planner takes it for tiny and the
			// sync triggers' lookups in it scan it whole.
			Desc: fmt.Sprintf("analyze %s, now filled", f.N.Phys),

			SQL: []string{"ANALYZE " + qual(p.schema, f.N.Phys)}})
	}
	for _, l := range p.cross.links {
		if !l.Up {
			continue
		}
		pt := p.cat.Tables[l.T.Phys]
		var types []string
		for _, k := range pt.Key {
			types = append(types, p.cat.column(l.T.Phys, k).Type)
		}
		tq := qual(p.schema, l.T.Phys)
		// Not a direct UPDATE ... SET col = (SELECT ... FROM O): when a
		// row of T is locked by an old-version write to O, the UPDATE
		// waits, then recomputes the row with the snapshot it started with,
		// which misses that write, and overwrites what the write's trigger
		// computed. A no-op assignment fires the BEFORE trigger instead,
		// which runs after the row is locked and reads O afresh.
		out = append(out, Step{ID: "backfill-link:" + l.T.Phys + "." + l.Col, Kind: KindBackfill,
			Desc: fmt.Sprintf("take %s.%s from %s in batches", l.T.Phys, l.Col, l.O.Phys),

			Backfill: &BackfillSpec{Schema: p.schema, Table: l.T.Phys, Key: pt.Key, KeyTypes: types,
				Statement: "UPDATE " + tq + " SET " + ident(l.Col) + " = " + ident(l.Col) + " WHERE " + backfill.RangePlaceholder}})
	}
	return out
}

func (p *planner) fillStatement(f *tableFill) string {
	var srcCols []string
	for _, c := range f.S.Columns {
		srcCols = append(srcCols, ident(c.Phys)+" AS "+ident(c.Name))
	}
	var cols, exprs, notNull []string
	exprOf := map[string]string{}
	for _, v := range f.Values {
		c := f.N.col(v.Column)
		cols = append(cols, ident(c.Phys))
		exprs = append(exprs, "("+v.Expr+")")
		exprOf[c.Phys] = "(" + v.Expr + ")"
	}
	for _, k := range f.N.Key {
		if e := exprOf[k]; e != "" {
			notNull = append(notNull, e+" IS NOT NULL")
		}
	}
	where := ""
	if len(notNull) > 0 {
		where = " WHERE " + strings.Join(notNull, " AND ")
	}
	return "INSERT INTO " + qual(p.schema, f.N.Phys) + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") +
		" FROM (SELECT " + strings.Join(srcCols, ", ") + " FROM " + qual(p.schema, f.S.Phys) + " WHERE " + backfill.RangePlaceholder +
		" FOR SHARE) AS " + ident(f.S.Name) + where + " ON CONFLICT (" + identList(f.N.Key) + ") DO NOTHING"
}

// widen adds to t, a view of a table as of one action, the columns of the
// same physical table in version under the names version gives them, where
// t has no column of that name (names as of the action win).
func widen(t *vTable, version *vSchema) {
	vt := version.table(physName(version, t.Phys))
	if vt == nil {
		return
	}
	for _, c := range vt.Columns {
		if t.col(c.Name) == nil {
			cc := *c
			t.Columns = append(t.Columns, &cc)
		}
	}
}

// crossScope lets the multi-table expressions name columns as the version
// they come from does, including columns renamed earlier in the phase:
// create_table.up and add_column.up come from the old version,
// remove_column.down from the new one. As for single-table up and down,
// names as of the action itself work too.
func (p *planner) crossScope() {
	for _, f := range p.cross.fills {
		widen(f.S, p.old)
	}
	for _, l := range p.cross.links {
		v := p.cur
		if l.Up {
			v = p.old
		}
		widen(l.T, v)
		widen(l.O, v)
	}
}

// crossCheck checks every multi-table expression against the database
// before anything changes.
func (p *planner) crossCheck(ctx context.Context) error {
	p.crossScope()
	for _, f := range p.cross.fills {
		p.mig, p.idx = f.Mig, f.Idx
		if err := p.explain(ctx, ".up", f.Create, strings.ReplaceAll(p.fillStatement(f), backfill.RangePlaceholder, "true")); err != nil {
			return err
		}
		if err := p.explain(ctx, ".up.where", f.Create, "SELECT 1 FROM "+p.tableSource(f.N, f.N.Name)+", "+p.tableSource(f.S, f.S.Name)+" WHERE ("+f.Where+")"); err != nil {
			return err
		}
	}
	for _, l := range p.cross.links {
		p.mig, p.idx = l.Mig, l.Idx
		var setup []string
		for _, f := range p.cross.fills {
			if f.N.Phys == l.O.Phys || f.N.Phys == l.T.Phys {
				setup = f.Create
			}
		}
		t := l.T.clone()
		t.Columns = nil
		for _, c := range l.T.Columns {
			if c.Phys != l.Col {
				t.Columns = append(t.Columns, c)
			}
		}
		if p.cat.Tables[t.Phys] == nil {
			continue
		}
		q := "SELECT (SELECT (" + l.Value + ")::" + l.Type + " FROM " + p.tableSource(l.O, l.O.Name) + " WHERE (" + l.Where + ") LIMIT 1) FROM " + p.tableSource(t, t.Name)
		if err := p.explain(ctx, l.Key, setup, q); err != nil {
			return err
		}
	}
	return nil
}

// crossDrop renders the statements that remove the cross-table triggers.
// They run in one transaction (complete's contract, or abort's step), which
// first locks every table involved (see lockAllOrNone).
func (p *planner) crossDrop() []string {
	_, order := p.crossTriggers()
	var out []string
	if len(order) > 0 {
		out = append(out, lockAllOrNone(p.schema, order))
	}
	for _, phys := range order {
		// CASCADE drops the function's trigger with it, also on a table
		// created in this phase (which may not exist yet when aborting).
		out = append(out, "DROP FUNCTION IF EXISTS "+p.xfunc(phys, "b")+"() CASCADE", "DROP FUNCTION IF EXISTS "+p.xfunc(phys, "a")+"() CASCADE")
	}
	return out
}

// crossRestore renders abort's steps that put back NOT NULL on removed
// columns: through a check validated without blocking writers.
func (p *planner) crossRestore() []Step {
	var out []Step
	for _, l := range p.cross.links {
		if !l.NotNull {
			continue
		}
		tq := qual(p.schema, l.T.Phys)
		chk := internalName("_strata_nn_", l.Col)
		out = append(out,
			Step{ID: "restore-not-null-check:" + l.T.Phys + "." + l.Col, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("check %s.%s IS NOT NULL again (NOT VALID)", l.T.Phys, l.Col),
				SQL: []string{"ALTER TABLE " + tq + " DROP CONSTRAINT IF EXISTS " + ident(chk),
					"ALTER TABLE " + tq + " ADD CONSTRAINT " + ident(chk) + " CHECK (" + ident(l.Col) + " IS NOT NULL) NOT VALID"}},
			Step{ID: "restore-not-null-validate:" + l.T.Phys + "." + l.Col, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("validate %s.%s IS NOT NULL (fails if the new version left rows without a value: fill them, then abort again)", l.T.Phys, l.Col),
				SQL:  []string{"ALTER TABLE " + tq + " VALIDATE CONSTRAINT " + ident(chk)}},
			Step{ID: "restore-not-null:" + l.T.Phys + "." + l.Col, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("SET NOT NULL on %s.%s using the validated check", l.T.Phys, l.Col),
				SQL: []string{"ALTER TABLE " + tq + " ALTER COLUMN " + ident(l.Col) + " SET NOT NULL",
					"ALTER TABLE " + tq + " DROP CONSTRAINT " + ident(chk)}})
	}
	return out
}
