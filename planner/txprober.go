package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TxProber is the Prober over the scratch transaction the engine plans in,
// which the engine always rolls back. Checks run inside a savepoint that is
// rolled back at once, so the transaction is left as it was.
type TxProber struct {
	Tx pgx.Tx
}

// NewTxProber returns the Prober over tx.
func NewTxProber(tx pgx.Tx) TxProber { return TxProber{Tx: tx} }

var _ Prober = TxProber{}

// savepoint runs fn inside a savepoint that is always rolled back: the
// database is left exactly as it was. It returns fn's error.
func (x TxProber) savepoint(ctx context.Context, fn func() error) error {
	if _, err := x.Tx.Exec(ctx, "SAVEPOINT strata_check"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	ferr := fn()
	if _, err := x.Tx.Exec(ctx, "ROLLBACK TO SAVEPOINT strata_check"); err != nil {
		return fmt.Errorf("rollback to savepoint: %w", err)
	}
	return ferr
}

// SetSearchPath implements Prober.
func (x TxProber) SetSearchPath(ctx context.Context, path string) error {
	_, err := x.Tx.Exec(ctx, "SET LOCAL search_path = "+path)
	return err
}

// Apply implements Prober.
func (x TxProber) Apply(ctx context.Context, stmt string) error {
	_, err := x.Tx.Exec(ctx, stmt)
	return err
}

// Try implements Prober.
func (x TxProber) Try(ctx context.Context, stmts []string) (int, error) {
	failed := -1
	err := x.savepoint(ctx, func() error {
		for i, s := range stmts {
			if _, err := x.Tx.Exec(ctx, s); err != nil {
				failed = i
				return err
			}
		}
		failed = 0
		return nil
	})
	return failed, err
}

// FastDefault implements Prober.
func (x TxProber) FastDefault(ctx context.Context, typ, def string) (bool, error) {
	var fast bool
	err := x.savepoint(ctx, func() error {
		// An empty table: PostgreSQL still computes a non-volatile default
		// once (as the value of existing rows) and records atthasmissing,
		// but never calls a volatile one (a nextval here would consume a
		// sequence value, which no rollback gives back).
		if _, err := x.Tx.Exec(ctx, "CREATE TEMP TABLE _strata_probe (x int) ON COMMIT DROP"); err != nil {
			return err
		}
		if _, err := x.Tx.Exec(ctx, "ALTER TABLE _strata_probe ADD COLUMN c "+typ+" DEFAULT "+def); err != nil {
			return err
		}
		return x.Tx.QueryRow(ctx, `SELECT atthasmissing FROM pg_attribute
			WHERE attrelid = 'pg_temp._strata_probe'::regclass AND attname = 'c'`).Scan(&fast)
	})
	return fast, err
}

// ResolveTypes implements Prober.
func (x TxProber) ResolveTypes(ctx context.Context, types []string) ([]uint32, error) {
	var out []uint32
	err := x.savepoint(ctx, func() error {
		rows, err := x.Tx.Query(ctx, `SELECT to_regtype(x)::oid FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i`, types)
		if err != nil {
			return err
		}
		resolved, err := pgx.CollectRows(rows, pgx.RowTo[*uint32])
		if err != nil {
			return err
		}
		for _, r := range resolved {
			var oid uint32
			if r != nil {
				oid = *r
			}
			out = append(out, oid)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Collatable implements Prober.
func (x TxProber) Collatable(ctx context.Context, typ string) (bool, error) {
	var collatable bool
	err := x.savepoint(ctx, func() error {
		return x.Tx.QueryRow(ctx, "SELECT typcollation <> 0 FROM pg_type WHERE oid = $1::regtype", typ).Scan(&collatable)
	})
	return collatable, err
}

// RelationExists implements Prober.
func (x TxProber) RelationExists(ctx context.Context, schema, name string) (bool, error) {
	var exists bool
	err := x.Tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2)`, schema, name).Scan(&exists)
	return exists, err
}

// TypeExists implements Prober.
func (x TxProber) TypeExists(ctx context.Context, schema, name string) (bool, error) {
	var exists bool
	err := x.Tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = $1 AND t.typname = $2)`, schema, name).Scan(&exists)
	return exists, err
}

// ConstraintType implements Prober.
func (x TxProber) ConstraintType(ctx context.Context, schema, table, name string) (string, error) {
	var typ string
	err := x.Tx.QueryRow(ctx, `SELECT coalesce((SELECT k.contype::text FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3), '')`, schema, table, name).Scan(&typ)
	return typ, err
}

// PrimaryKey implements Prober.
func (x TxProber) PrimaryKey(ctx context.Context, schema, table string) (string, error) {
	var name string
	err := x.Tx.QueryRow(ctx, `SELECT coalesce((SELECT k.conname::text FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND k.contype = 'p'), '')`, schema, table).Scan(&name)
	return name, err
}

// NameOwner implements Prober.
func (x TxProber) NameOwner(ctx context.Context, kind, schema, table, name string) (string, error) {
	var q string
	switch kind {
	case "function":
		q = `SELECT pg_describe_object('pg_proc'::regclass, p.oid, 0) FROM pg_proc p
			JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $3 AND $2 = ''`
	case "trigger":
		q = `SELECT pg_describe_object('pg_trigger'::regclass, g.oid, 0) FROM pg_trigger g
			JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND g.tgname = $3`
	case "constraint":
		q = `SELECT pg_describe_object('pg_constraint'::regclass, k.oid, 0) FROM pg_constraint k
			JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3`
	case "column":
		q = `SELECT pg_describe_object('pg_class'::regclass, c.oid, a.attnum) FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped`
	default:
		return "", fmt.Errorf("name owner: unknown kind %q", kind)
	}
	var out string
	err := x.Tx.QueryRow(ctx, "SELECT coalesce(("+q+" LIMIT 1), '')", schema, table, name).Scan(&out)
	return out, err
}

// Index implements Prober.
func (x TxProber) Index(ctx context.Context, schema, name string) (*IndexInfo, error) {
	var ix IndexInfo
	err := x.Tx.QueryRow(ctx, `SELECT t.relname, coalesce((SELECT conname FROM pg_constraint WHERE conindid = c.oid
			AND conrelid = t.oid AND contype IN ('p', 'u', 'x') LIMIT 1), ''),
			x.indisunique, x.indpred IS NOT NULL, x.indexprs IS NOT NULL, NOT x.indimmediate,
			coalesce((SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest((x.indkey::int2[])[0:x.indnkeyatts - 1]) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_index x ON x.indexrelid = c.oid JOIN pg_class t ON t.oid = x.indrelid
		WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&ix.Table, &ix.Constraint,
		&ix.Unique, &ix.Partial, &ix.Exprs, &ix.Deferrable, &ix.Columns)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &ix, nil
}

// HasUnique implements Prober.
func (x TxProber) HasUnique(ctx context.Context, schema, table string, cols []string) (bool, error) {
	var found bool
	err := x.Tx.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indimmediate AND i.indpred IS NULL
		  AND i.indexprs IS NULL AND i.indnkeyatts = cardinality($3::text[])
		  AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C") FROM pg_attribute a
		       WHERE a.attrelid = i.indrelid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) = $3::text[])`,
		schema, table, cols).Scan(&found)
	return found, err
}

// TableColumns implements Prober.
func (x TxProber) TableColumns(ctx context.Context, schema, table string) ([]string, error) {
	rows, err := x.Tx.Query(ctx, `SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, schema, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Catalog implements Prober. It sets search_path = pg_catalog locally so
// that names come qualified. When schema does not exist, the catalog holds
// only the schema names.
func (x TxProber) Catalog(ctx context.Context, schema string) (*Catalog, error) {
	tx := x.Tx
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	c := &Catalog{Schema: schema, Tables: map[string]*Table{}, Schemas: map[string]bool{}}
	var num int
	if err := tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	c.PGMajor = num / 10000

	rows, err := tx.Query(ctx, "SELECT nspname FROM pg_namespace")
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	for _, n := range names {
		c.Schemas[n] = true
	}
	if !c.Schemas[schema] {
		return c, nil
	}
	rows, err = tx.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN '' ELSE a.grantee::regrole::text END, a.privilege_type
		FROM pg_namespace n, aclexplode(n.nspacl) a
		WHERE n.nspname = $1 AND a.grantee <> n.nspowner ORDER BY 1, 2`, schema)
	if err != nil {
		return nil, fmt.Errorf("read schema grants: %w", err)
	}
	c.SchemaACL, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Grant, error) {
		var g Grant
		err := r.Scan(&g.Grantee, &g.Privilege)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("read schema grants: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT c.oid, c.relname, c.relkind::text, c.relrowsecurity FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Table, error) {
		var t Table
		err := r.Scan(&t.OID, &t.Name, &t.Kind, &t.RowSecurity)
		return &t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	byOID := map[uint32]*Table{}
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
		return nil, fmt.Errorf("read columns: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var col Column
		if err := rows.Scan(&oid, &col.Name, &col.Type, &col.NotNull, &col.Default, &col.Identity, &col.Generated, &col.Comment, &col.Num); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns: %w", err)
		}
		byOID[oid].Columns = append(byOID[oid].Columns, &col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
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
		return nil, fmt.Errorf("read keys: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var cols []string
		if err := rows.Scan(&oid, &cols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read keys: %w", err)
		}
		if t := byOID[oid]; t.Key == nil {
			t.Key = cols
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT c.oid, CASE WHEN a.grantee = 0 THEN '' ELSE a.grantee::regrole::text END, a.privilege_type
		FROM pg_class c, aclexplode(c.relacl) a
		WHERE c.oid = ANY($1) AND a.grantee <> c.relowner ORDER BY 1, 2, 3`, oids)
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var g Grant
		if err := rows.Scan(&oid, &g.Grantee, &g.Privilege); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read grants: %w", err)
		}
		byOID[oid].ACL = append(byOID[oid].ACL, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return c, nil
}
