package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/strata-db/strata/migration"
	"github.com/strata-db/strata/plan"
)

// directSet renders the backfill's SET list computing every new column in
// the UPDATE itself, which is much faster than going through the sync
// trigger. It is possible when each up expression reads only columns the
// table had before the phase, under their own names (an expression that
// reads a column computed by an earlier action needs the trigger's order).
func (p *planner) directSet(s *tableSync) ([]string, bool) {
	var set []string
	for _, f := range s.Up {
		lower := strings.ToLower(f.Expr)
		for _, c := range f.View.Columns {
			if !strings.Contains(lower, strings.ToLower(c.Name)) {
				continue
			}
			if c.Name != c.Phys || p.cat.column(f.Phys, c.Phys) == nil {
				return nil, false
			}
		}
		set = append(set, ident(f.Target)+" = ("+f.Expr+")")
	}
	return append(set, s.Set...), true
}

// fragment assigns one physical column of the row being written from an
// expression over the row as one version sees it.
type fragment struct {
	Target string  // physical column assigned
	Expr   string  // user SQL expression
	View   *vTable // the table just before (up) or after (down) the action
	Phys   string  // physical table
	Schema string  // managed schema
	Type   string  // type of the target column
	// Where the expression was written, for errors.
	Mig *migration.Migration
	Idx int
	Key string
}

// tableSync collects what the sync trigger of one table must do.
type tableSync struct {
	Phys     string
	Up       []fragment // old version wrote: compute new columns, in order
	Down     []fragment // new version wrote: compute old columns, applied in reverse
	Backfill bool
	Set      []string // extra SET items of the backfill
}

type addedCol struct {
	Name     string
	Type     string
	Default  *string // physical default after start
	Comment  *string // physical comment after start
	NotNull  bool
	ActionNo int
}

type planner struct {
	pr      Prober
	cat     *Catalog
	schema  string
	state   string
	version string
	prev    string

	old, cur *vSchema
	syncs    map[string]*tableSync
	order    []string
	added    map[string][]*addedCol // physical table -> physical columns added in this phase
	created  []string               // physical tables created in this phase
	seq      int                    // action number across the phase

	expand         []Step
	completeCustom []Step
	abortCustom    []Step

	mig *migration.Migration
	idx int

	objs objects // indexes, constraints and types the phase creates, carries or drops

	cross crossPlan // multi-table syncs

	// lockErr is the first lock timeout (or deadlock) met by a check: the
	// check's verdict is then no verdict, and planning is retried.
	lockErr error
}

func (p *planner) sync(phys string) *tableSync {
	s := p.syncs[phys]
	if s == nil {
		s = &tableSync{Phys: phys}
		p.syncs[phys] = s
		p.order = append(p.order, phys)
	}
	return s
}

// table finds a table of the current version, or reports a located error.
func (p *planner) table(key, name string) (*vTable, error) {
	t := p.cur.table(name)
	if t == nil {
		return nil, p.errf(key, "table %q does not exist in schema %q", name, p.schema)
	}
	return t, nil
}

func (p *planner) physCols(phys string) map[string]bool {
	out := map[string]bool{}
	if pt := p.cat.Tables[phys]; pt != nil {
		for _, c := range pt.Columns {
			out[c.Name] = true
		}
	}
	for _, a := range p.added[phys] {
		out[a.Name] = true
	}
	return out
}

// freeColumn returns a physical column name for a new column called name.
func (p *planner) freeColumn(phys, name string) string {
	used := p.physCols(phys)
	if !used[name] {
		return name
	}
	return internalName(fmt.Sprintf("_strata_%d_", p.seq), name)
}

func (p *planner) isCreated(phys string) bool {
	for _, c := range p.created {
		if c == phys {
			return true
		}
	}
	return false
}

// checkType verifies that typ names a type.
func (p *planner) checkType(ctx context.Context, key, typ string) error {
	if err := p.try(ctx, "SELECT NULL::"+typ); err != nil {
		return p.errf(key, "invalid type %q: %s", typ, pgMessage(err))
	}
	return nil
}

