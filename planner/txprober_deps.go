package planner

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// EnumLabels implements Prober.
func (x TxProber) EnumLabels(ctx context.Context, schema, name string) ([]string, error) {
	var labels []string
	err := x.Tx.QueryRow(ctx, `SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_type t
		JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
		WHERE n.nspname = $1 AND t.typname = $2 AND t.typtype = 'e'`, schema, name).Scan(&labels)
	return labels, err
}

// TypeOIDs implements Prober.
func (x TxProber) TypeOIDs(ctx context.Context, schema, name string) (TypeOIDs, error) {
	var t TypeOIDs
	err := x.Tx.QueryRow(ctx, `SELECT t.oid, t.typarray FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = $1 AND t.typname = $2`, schema, name).Scan(&t.OID, &t.Array)
	return t, err
}

// TypeDependents implements Prober. A column's default counts as the
// column.
func (x TxProber) TypeDependents(ctx context.Context, oid, array uint32, skipViews string) ([]TypeDependent, error) {
	rows, err := x.Tx.Query(ctx, `SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
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
		ORDER BY 1`, oid, array, skipViews)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TypeDependent, error) {
		var d TypeDependent
		err := r.Scan(&d.Desc, &d.Schema, &d.Relation, &d.RelKind, &d.Column)
		return d, err
	})
}

// ColumnDependents implements Prober.
func (x TxProber) ColumnDependents(ctx context.Context, schema, table, column string) ([]ColumnDependent, error) {
	rows, err := x.Tx.Query(ctx, `
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
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ColumnDependent, error) {
		var d ColumnDependent
		err := r.Scan(&d.What, &d.ViewSchema)
		return d, err
	})
}

// TableDependents implements Prober.
func (x TxProber) TableDependents(ctx context.Context, schema, table, skipViews string) ([]string, error) {
	rows, err := x.Tx.Query(ctx, `
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
		ORDER BY 1`, schema, table, skipViews)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Dependents implements Prober.
func (x TxProber) Dependents(ctx context.Context, tableOID uint32, attnum int) ([]Dependent, error) {
	rows, err := x.Tx.Query(ctx, `SELECT d.classid::regclass::text, d.objid, d.objsubid, d.deptype::text,
			pg_describe_object(d.classid, d.objid, d.objsubid)
		FROM pg_depend d
		WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2
		ORDER BY 1, 2, 3`, tableOID, attnum)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Dependent, error) {
		var d Dependent
		err := r.Scan(&d.Class, &d.OID, &d.SubID, &d.DepType, &d.Desc)
		return d, err
	})
}

// RelKind implements Prober.
func (x TxProber) RelKind(ctx context.Context, oid uint32) (string, error) {
	var kind string
	err := x.Tx.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = $1`, oid).Scan(&kind)
	return kind, err
}

// IndexConstraint implements Prober.
func (x TxProber) IndexConstraint(ctx context.Context, indexOID, tableOID uint32) (uint32, error) {
	var conOID uint32
	err := x.Tx.QueryRow(ctx, `SELECT coalesce((SELECT oid FROM pg_constraint WHERE conindid = $1 AND conrelid = $2
				AND contype IN ('p', 'u', 'x') LIMIT 1), 0)`, indexOID, tableOID).Scan(&conOID)
	return conOID, err
}

// ColumnDefault implements Prober.
func (x TxProber) ColumnDefault(ctx context.Context, oid uint32) (ColumnDefault, error) {
	var d ColumnDefault
	err := x.Tx.QueryRow(ctx, `SELECT d.adnum, a.attname FROM pg_attrdef d
			JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.oid = $1`, oid).Scan(&d.Num, &d.Column)
	return d, err
}

// Rule implements Prober.
func (x TxProber) Rule(ctx context.Context, oid, tableOID uint32) (Rule, error) {
	var r Rule
	err := x.Tx.QueryRow(ctx, `SELECT n.nspname, c.relname, c.oid = $2 FROM pg_rewrite r
			JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.oid = $1`,
		oid, tableOID).Scan(&r.Schema, &r.Relation, &r.Self)
	return r, err
}

