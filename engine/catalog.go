package engine

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// physColumn is a column of a table as the catalog describes it. Types and
// default expressions are read with search_path = pg_catalog, so every name
// outside pg_catalog comes schema-qualified.
type physColumn struct {
	Name      string
	Type      string
	NotNull   bool
	Default   *string
	Identity  string // "", "a" (always) or "d" (by default)
	Generated string // "" or "s"
	Comment   *string
	Num       int
}

// defaultExpr is the column's default; a generated column's expression is
// not a default.
func (c *physColumn) defaultExpr() *string {
	if c.Generated != "" {
		return nil
	}
	return c.Default
}

type physTable struct {
	OID     uint32
	Name    string
	Kind    string
	Columns []*physColumn
	// Key is the primary key (or, failing that, a unique index over NOT NULL
	// columns) used to batch backfills; nil when the table has neither.
	Key []string
	ACL []grant
}

type grant struct {
	Grantee   string // "" for PUBLIC
	Privilege string
}

type catalog struct {
	Schema    string
	SchemaACL []grant
	Tables    map[string]*physTable
	Names     []string // table names in order
	Schemas   map[string]bool
	PGMajor   int
}

func (c *catalog) column(table, col string) *physColumn {
	t := c.Tables[table]
	if t == nil {
		return nil
	}
	for _, pc := range t.Columns {
		if pc.Name == col {
			return pc
		}
	}
	return nil
}

// readCatalog reads the managed schema. It must run inside a transaction; it
// sets search_path locally so that names come qualified.
func readCatalog(ctx context.Context, tx pgx.Tx, schema string) (*catalog, error) {
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
		return nil, fmt.Errorf("engine: read catalog: %w", err)
	}
	c := &catalog{Schema: schema, Tables: map[string]*physTable{}, Schemas: map[string]bool{}}
	var num int
	if err := tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return nil, fmt.Errorf("engine: read server version: %w", err)
	}
	c.PGMajor = num / 10000

	rows, err := tx.Query(ctx, "SELECT nspname FROM pg_namespace")
	if err != nil {
		return nil, fmt.Errorf("engine: read schemas: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("engine: read schemas: %w", err)
	}
	for _, n := range names {
		c.Schemas[n] = true
	}
	if !c.Schemas[schema] {
		return nil, fmt.Errorf("engine: schema %q does not exist", schema)
	}
	rows, err = tx.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN '' ELSE a.grantee::regrole::text END, a.privilege_type
		FROM pg_namespace n, aclexplode(n.nspacl) a
		WHERE n.nspname = $1 AND a.grantee <> n.nspowner ORDER BY 1, 2`, schema)
	if err != nil {
		return nil, fmt.Errorf("engine: read schema grants: %w", err)
	}
	c.SchemaACL, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (grant, error) {
		var g grant
		err := r.Scan(&g.Grantee, &g.Privilege)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: read schema grants: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT c.oid, c.relname, c.relkind::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("engine: read tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*physTable, error) {
		var t physTable
		err := r.Scan(&t.OID, &t.Name, &t.Kind)
		return &t, err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: read tables: %w", err)
	}
	byOID := map[uint32]*physTable{}
	var oids []uint32
	for _, t := range tables {
		c.Tables[t.Name] = t
		c.Names = append(c.Names, t.Name)
		byOID[t.OID] = t
		oids = append(oids, t.OID)
	}
	if len(oids) == 0 {
		return c, nil
	}
	rows, err = tx.Query(ctx, `SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
			col_description(a.attrelid, a.attnum), a.attnum
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attrelid, a.attnum`, oids)
	if err != nil {
		return nil, fmt.Errorf("engine: read columns: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var col physColumn
		if err := rows.Scan(&oid, &col.Name, &col.Type, &col.NotNull, &col.Default, &col.Identity, &col.Generated, &col.Comment, &col.Num); err != nil {
			rows.Close()
			return nil, fmt.Errorf("engine: read columns: %w", err)
		}
		byOID[oid].Columns = append(byOID[oid].Columns, &col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("engine: read columns: %w", err)
	}
	// Primary keys first, then unique indexes over NOT NULL columns.
	rows, err = tx.Query(ctx, `SELECT i.indrelid, array_agg(a.attname ORDER BY k.ord)
		FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = ANY($1) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
		  AND i.indexprs IS NULL AND NOT i.indisexclusion
		GROUP BY i.indrelid, i.indexrelid, i.indisprimary
		HAVING bool_and(a.attnotnull)
		ORDER BY i.indrelid, i.indisprimary DESC, count(*), i.indexrelid`, oids)
	if err != nil {
		return nil, fmt.Errorf("engine: read keys: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var cols []string
		if err := rows.Scan(&oid, &cols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("engine: read keys: %w", err)
		}
		if t := byOID[oid]; t.Key == nil {
			t.Key = cols
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("engine: read keys: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT c.oid, CASE WHEN a.grantee = 0 THEN '' ELSE a.grantee::regrole::text END, a.privilege_type
		FROM pg_class c, aclexplode(c.relacl) a
		WHERE c.oid = ANY($1) AND a.grantee <> c.relowner ORDER BY 1, 2, 3`, oids)
	if err != nil {
		return nil, fmt.Errorf("engine: read grants: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var g grant
		if err := rows.Scan(&oid, &g.Grantee, &g.Privilege); err != nil {
			rows.Close()
			return nil, fmt.Errorf("engine: read grants: %w", err)
		}
		byOID[oid].ACL = append(byOID[oid].ACL, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("engine: read grants: %w", err)
	}
	return c, nil
}

// dependents lists objects, other than strata's own version views and the
// column's default, that depend on a column: what would be lost or break if
// the column were dropped.
func dependents(ctx context.Context, tx pgx.Tx, schema, table, column string, ignoreSchemas []string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		WITH col AS (
			SELECT a.attrelid, a.attnum FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3)
		SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid) AS what,
			coalesce(vn.nspname, '') AS view_schema
		FROM pg_depend d JOIN col ON d.refobjid = col.attrelid AND d.refobjsubid = col.attnum
		LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
		LEFT JOIN pg_class vc ON vc.oid = rw.ev_class
		LEFT JOIN pg_namespace vn ON vn.oid = vc.relnamespace
		WHERE d.refclassid = 'pg_class'::regclass
		  AND d.classid <> 'pg_attrdef'::regclass
		  AND NOT (d.classid = 'pg_class'::regclass AND d.deptype = 'a'
		           AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S')
		  AND NOT (d.classid = 'pg_rewrite'::regclass AND vc.oid = col.attrelid)
		ORDER BY 1`, schema, table, column)
	if err != nil {
		return nil, fmt.Errorf("engine: read dependents of %s.%s: %w", table, column, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var what, vs string
		if err := rows.Scan(&what, &vs); err != nil {
			return nil, fmt.Errorf("engine: read dependents: %w", err)
		}
		skip := false
		for _, s := range ignoreSchemas {
			if vs == s {
				skip = true
			}
		}
		if !skip {
			out = append(out, what)
		}
	}
	return out, rows.Err()
}
