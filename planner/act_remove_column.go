package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// removeColumn hides the column from the new version; complete drops it.
// Until then the old version still reads and writes it, and rows the new
// version writes get `down` (or the column's default) so that the old
// version's NOT NULL still holds.
func (p *planner) removeColumn(ctx context.Context, a *migration.RemoveColumn) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	c := t.col(a.Column)
	if c == nil {
		return p.errf(".column", "column %q does not exist in table %q%s", a.Column, a.Table, t.colHint(a.Column))
	}
	for _, k := range t.Key {
		if k == c.Phys && !t.Created {
			return p.errf(".column", "column %q is part of the key of table %q and cannot be removed", a.Column, a.Table)
		}
	}
	relaxNotNull := false
	if t.Created {
		tq := qual(p.schema, t.Phys)
		p.expand = append(p.expand, plan.Step{
			ID: fmt.Sprintf("drop-new-column:%s.%s", t.Phys, c.Phys), Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("drop column %s of new table %s", c.Phys, t.Phys),
			SQL:  []string{"ALTER TABLE " + tq + " DROP COLUMN " + ident(c.Phys)},
		})
		p.dropColumn(t, c)
		return nil
	}
	if pc := p.cat.column(t.Phys, c.Phys); pc != nil {
		deps, err := p.columnDependents(ctx, t.Phys, c.Phys)
		if err != nil {
			return err
		}
		var blocking []string
		for _, d := range deps {
			// Indexes and constraints of the table itself go with the column.
			if strings.HasPrefix(d, "index ") || (strings.HasPrefix(d, "constraint ") && strings.HasSuffix(d, " on table "+t.Phys)) {
				continue
			}
			blocking = append(blocking, d)
		}
		if len(blocking) > 0 {
			return p.errf(".column", "column %q cannot be removed: %s depend(s) on it", a.Column, strings.Join(blocking, ", "))
		}
		relaxNotNull = pc.NotNull
		if pc.NotNull && pc.defaultExpr() == nil && a.Down == nil && !c.Generated {
			return p.errf(".down", "column %q is NOT NULL without a default: `down` is required so that rows written by the new version satisfy it for the old version", a.Column)
		}
	}
	after := t.clone()
	after.Columns = nil
	for _, x := range t.Columns {
		if x != c {
			xc := *x
			after.Columns = append(after.Columns, &xc)
		}
	}
	if a.Down.MultiTable() {
		if err := p.linkColumn(false, after, c, a.Down, ".down", relaxNotNull); err != nil {
			return err
		}
	} else if a.Down != nil {
		s := p.sync(t.Phys)
		s.Down = append(s.Down, fragment{Target: c.Phys, Expr: a.Down.Expr, View: after, Phys: t.Phys, Schema: p.schema,
			Type: c.Type, Mig: p.mig, Idx: p.idx, Key: ".down"})
	}
	p.dropColumn(t, c)
	return nil
}

func (p *planner) dropColumn(t *vTable, c *vColumn) {
	for i, x := range t.Columns {
		if x == c {
			t.Columns = append(t.Columns[:i], t.Columns[i+1:]...)
			break
		}
	}
	if t.Created {
		kept := p.added[t.Phys][:0]
		for _, a := range p.added[t.Phys] {
			if a.Name != c.Phys {
				kept = append(kept, a)
			}
		}
		p.added[t.Phys] = kept
	}
}

// columnDependents lists what depends on a physical column, other than
// strata's own objects.
func (p *planner) columnDependents(ctx context.Context, table, col string) ([]string, error) {
	deps, err := p.pr.ColumnDependents(ctx, p.schema, table, col)
	if err != nil {
		return nil, fmt.Errorf("read dependents of %s.%s: %w", table, col, err)
	}
	var out []string
	for _, d := range deps {
		if p.prev != "" && d.ViewSchema == p.prev {
			continue
		}
		out = append(out, d.What)
	}
	return out, nil
}