// IndexDef implements Prober.
func (x TxProber) IndexDef(ctx context.Context, oid uint32) (IndexDef, error) {
	var d IndexDef
	err := x.Tx.QueryRow(ctx, `SELECT c.relname, pg_get_indexdef(c.oid), x.indisvalid, x.indisreplident,
			x.indisclustered, obj_description(c.oid, 'pg_class')
		FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid WHERE c.oid = $1`, oid).
		Scan(&d.Name, &d.Def, &d.Valid, &d.ReplIdent, &d.Clustered, &d.Comment)
	return d, err
}

// ConstraintDef implements Prober.
func (x TxProber) ConstraintDef(ctx context.Context, oid uint32) (ConstraintDef, error) {
	var d ConstraintDef
	err := x.Tx.QueryRow(ctx, `SELECT k.conname, k.contype::text, pg_get_constraintdef(k.oid), k.convalidated,
			k.condeferrable, k.condeferred, n.nspname, c.relname,
			CASE WHEN k.contype IN ('p', 'u') THEN pg_get_indexdef(k.conindid) ELSE '' END,
			coalesce(x.indisreplident, false) AND k.contype IN ('p', 'u'),
			coalesce(x.indisclustered, false) AND k.contype IN ('p', 'u', 'x'),
			obj_description(k.oid, 'pg_constraint')
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_index x ON x.indexrelid = k.conindid
		WHERE k.oid = $1`, oid).
		Scan(&d.Name, &d.Type, &d.Def, &d.Validated, &d.Deferrable, &d.Deferred, &d.Schema, &d.Table, &d.IndexDef,
			&d.ReplIdent, &d.Clustered, &d.Comment)
	return d, err
}

// PolicyDef implements Prober.
func (x TxProber) PolicyDef(ctx context.Context, oid uint32) (PolicyDef, error) {
	var d PolicyDef
	err := x.Tx.QueryRow(ctx, `SELECT pol.polname, n.nspname, c.relname, pol.polrelid,
			pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)
		FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE pol.oid = $1`, oid).Scan(&d.Name, &d.Schema, &d.Table, &d.TableOID, &d.Using, &d.Check)
	return d, err
}

// StatisticsDef implements Prober.
func (x TxProber) StatisticsDef(ctx context.Context, oid uint32) (StatisticsDef, error) {
	var d StatisticsDef
	err := x.Tx.QueryRow(ctx, `SELECT s.stxname, n.nspname, pg_get_statisticsobjdef(s.oid),
			obj_description(s.oid, 'pg_statistic_ext')
		FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid = $1`, oid).
		Scan(&d.Name, &d.Schema, &d.Def, &d.Comment)
	return d, err
}

// SequenceDef implements Prober.
func (x TxProber) SequenceDef(ctx context.Context, oid uint32) (SequenceDef, error) {
	var d SequenceDef
	err := x.Tx.QueryRow(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relname,
			s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, format_type(s.seqtypid, NULL)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
		WHERE c.oid = $1`, oid).Scan(&d.Qualified, &d.Name, &d.Increment, &d.Min, &d.Max, &d.Cache, &d.Cycle, &d.Type)
	return d, err
}

// ColumnAttrs implements Prober. Options named pg_* are not user
// settings: some builds keep internal bookkeeping there.
func (x TxProber) ColumnAttrs(ctx context.Context, tableOID uint32, attnum int) (ColumnAttrs, error) {
	var a ColumnAttrs
	err := x.Tx.QueryRow(ctx, `SELECT coalesce(a.attstattarget::int, -1),
				coalesce(ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_%'), '{}'),
				CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
				     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
			FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
			WHERE a.attrelid = $1 AND a.attnum = $2`, tableOID, attnum).Scan(&a.StatTarget, &a.Options, &a.Collation)
	if err != nil {
		return a, err
	}
	rows, err := x.Tx.Query(ctx, `SELECT x.privilege_type, CASE WHEN x.grantee = 0 THEN '' ELSE x.grantee::regrole::text END, x.is_grantable
			FROM pg_attribute a, aclexplode(a.attacl) x WHERE a.attrelid = $1 AND a.attnum = $2 ORDER BY 2, 1`, tableOID, attnum)
	if err != nil {
		return a, err
	}
	a.Grants, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ColumnGrant, error) {
		var g ColumnGrant
		err := r.Scan(&g.Privilege, &g.Grantee, &g.Grantable)
		return g, err
	})
	return a, err
}
