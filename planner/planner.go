// Package planner turns pending migrations and the database's catalog into a
// plan (package plan): the steps of the start, complete and abort phases.
// It changes nothing: every question to the server goes through the Prober
// interface (TxProber answers over a transaction the caller rolls back).
//
// Layout: planner.go (Build, the planner's model state and the action
// dispatch), act_<action>.go (one file per action type), objects.go (the
// pending indexes, constraints and types), carry.go (what a replaced column
// takes along), multitable*.go (syncs across tables), trigger.go and views.go
// (the sync trigger and the version schema), steps*.go (the start, complete
// and abort step builders), probe.go (checks), prober.go and txprober*.go
// (the questions to the server), sql.go (SQL helpers).
package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// Options say what Build plans for.
type Options struct {
	Schema      string // managed schema
	StateSchema string // strata's own schema, where the sync functions live
	// PreviousSchema is the version schema of the latest completed
	// migration ("" for none, or when it no longer exists).
	PreviousSchema string
	// EnumValuesLeft holds the IDs of start steps that added an enum
	// value an aborted phase left behind (PostgreSQL cannot remove it): a
	// start of the same step accepts the value instead of refusing it as
	// already there.
	EnumValuesLeft map[string]bool
	// VersionStyle is the version schema style (migration.StyleStrata or
	// migration.StyleReshape; "" is strata's): it names the new version
	// schema (unless the latest migration sets version_schema) and, for
	// reshape, gives it a view of every table, kept through complete.
	VersionStyle string
}

// Build turns the pending migrations into a plan, asking pr every question
// about the database. With a TxProber, the transaction must be one the
// caller rolls back. An error about a migration that cannot be applied is
// a *PlanError (errors.Is ErrInvalid); a check that met a lock timeout
// returns that error (pgexec.Retryable), so the caller may plan again.
func Build(ctx context.Context, pr Prober, opts Options, migs []*migration.Migration) (*plan.Plan, error) {
	if len(migs) == 0 {
		return nil, errors.New("no migrations to plan")
	}
	schema, prev := opts.Schema, opts.PreviousSchema
	cat, err := pr.Catalog(ctx, schema)
	if err != nil {
		return nil, err
	}
	if !cat.Schemas[schema] {
		return nil, fmt.Errorf("schema %q does not exist\nhint: check --schema (the managed schema), or create the schema first", schema)
	}
	last := migs[len(migs)-1]
	style := opts.VersionStyle
	if style == migration.StyleStrata {
		style = ""
	}
	version := migration.VersionSchemaFor(last, schema, style)
	if len(version) > migration.MaxIdentifierLen {
		return nil, &PlanError{Where: last.File, Msg: fmt.Sprintf("version schema name %q is %d bytes; PostgreSQL allows at most %d: shorten the migration name or set version_schema",
			version, len(version), migration.MaxIdentifierLen)}
	}
	if version == schema || version == opts.StateSchema {
		return nil, &PlanError{Where: last.File, Msg: fmt.Sprintf("version schema %q would be the managed or the state schema", version)}
	}
	if cat.Schemas[version] {
		return nil, &PlanError{Where: last.File, Msg: fmt.Sprintf("version schema %q already exists", version)}
	}
	if prev != "" && !cat.Schemas[prev] {
		prev = ""
	}
	p := &planner{
		pr: pr, cat: cat, schema: schema, state: opts.StateSchema, version: version, prev: prev, style: style,
		syncs: map[string]*tableSync{}, added: map[string][]*addedCol{}, enumLeft: opts.EnumValuesLeft,
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
	out, err := p.finish(ctx)
	if err != nil {
		return nil, p.lockOr(err)
	}
	return out, nil
}

// action plans one action of the migrations: one file per action type,
// act_<type>.go.
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
	case *migration.AddUnique:
		return p.addUnique(ctx, a)
	case *migration.AddPrimaryKey:
		return p.addPrimaryKey(ctx, a)
	case *migration.RenameConstraint:
		return p.renameConstraint(ctx, a)
	case *migration.RemoveConstraint:
		return p.removeAnyConstraint(ctx, a)
	case *migration.SetReplicaIdentity:
		return p.setReplicaIdentity(ctx, a)
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

// planner holds the model of one phase while it is planned: the catalog,
// the shape of the old and the new version, and what the actions registered.
type planner struct {
	pr      Prober
	cat     *Catalog
	schema  string
	state   string
	version string
	prev    string
	// style is the version schema style ("" for strata's, or
	// migration.StyleReshape).
	style string
	// enumLeft: see Options.EnumValuesLeft.
	enumLeft map[string]bool

	old, cur *vSchema
	syncs    map[string]*tableSync
	order    []string
	added    map[string][]*addedCol // physical table -> physical columns added in this phase
	created  []string               // physical tables created in this phase
	seq      int                    // action number across the phase
	seqs     map[string]bool        // sequences of serial columns made in this phase

	expand         []plan.Step
	completeCustom []plan.Step
	abortCustom    []plan.Step

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
		return nil, p.errf(key, "table %q does not exist in schema %q%s", name, p.schema, p.cur.tableHint(name))
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
