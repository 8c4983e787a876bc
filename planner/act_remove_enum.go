package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
)

// removeEnum drops an enum type at complete, in the contract transaction,
// after the columns that complete drops. It is refused at start while
// anything still uses the type once the phase is complete: a column of the
// new version, a function, a domain, a view outside the old version schema.
// physKept reports whether a physical column of a managed table is still
// there after complete.
func (p *planner) physKept(table, col string) bool {
	for _, t := range p.cur.Tables {
		if t.Phys == table {
			return colByPhys(t, col) != nil
		}
	}
	return false
}

func (p *planner) removeEnum(ctx context.Context, a *migration.RemoveEnum) error {
	e, err := p.enum(ctx, ".enum", a.Enum)
	if err != nil {
		return err
	}
	oids, err := p.pr.TypeOIDs(ctx, p.schema, a.Enum)
	if err != nil {
		return fmt.Errorf("read enum %s: %w", a.Enum, err)
	}
	oid, arr := oids.OID, oids.Array
	var users []string
	// Columns of the new version, whatever phase added them.
	var types []string
	var where []string
	for _, t := range p.cur.Tables {
		for _, c := range t.Columns {
			types = append(types, c.Type)
			where = append(where, fmt.Sprintf("column %q of table %q", c.Name, t.Name))
		}
	}
	resolved, err := p.pr.ResolveTypes(ctx, types)
	err = p.verdict(err)
	if err != nil {
		return fmt.Errorf("resolve column types: %w", err)
	}
	for i, r := range resolved {
		if r != 0 && (r == oid || r == arr) {
			users = append(users, where[i])
		}
	}
	// Everything else in the database, except columns complete drops and
	// the old version's views.
	err = p.catalogPath(ctx, func() error {
		deps, err := p.pr.TypeDependents(ctx, oid, arr, p.prev)
		if err != nil {
			return err
		}
		for _, d := range deps {
			desc, schema, rel, kind, col := d.Desc, d.Schema, d.Relation, d.RelKind, d.Column
			if schema == p.schema && (kind == "r" || kind == "p") && col != "" &&
				(strings.HasPrefix(desc, "column ") || !p.physKept(rel, col)) {
				continue // a column of a managed table (judged by the model above), or the default of one complete drops
			}
			if p.prev != "" && schema == p.prev {
				continue // the old version's views, dropped at complete
			}
			users = append(users, desc)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read users of enum %s: %w", a.Enum, err)
	}
	if len(users) > 0 {
		return p.errf(".enum", "enum %q is still used by %s", a.Enum, strings.Join(users, ", "))
	}
	e.Removed = true
	p.objs.enumPost = append(p.objs.enumPost, "DROP TYPE "+qual(p.schema, a.Enum))
	return nil
}