// checkExpr verifies that expr is valid over the row of t (as one version
// sees it) and can be converted to typ. Columns that do not exist yet are
// stood in for by typed NULLs. Nothing is executed: only planned.
func (p *planner) checkExpr(ctx context.Context, key string, t *vTable, expr, typ string) error {
	var cols []string
	have := p.physCols(t.Phys)
	existing := map[string]bool{}
	if pt := p.cat.Tables[t.Phys]; pt != nil {
		for _, c := range pt.Columns {
			existing[c.Name] = true
		}
	}
	_ = have
	for _, c := range t.Columns {
		if existing[c.Phys] {
			cols = append(cols, ident(c.Phys)+"::"+c.Type+" AS "+ident(c.Name))
		} else {
			cols = append(cols, "NULL::"+c.Type+" AS "+ident(c.Name))
		}
	}
	from := "(SELECT 1) AS " + ident(t.Name)
	if len(cols) > 0 {
		src := "(SELECT 1) AS s"
		if existing != nil && p.cat.Tables[t.Phys] != nil {
			src = qual(p.schema, t.Phys)
		}
		from = "(SELECT " + strings.Join(cols, ", ") + " FROM " + src + ") AS " + ident(t.Name)
	}
	q := "EXPLAIN SELECT (" + expr + ")::" + typ + " FROM " + from
	if err := p.try(ctx, q); err != nil {
		return p.errf(key, "invalid expression %q: %s", expr, pgMessage(err))
	}
	return nil
}

// fastDefault reports whether adding a column with this default fills
// existing rows without a table rewrite (the default is not volatile). It
// asks the server on a throwaway temporary table inside a rolled-back
// savepoint.
func (p *planner) fastDefault(ctx context.Context, key, typ, def string) (bool, error) {
	fast, err := p.pr.FastDefault(ctx, typ, def)
	if err = p.verdict(err); err != nil {
		return false, p.errf(key, "invalid default %q for type %s: %s", def, typ, pgMessage(err))
	}
	return fast, nil
}

// Options say what Build plans for.
type Options struct {
	Schema      string // managed schema
	StateSchema string // strata's own schema, where the sync functions live
	// PreviousSchema is the version schema of the latest completed
	// migration ("" for none, or when it no longer exists).
	PreviousSchema string
}

// Build turns the pending migrations into a plan, asking pr every question
// about the database. With a TxProber, the transaction must be one the
// caller rolls back. An error about a migration that cannot be applied is
// a *PlanError (errors.Is ErrInvalid); a check that met a lock timeout
// returns that error (pgexec.Retryable), so the caller may plan again.
func Build(ctx context.Context, pr Prober, opts Options, migs []*migration.Migration) (*plan.Plan, error) {
	schema, prev := opts.Schema, opts.PreviousSchema
	cat, err := pr.Catalog(ctx, schema)
	if err != nil {
		return nil, err
	}
	if !cat.Schemas[schema] {
		return nil, fmt.Errorf("engine: schema %q does not exist", schema)
	}
	last := migs[len(migs)-1]
	version := migration.VersionSchema(schema, last.Name)
	if cat.Schemas[version] {
		return nil, &PlanError{Where: last.File, Msg: fmt.Sprintf("version schema %q already exists", version)}
	}
	if prev != "" && !cat.Schemas[prev] {
		prev = ""
	}
	p := &planner{
		pr: pr, cat: cat, schema: schema, state: opts.StateSchema, version: version, prev: prev,
		syncs: map[string]*tableSync{}, added: map[string][]*addedCol{},
	}
	p.old = schemaFromCatalog(cat)
	p.cur = p.old.clone()
	if err := p.initObjects(ctx); err != nil {
		return nil, err
	}
	for _, m := range migs {
		p.mig = m
		for i, a := range m.Actions {
			p.idx = i
			p.seq++
			if err := p.action(ctx, a); err != nil {
				return nil, p.lockOr(err)
			}
		}
	}
	plan, err := p.finish(ctx)
	if err != nil {
		return nil, p.lockOr(err)
	}
	return plan, nil
}

