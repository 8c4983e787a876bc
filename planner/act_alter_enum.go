package planner

import (
	"context"
	"slices"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// alterEnum adds values to an enum type and renames values.
//
// Adding a value (ALTER TYPE ... ADD VALUE IF NOT EXISTS ... BEFORE/AFTER)
// runs at start, outside a transaction, in the action's place among the
// start steps, so later actions can use the value. PostgreSQL cannot remove
// a value from an enum: abort leaves added values in place (harmless: no row
// of the old version uses them).
//
// Renaming a value changes it for every user of the type at once, old
// version included. For an enum created in this phase only the new version
// can use it, so the rename is applied at start. For an existing enum the
// rename is applied at complete, in the contract transaction, when the old
// version is retired: until then both versions read and write the old label
// (the new version must accept it during the phase), and abort has nothing
// to undo.
func (p *planner) alterEnum(ctx context.Context, a *migration.AlterEnum) error {
	e, err := p.enum(ctx, ".name", a.Name)
	if err != nil {
		return err
	}
	tq := qual(p.schema, a.Name)
	for i, add := range a.Add {
		k := ".add[" + itoa(i) + "]"
		id := plan.EnumAddValuePrefix + a.Name + ":" + add.Value
		if slices.Contains(e.Labels, add.Value) {
			if !p.enumLeft[id] {
				return p.errf(k+".value", "enum %q already has the value %q", a.Name, add.Value)
			}
			// Left by an aborted start of this very step (abort cannot
			// remove it): ADD VALUE IF NOT EXISTS does nothing again.
			p.expand = append(p.expand, plan.Step{
				ID: id, Kind: plan.KindSQL, Tx: false,
				Desc: "add value " + add.Value + " to enum " + a.Name + " (already there: left by an aborted start)",
				SQL:  []string{"ALTER TYPE " + tq + " ADD VALUE IF NOT EXISTS " + literal(add.Value)},
			})
			continue
		}
		sql := "ALTER TYPE " + tq + " ADD VALUE IF NOT EXISTS " + literal(add.Value)
		pos := len(e.Labels)
		switch {
		case add.Before != "":
			j := slices.Index(e.Labels, add.Before)
			if j < 0 {
				return p.errf(k+".before", "enum %q has no value %q", a.Name, add.Before)
			}
			sql += " BEFORE " + literal(add.Before)
			pos = j
		case add.After != "":
			j := slices.Index(e.Labels, add.After)
			if j < 0 {
				return p.errf(k+".after", "enum %q has no value %q", a.Name, add.After)
			}
			sql += " AFTER " + literal(add.After)
			pos = j + 1
		}
		if p.cat.PGMajor >= 12 {
			// So that later checks of the phase know the value. Until the
			// planning transaction ends a new value of an existing enum
			// cannot be used: such checks give no verdict (see savepoint).
			if err := p.pr.Apply(ctx, sql); err != nil {
				return p.errf(k+".value", "%s", pgMessage(err))
			}
		}
		e.Labels = slices.Insert(e.Labels, pos, add.Value)
		p.expand = append(p.expand, plan.Step{
			ID: id, Kind: plan.KindSQL, Tx: false,
			Desc: "add value " + add.Value + " to enum " + a.Name + " (outside a transaction; abort cannot remove it)",
			SQL:  []string{sql},
		})
	}
	for i, r := range a.Rename {
		k := ".rename[" + itoa(i) + "]"
		j := slices.Index(e.Labels, r.From)
		if j < 0 {
			return p.errf(k+".from", "enum %q has no value %q", a.Name, r.From)
		}
		if slices.Contains(e.Labels, r.To) {
			return p.errf(k+".to", "enum %q already has the value %q", a.Name, r.To)
		}
		sql := "ALTER TYPE " + tq + " RENAME VALUE " + literal(r.From) + " TO " + literal(r.To)
		if e.Created {
			if err := p.pr.Apply(ctx, sql); err != nil {
				return p.errf(k+".to", "%s", pgMessage(err))
			}
			e.Labels[j] = r.To
			p.expand = append(p.expand, plan.Step{
				ID: "enum-rename-value:" + a.Name + ":" + r.From, Kind: plan.KindSQL, Tx: true,
				Desc: "rename value " + r.From + " of new enum " + a.Name + " to " + r.To,
				SQL:  []string{sql},
			})
			continue
		}
		// At complete; the label stays as it is during the phase, for later
		// actions too.
		for _, done := range e.renamed {
			if done == r.From {
				return p.errf(k+".from", "value %q of enum %q is already renamed in this phase", r.From, a.Name)
			}
		}
		e.renamed = append(e.renamed, r.From)
		p.objs.enumPost = append(p.objs.enumPost, sql)
	}
	return nil
}
