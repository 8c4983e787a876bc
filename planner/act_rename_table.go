package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// renameTable changes the name the new version's view has; complete renames
// the physical table.
func (p *planner) renameTable(ctx context.Context, a *migration.RenameTable) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	if a.NewName == a.Table {
		return p.errf(".new_name", "new_name is the same as table")
	}
	if p.cur.table(a.NewName) != nil {
		return p.errf(".new_name", "table %q already exists in schema %q", a.NewName, p.schema)
	}
	if a.NewName != t.Phys {
		exists, err := p.pr.RelationExists(ctx, p.schema, a.NewName)
		if err != nil {
			return err
		}
		if exists {
			return p.errf(".new_name", "a relation named %q already exists in schema %q", a.NewName, p.schema)
		}
	}
	t.Name = a.NewName
	return nil
}