func (p *planner) action(ctx context.Context, a migration.Action) error {
	switch a := a.(type) {
	case *migration.CreateTable:
		return p.createTable(ctx, a)
	case *migration.AddColumn:
		return p.addColumn(ctx, a)
	case *migration.AlterColumn:
		return p.alterColumn(ctx, a)
	case *migration.RemoveColumn:
		return p.removeColumn(ctx, a)
	case *migration.RenameTable:
		return p.renameTable(ctx, a)
	case *migration.RemoveTable:
		return p.removeTable(ctx, a)
	case *migration.Custom:
		return p.custom(ctx, a)
	case *migration.AddIndex:
		return p.addIndex(ctx, a)
	case *migration.RemoveIndex:
		return p.removeIndex(ctx, a)
	case *migration.AddCheck:
		return p.addCheck(ctx, a)
	case *migration.RemoveCheck:
		return p.removeCheck(ctx, a)
	case *migration.AddForeignKey:
		return p.addForeignKey(ctx, a)
	case *migration.RemoveForeignKey:
		return p.removeForeignKey(ctx, a)
	case *migration.CreateEnum:
		return p.createEnum(ctx, a)
	case *migration.AlterEnum:
		return p.alterEnum(ctx, a)
	case *migration.RemoveEnum:
		return p.removeEnum(ctx, a)
	default:
		return p.errf(".type", "action %q is not supported yet by this version of strata", a.Type())
	}
}

