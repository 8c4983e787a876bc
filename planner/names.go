package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// ownedName names one of strata's functions for table phys of this phase.
// The functions of every managed schema share the state schema, so the
// name is prefix + "<schema>_<table>" (for people reading the catalog) +
// a hash of the quoted triple (schema, table, version schema): "s_x"."t"
// and "s"."x_t" read alike but never share a function, nor do two phases
// of one table.
func (p *planner) ownedName(prefix, phys string) string {
	key := pgquery.Qual(p.schema, phys) + "." + pgquery.Ident(p.version)
	return pgquery.HashedName(prefix, p.schema+"_"+phys, key)
}

// wantedName is a name strata's start creates: a function in the state
// schema, or a trigger, check constraint or column on a table of the
// managed schema.
type wantedName struct {
	kind  string // "function", "trigger", "constraint" or "column"
	table string // physical table ("" for a function)
	name  string
}

// wantedNames lists the names start creates that an object of the
// database could already hold: the sync and cross-table trigger functions
// and their triggers, the NOT NULL checks of new columns and the shadow
// columns, on tables that exist before start.
func (p *planner) wantedNames() []wantedName {
	var out []wantedName
	existing := func(phys string) bool { return p.cat.Tables[phys] != nil && !p.isCreated(phys) }
	for _, phys := range p.order {
		s := p.syncs[phys]
		if len(s.Up) == 0 && len(s.Down) == 0 {
			continue
		}
		out = append(out, wantedName{"function", "", p.ownedName("sync_", phys)})
		if existing(phys) {
			out = append(out, wantedName{"trigger", phys, "_strata_sync"})
		}
	}
	_, order := p.crossTriggers()
	for _, phys := range order {
		for _, which := range []string{"a", "b"} {
			out = append(out, wantedName{"function", "", p.ownedName("x"+which+"_", phys)})
			if existing(phys) {
				out = append(out, wantedName{"trigger", phys, "_strata_x" + which})
			}
		}
	}
	for _, x := range p.notNulls() {
		out = append(out, wantedName{"constraint", x.table, x.check})
	}
	for _, l := range p.cross.links {
		if l.NotNull {
			out = append(out, wantedName{"constraint", l.T.Phys, internalName("_strata_nn_", l.Col)})
		}
	}
	for phys, cols := range p.added {
		if !existing(phys) {
			continue
		}
		for _, c := range cols {
			if strings.HasPrefix(c.Name, "_strata_") {
				out = append(out, wantedName{"column", phys, c.Name})
			}
		}
	}
	return out
}

// checkNames refuses the plan when a name start would create already
// belongs to an object strata did not create for this phase: a CREATE OR
// REPLACE would take it over, an IF NOT EXISTS would use it.
func (p *planner) checkNames(ctx context.Context) error {
	for _, w := range p.wantedNames() {
		schema := p.schema
		if w.kind == "function" {
			schema = p.state
		}
		owner, err := p.pr.NameOwner(ctx, w.kind, schema, w.table, w.name)
		if err != nil {
			return err
		}
		if owner != "" {
			return &PlanError{Where: p.mig.File, Msg: fmt.Sprintf(
				"strata needs the %s name %q for this phase, but %s already has it\nhint: rename or drop that object (strata's own objects are dropped by complete or abort of the phase that made them)",
				w.kind, w.name, owner)}
		}
	}
	return nil
}
