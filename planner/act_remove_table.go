package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// removeTable hides the table from the new version; complete drops it.
func (p *planner) removeTable(ctx context.Context, a *migration.RemoveTable) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	if t.Created {
		p.expand = append(p.expand, plan.Step{
			ID: "drop-new-table:" + t.Phys, Kind: plan.KindSQL, Tx: true,
			Desc: "drop new table " + t.Phys,
			SQL:  []string{"DROP TABLE " + qual(p.schema, t.Phys)},
		})
	} else {
		deps, err := p.pr.TableDependents(ctx, p.schema, t.Phys, p.prev)
		if err != nil {
			return fmt.Errorf("read dependents of %s: %w", t.Phys, err)
		}
		if len(deps) > 0 {
			return p.errf(".table", "table %q cannot be removed: %s depend(s) on it", a.Table, strings.Join(deps, ", "))
		}
	}
	p.cur.remove(a.Table)
	return nil
}