// finish assembles the start, complete and abort steps from what the actions
// registered and from the difference between the final model and the
// physical tables.
func (p *planner) finish(ctx context.Context) (*Plan, error) {
	plan := &Plan{Version: plan.Version, PGMajor: p.cat.PGMajor, Schema: p.schema, VersionSchema: p.version, PreviousSchema: p.prev}
	// Expressions can only be checked now that the final shape is known.
	for _, phys := range p.order {
		s := p.syncs[phys]
		for i := range s.Up {
			if err := p.scope(ctx, &s.Up[i], p.old); err != nil {
				return nil, err
			}
		}
		for i := range s.Down {
			if err := p.scope(ctx, &s.Down[i], p.cur); err != nil {
				return nil, err
			}
		}
	}
	if err := p.crossCheck(ctx); err != nil {
		return nil, err
	}
	// --- start ---
	plan.Start = append(plan.Start, p.expand...)
	// While a backfill may run, the sync triggers carry the backfill's
	// bypass; once the backfills are done they are replaced by their
	// cheaper steady-state form.
	cross := p.crossBackfills()
	backfills := len(cross) > 0
	for _, phys := range p.order {
		backfills = backfills || p.syncs[phys].Backfill
	}
	var synced []string
	for _, phys := range p.order {
		s := p.syncs[phys]
		if len(s.Up) == 0 && len(s.Down) == 0 {
			continue
		}
		synced = append(synced, phys)
		plan.Start = append(plan.Start, Step{
			ID: "sync-trigger:" + phys, Kind: KindSQL, Tx: true,
			Desc: fmt.Sprintf("install the sync trigger on %s", phys),
			SQL:  p.triggerSQL(s, backfills),
		})
	}
	plan.Start = append(plan.Start, p.crossExpand()...)
	for _, phys := range p.order {
		s := p.syncs[phys]
		if !s.Backfill {
			continue
		}
		pt := p.cat.Tables[phys]
		if pt == nil || (len(pt.Key) == 0 && p.cat.PGMajor < 14) {
			return nil, &PlanError{Where: p.mig.File, Msg: fmt.Sprintf("table %q has no primary key or unique index over NOT NULL columns; before PostgreSQL 14 strata needs one to backfill it in batches", phys)}
		}
		var types []string
		for _, k := range pt.Key {
			types = append(types, p.cat.column(phys, k).Type)
		}
		set, direct := p.directSet(s)
		if !direct {
			set = s.Set
			if len(set) == 0 {
				// A no-op assignment that fires the sync trigger.
				target := s.Up[0].Target
				set = []string{ident(target) + " = " + ident(target)}
			}
		}
		plan.Start = append(plan.Start, Step{
			ID: "backfill:" + phys, Kind: KindBackfill,
			Desc: fmt.Sprintf("backfill the new columns of %s in batches", phys),

			Backfill: &BackfillSpec{Schema: p.schema, Table: phys, Key: pt.Key, KeyTypes: types,
				Set: strings.Join(set, ", "), Direct: direct},
		})
	}
	plan.Start = append(plan.Start, cross...)
	if backfills {
		for _, phys := range synced {
			plan.Start = append(plan.Start, Step{
				ID: "sync-trigger-steady:" + phys, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("replace the sync trigger on %s by its steady-state form (backfill bypass removed)", phys),
				SQL:  p.triggerSQL(p.syncs[phys], false),
			})
		}
	}
	// NOT NULL on columns added in this phase: a NOT VALID check, validated
	// without blocking writers, turned into SET NOT NULL at complete.
	type nn struct{ table, col, check string }
	var nns []nn
	for _, t := range p.cur.Tables {
		if t.Created {
			continue
		}
		for _, a := range p.added[t.Phys] {
			c := colByPhys(t, a.Name)
			if c == nil || !c.NotNull || a.NotNull {
				continue
			}
			chk := internalName("_strata_nn_", a.Name)
			nns = append(nns, nn{t.Phys, a.Name, chk})
			plan.Start = append(plan.Start,
				Step{ID: "not-null-check:" + t.Phys + "." + a.Name, Kind: KindSQL, Tx: true,
					Desc: fmt.Sprintf("add NOT VALID check %s.%s IS NOT NULL", t.Phys, a.Name),

					SQL: []string{"ALTER TABLE " + qual(p.schema, t.Phys) + " ADD CONSTRAINT " + ident(chk) +
						" CHECK (" + ident(a.Name) + " IS NOT NULL) NOT VALID"}},
				Step{ID: "validate:" + t.Phys + "." + a.Name, Kind: KindSQL, Tx: true,
					Desc: fmt.Sprintf("validate the NOT NULL check on %s.%s", t.Phys, a.Name),

					SQL: []string{"ALTER TABLE " + qual(p.schema, t.Phys) + " VALIDATE CONSTRAINT " + ident(chk)}})
		}
	}
	objStart, err := p.objectSteps(ctx)
	if err != nil {
		return nil, err
	}
	plan.Start = append(plan.Start, objStart...)
	plan.Start = append(plan.Start, Step{
		ID: "version-schema", Kind: KindSQL, Tx: true,
		Desc: fmt.Sprintf("create version schema %s", p.version),
		SQL:  p.viewsSQL(),
	})

	// --- complete ---
	plan.Complete = append(plan.Complete, p.completeCustom...)
	for _, x := range nns {
		plan.Complete = append(plan.Complete, Step{
			ID: "set-not-null:" + x.table + "." + x.col, Kind: KindSQL, Tx: true,
			Desc: fmt.Sprintf("SET NOT NULL on %s.%s using the validated check", x.table, x.col),

			SQL: []string{
				"ALTER TABLE " + qual(p.schema, x.table) + " ALTER COLUMN " + ident(x.col) + " SET NOT NULL",
				"ALTER TABLE " + qual(p.schema, x.table) + " DROP CONSTRAINT IF EXISTS " + ident(x.check),
			},
		})
	}
	contract := p.contractSQL()
	plan.Complete = append(plan.Complete, Step{
		ID: "contract", Kind: KindSQL, Tx: true,
		Desc: "contract to the new shape and drop the old version schema (one transaction)",
		SQL:  contract,
	})
	plan.Complete = append(plan.Complete, p.objectCompleteSteps()...)

	// --- abort ---
	plan.Abort = append(plan.Abort, Step{
		ID: "drop-version-schema", Kind: KindSQL, Tx: true,
		Desc: fmt.Sprintf("drop version schema %s", p.version),
		SQL:  []string{"DROP SCHEMA IF EXISTS " + ident(p.version) + " CASCADE"},
	})
	for i := len(p.abortCustom) - 1; i >= 0; i-- {
		plan.Abort = append(plan.Abort, p.abortCustom[i])
	}
	plan.Abort = append(plan.Abort, p.objectAbortSteps()...)
	var undo []string
	for _, phys := range p.order {
		if pt := p.cat.Tables[phys]; pt != nil {
			undo = append(undo, "DROP TRIGGER IF EXISTS _strata_sync ON "+qual(p.schema, phys))
		}
		undo = append(undo, "DROP FUNCTION IF EXISTS "+p.syncFunc(phys)+"()")
	}
	for _, x := range nns {
		undo = append(undo, "ALTER TABLE "+qual(p.schema, x.table)+" DROP CONSTRAINT IF EXISTS "+ident(x.check))
	}
	tables := make([]string, 0, len(p.added))
	for phys := range p.added {
		tables = append(tables, phys)
	}
	sort.Strings(tables)
	for _, phys := range tables {
		if p.isCreated(phys) {
			continue
		}
		for _, a := range p.added[phys] {
			undo = append(undo, "ALTER TABLE "+qual(p.schema, phys)+" DROP COLUMN IF EXISTS "+ident(a.Name))
		}
	}
	for i := len(p.created) - 1; i >= 0; i-- {
		undo = append(undo, "DROP TABLE IF EXISTS "+qual(p.schema, p.created[i]))
	}
	undo = append(undo, p.objectUndo()...)
	if drop := p.crossDrop(); len(drop) > 0 {
		plan.Abort = append(plan.Abort, Step{
			ID: "drop-cross-triggers", Kind: KindSQL, Tx: true,
			Desc: "drop the cross-table sync triggers",
			SQL:  drop,
		})
	}
	plan.Abort = append(plan.Abort, p.crossRestore()...)
	if len(undo) > 0 {
		plan.Abort = append(plan.Abort, Step{
			ID: "undo-expand", Kind: KindSQL, Tx: true,
			Desc: "drop sync triggers, new columns and new tables",
			SQL:  undo,
		})
	}
	return plan, nil
}

