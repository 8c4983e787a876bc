package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/migration"
)

// removeTable hides the table from the new version; complete drops it.
func (p *planner) removeTable(a *migration.RemoveTable) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	if t.Created {
		p.expand = append(p.expand, Step{
			ID: "drop-new-table:" + t.Phys, Kind: KindSQL, Tx: true,
			Desc: "drop new table " + t.Phys,
			SQL:  []string{"DROP TABLE " + qual(p.schema, t.Phys)},
		})
	} else {
		deps, err := tableDependents(p.ctx, p.tx, p.schema, t.Phys, p.prev)
		if err != nil {
			return err
		}
		if len(deps) > 0 {
			return p.errf(".table", "table %q cannot be removed: %s depend(s) on it", a.Table, strings.Join(deps, ", "))
		}
	}
	p.cur.remove(a.Table)
	return nil
}

// tableDependents lists objects outside the table itself that would break or
// be dropped with it: views, and foreign keys of other tables.
func tableDependents(ctx context.Context, tx pgx.Tx, schema, table, prev string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid)
		FROM pg_depend d
		JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
		LEFT JOIN pg_class vc ON vc.oid = rw.ev_class
		LEFT JOIN pg_namespace vn ON vn.oid = vc.relnamespace
		LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
		WHERE d.refclassid = 'pg_class'::regclass AND n.nspname = $1 AND t.relname = $2
		  AND d.deptype = 'n'
		  AND ((rw.oid IS NOT NULL AND vc.oid <> t.oid AND vn.nspname IS DISTINCT FROM $3)
		       OR (con.oid IS NOT NULL AND con.conrelid <> t.oid))
		ORDER BY 1`, schema, table, prev)
	if err != nil {
		return nil, fmt.Errorf("engine: read dependents of %s: %w", table, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("engine: read dependents of %s: %w", table, err)
	}
	return out, nil
}
