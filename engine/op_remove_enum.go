package engine

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/migration"
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

func (p *planner) removeEnum(a *migration.RemoveEnum) error {
	e, err := p.enum(".enum", a.Enum)
	if err != nil {
		return err
	}
	var oid, arr uint32
	if err := p.tx.QueryRow(p.ctx, `SELECT t.oid, t.typarray FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = $1 AND t.typname = $2`, p.schema, a.Enum).Scan(&oid, &arr); err != nil {
		return fmt.Errorf("engine: read enum %s: %w", a.Enum, err)
	}
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
	var resolved []*uint32
	err = p.savepoint(func() error {
		rows, err := p.tx.Query(p.ctx, `SELECT to_regtype(x)::oid FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i`, types)
		if err != nil {
			return err
		}
		resolved, err = pgx.CollectRows(rows, pgx.RowTo[*uint32])
		return err
	})
	if err != nil {
		return fmt.Errorf("engine: resolve column types: %w", err)
	}
	for i, r := range resolved {
		if r != nil && (*r == oid || *r == arr) {
			users = append(users, where[i])
		}
	}
	// Everything else in the database, except columns complete drops and
	// the old version's views.
	err = p.catalogPath(func() error {
		// A column's default counts as the column.
		rows, err := p.tx.Query(p.ctx, `SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
				coalesce(n.nspname, ''), coalesce(c.relname, ''), coalesce(c.relkind::text, ''), coalesce(a.attname, '')
			FROM pg_depend d
			LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
			LEFT JOIN pg_class c ON c.oid = CASE WHEN d.classid = 'pg_class'::regclass THEN d.objid ELSE ad.adrelid END
			LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
			LEFT JOIN pg_attribute a ON a.attrelid = c.oid
				AND a.attnum = CASE WHEN d.classid = 'pg_class'::regclass THEN d.objsubid ELSE ad.adnum END AND a.attnum > 0
			LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
			LEFT JOIN pg_class vc ON vc.oid = rw.ev_class
			LEFT JOIN pg_namespace vn ON vn.oid = vc.relnamespace
			WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid IN ($1, $2) AND d.deptype = 'n'
			  AND ($3 = '' OR coalesce(vn.nspname, '') <> $3)
			ORDER BY 1`, oid, arr, p.prev)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var desc, schema, rel, kind, col string
			if err := rows.Scan(&desc, &schema, &rel, &kind, &col); err != nil {
				return err
			}
			if schema == p.schema && (kind == "r" || kind == "p") && col != "" &&
				(strings.HasPrefix(desc, "column ") || !p.physKept(rel, col)) {
				continue // a column of a managed table (judged by the model above), or the default of one complete drops
			}
			if p.prev != "" && schema == p.prev {
				continue // the old version's views, dropped at complete
			}
			users = append(users, desc)
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("engine: read users of enum %s: %w", a.Enum, err)
	}
	if len(users) > 0 {
		return p.errf(".enum", "enum %q is still used by %s", a.Enum, strings.Join(users, ", "))
	}
	e.Removed = true
	p.objs.enumPost = append(p.objs.enumPost, "DROP TYPE "+qual(p.schema, a.Enum))
	return nil
}