// scope widens a fragment's view with the columns of the version its value
// comes from (the old version for up, the new version for down), so an
// expression may name a column as that version does even when an earlier
// action of the phase renamed it; names as of the action itself win. Then it
// checks the expression against that scope.
func (p *planner) scope(ctx context.Context, f *fragment, version *vSchema) error {
	view := f.View.clone()
	if vt := version.table(physName(version, f.Phys)); vt != nil {
		for _, c := range vt.Columns {
			if view.col(c.Name) == nil {
				cc := *c
				view.Columns = append(view.Columns, &cc)
			}
		}
	}
	f.View = view
	p.mig, p.idx = f.Mig, f.Idx
	return p.checkExpr(ctx, f.Key, view, f.Expr, f.Type)
}

func colByPhys(t *vTable, phys string) *vColumn {
	for _, c := range t.Columns {
		if c.Phys == phys {
			return c
		}
	}
	return nil
}

// contractSQL renders complete's single contract transaction: the old version
// schema and the sync triggers go, then every physical difference between
// the final model and the tables is applied. All of it commits together.
func (p *planner) contractSQL() []string {
	var out []string
	if p.prev != "" {
		out = append(out, "DROP SCHEMA IF EXISTS "+ident(p.prev)+" CASCADE")
	}
	out = append(out, p.crossDrop()...)
	for _, phys := range p.order {
		if p.cat.Tables[phys] != nil {
			out = append(out, "DROP TRIGGER IF EXISTS _strata_sync ON "+qual(p.schema, phys))
		}
		out = append(out, "DROP FUNCTION IF EXISTS "+p.syncFunc(phys)+"()")
	}
	final := map[string]*vTable{}
	for _, t := range p.cur.Tables {
		final[t.Phys] = t
	}
	out = append(out, p.contractPre(final)...)
	// Removed tables.
	for _, name := range p.cat.Names {
		if final[name] == nil {
			out = append(out, "DROP TABLE "+qual(p.schema, name))
		}
	}
	var renames, tail, tableRenames []string
	for _, t := range p.cur.Tables {
		tq := qual(p.schema, t.Phys)
		// Columns no version needs any more.
		used := map[string]bool{}
		for _, c := range t.Columns {
			used[c.Phys] = true
		}
		var physOrder []string
		if pt := p.cat.Tables[t.Phys]; pt != nil {
			for _, c := range pt.Columns {
				physOrder = append(physOrder, c.Name)
			}
		}
		for _, a := range p.added[t.Phys] {
			physOrder = append(physOrder, a.Name)
		}
		for _, pc := range physOrder {
			if !used[pc] {
				out = append(out, "ALTER TABLE "+tq+" DROP COLUMN "+ident(pc))
			}
		}
		// Physical state of each column after start.
		for _, c := range t.Columns {
			phDefault, phNotNull, phComment := p.physAttrs(t.Phys, c.Phys)
			if c.IdentitySeq != "" {
				// An identity column replaced by a shadow: the shadow
				// becomes the identity column (contractPre), no default.
				phDefault = c.Default
			}
			if !sameExpr(phDefault, c.Default) {
				if c.Default == nil {
					tail = append(tail, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" DROP DEFAULT")
				} else {
					tail = append(tail, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" SET DEFAULT "+*c.Default)
				}
			}
			if phNotNull && !c.NotNull {
				tail = append(tail, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" DROP NOT NULL")
			}
			if !sameExpr(phComment, c.Comment) {
				v := "NULL"
				if c.Comment != nil {
					v = literal(*c.Comment)
				}
				tail = append(tail, "COMMENT ON COLUMN "+tq+"."+ident(c.Phys)+" IS "+v)
			}
			if c.Name != c.Phys {
				renames = append(renames, "ALTER TABLE "+tq+" RENAME COLUMN "+ident(c.Phys)+" TO "+ident(c.Name))
			}
		}
		if t.Name != t.Phys {
			tableRenames = append(tableRenames, "ALTER TABLE "+tq+" RENAME TO "+ident(t.Name))
		}
	}
	// Defaults and comments refer to physical names, so they come before the renames.
	out = append(out, tail...)
	out = append(out, renames...)
	// Carried objects take their names back; they name tables by their
	// physical names, so they come before the table renames.
	out = append(out, p.contractPost()...)
	out = append(out, tableRenames...)
	return out
}

// physAttrs reports default, NOT NULL and comment of a physical column as
// they are once start has run.
func (p *planner) physAttrs(table, col string) (*string, bool, *string) {
	for _, a := range p.added[table] {
		if a.Name == col {
			// NOT NULL of added columns is set by its own complete step.
			return a.Default, false, a.Comment
		}
	}
	if pc := p.cat.column(table, col); pc != nil {
		return pc.defaultExpr(), pc.NotNull, pc.Comment
	}
	return nil, false, nil
}

func sameExpr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Short names for package plan's types in the planner's code.
type (
	Plan         = plan.Plan
	Step         = plan.Step
	BackfillSpec = plan.BackfillSpec
	IndexSpec    = plan.IndexSpec
)

// Step kinds (see package plan).
const (
	KindSQL      = plan.KindSQL
	KindBackfill = plan.KindBackfill
	KindIndex    = plan.KindIndex
)
