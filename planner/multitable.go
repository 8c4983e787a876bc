package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
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
	// On is the conflict target of the upsert (physical columns of N): its
	// primary key, or the columns of up.upsert_constraint.
	On  []string
	Mig *migration.Migration
	Idx int
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

// --- registration by the actions ---

func (p *planner) fillFrom(a *migration.CreateTable, n *vTable) error {
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
	on := n.Key
	if a.Up.UpsertConstraint != "" {
		names, ok := a.UpsertColumns()
		if !ok {
			return p.errf(".up.upsert_constraint", "no primary key or unique constraint %q in table %q", a.Up.UpsertConstraint, a.Name)
		}
		on = nil
		for _, k := range names {
			on = append(on, n.col(k).Phys)
		}
	}
	where := a.Up.Where
	if where == "" {
		var err error
		if where, err = p.fillWhere(a, n, s, on); err != nil {
			return err
		}
	}
	p.cross.fills = append(p.cross.fills, &tableFill{N: n.clone(), S: s.clone(), Values: a.Up.Values, Where: where,
		On: on, Mig: p.mig, Idx: p.idx})
	return nil
}

// fillWhere derives the where of a create_table.up written without one
// (Reshape's form, which upserts on the key): a row of the new table n
// belongs to the row of s whose values give its key columns on. The values
// are qualified with s's name, as where sees both tables.
func (p *planner) fillWhere(a *migration.CreateTable, n, s *vTable, on []string) (string, error) {
	exprOf := map[string]string{}
	for _, v := range a.Up.Values {
		exprOf[n.col(v.Column).Phys] = v.Expr
	}
	var conds []string
	for _, k := range on {
		e, ok := exprOf[k]
		if !ok {
			return "", p.errf(".up.values", "gives no value for key column %q: without up.where, a row of %q is matched to its source row by its key (hint: give %q a value or write up.where)", k, n.Name, k)
		}
		q, err := pgquery.QualifyColumns(e, s.Name)
		if err != nil {
			return "", p.errf(".up.values."+k, "invalid SQL expression %q: %v", e, err)
		}
		conds = append(conds, ident(n.Name)+"."+ident(k)+" = ("+q+")")
	}
	return strings.Join(conds, " AND "), nil
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

// crossBackfills renders the backfills: new tables filled from their source
// (INSERT ... SELECT over key ranges of the source, locking the source rows
// it reads so a concurrent move cannot leave a stale row behind), and new
// columns taken from another table.
func (p *planner) crossBackfills() []plan.Step {
	var out []plan.Step
	for _, f := range p.cross.fills {
		pt := p.cat.Tables[f.S.Phys]
		var types []string
		for _, k := range pt.Key {
			types = append(types, p.cat.column(f.S.Phys, k).Type)
		}
		out = append(out, plan.Step{ID: "backfill-fill:" + f.N.Phys, Kind: plan.KindBackfill,
			Desc: fmt.Sprintf("fill %s from %s in batches", f.N.Phys, f.S.Phys),

			Backfill: &plan.BackfillSpec{Schema: p.schema, Table: f.S.Phys, Key: pt.Key, KeyTypes: types, Direct: true,
				Statement: p.fillStatement(f)},
		}, plan.Step{ID: "analyze:" + f.N.Phys, Kind: plan.KindSQL, Tx: true,
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
		out = append(out, plan.Step{ID: "backfill-link:" + l.T.Phys + "." + l.Col, Kind: plan.KindBackfill,
			Desc: fmt.Sprintf("take %s.%s from %s in batches", l.T.Phys, l.Col, l.O.Phys),

			Backfill: &plan.BackfillSpec{Schema: p.schema, Table: l.T.Phys, Key: pt.Key, KeyTypes: types,
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
	for _, k := range f.On {
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
		" FOR SHARE) AS " + ident(f.S.Name) + where + " ON CONFLICT (" + identList(f.On) + ") DO NOTHING"
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
		setup := p.scratchColumns(f.N.Phys, f.S.Phys)
		if err := p.explain(ctx, ".up", setup, strings.ReplaceAll(p.fillStatement(f), backfill.RangePlaceholder, "true")); err != nil {
			return err
		}
		if err := p.explain(ctx, ".up.where", setup, "SELECT 1 FROM "+p.tableSource(f.N, f.N.Name)+", "+p.tableSource(f.S, f.S.Name)+" WHERE ("+f.Where+")"); err != nil {
			return err
		}
	}
	for _, l := range p.cross.links {
		p.mig, p.idx = l.Mig, l.Idx
		// The expression may read columns other actions of the phase
		// add (a column moved between tables: add_column on one,
		// remove_column with down from it on the other).
		setup := p.scratchColumns(l.O.Phys, l.T.Phys)
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

// scratchColumns returns the statements that add, inside a check's
// rolled-back savepoint, the columns this phase adds to the tables phys
// (new tables exist for the rest of planning already, see createTable), so
// that an expression is checked against the tables as start leaves them.
func (p *planner) scratchColumns(phys ...string) []string {
	var out []string
	for _, t := range phys {
		for _, a := range p.added[t] {
			if p.cat.column(t, a.Name) == nil {
				out = append(out, "ALTER TABLE "+qual(p.schema, t)+" ADD COLUMN IF NOT EXISTS "+ident(a.Name)+" "+a.Type)
			}
		}
	}
	return out
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
func (p *planner) crossRestore() []plan.Step {
	var out []plan.Step
	for _, l := range p.cross.links {
		if !l.NotNull {
			continue
		}
		tq := qual(p.schema, l.T.Phys)
		chk := internalName("_strata_nn_", l.Col)
		// The check form on every major, also on PostgreSQL 18: the
		// column may still be NOT NULL (an abort of a start interrupted
		// before it relaxed it), where ADD CONSTRAINT ... NOT NULL fails
		// and SET NOT NULL after the check changes nothing.
		out = append(out,
			plan.Step{ID: "restore-not-null-check:" + l.T.Phys + "." + l.Col, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("check %s.%s IS NOT NULL again (NOT VALID)", l.T.Phys, l.Col),
				SQL: []string{"ALTER TABLE " + tq + " DROP CONSTRAINT IF EXISTS " + ident(chk),
					"ALTER TABLE " + tq + " ADD CONSTRAINT " + ident(chk) + " CHECK (" + ident(l.Col) + " IS NOT NULL) NOT VALID"}},
			plan.Step{ID: "restore-not-null-validate:" + l.T.Phys + "." + l.Col, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("validate %s.%s IS NOT NULL (fails if the new version left rows without a value: fill them, then abort again)", l.T.Phys, l.Col),
				SQL:  []string{"ALTER TABLE " + tq + " VALIDATE CONSTRAINT " + ident(chk)}},
			plan.Step{ID: "restore-not-null:" + l.T.Phys + "." + l.Col, Kind: plan.KindSQL, Tx: true,
				Desc: fmt.Sprintf("SET NOT NULL on %s.%s using the validated check", l.T.Phys, l.Col),
				SQL: []string{"ALTER TABLE " + tq + " ALTER COLUMN " + ident(l.Col) + " SET NOT NULL",
					"ALTER TABLE " + tq + " DROP CONSTRAINT " + ident(chk)}})
	}
	return out
}
