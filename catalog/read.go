package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Internal reports whether name is one of strata's own objects.
func Internal(name string) bool { return strings.HasPrefix(name, "_strata_") }

// notExt leaves out the members of extensions (the extension is dumped).
const notExt = ` AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = %s AND e.objid = %s AND e.deptype = 'e')`

const relQuery = `SELECT c.oid, c.relname, quote_ident(n.nspname)||'.'||quote_ident(c.relname), c.relkind::text, c.relpersistence::text,
	c.relrowsecurity, c.relforcerowsecurity, coalesce(pg_get_expr(c.relpartbound, c.oid), ''),
	CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END,
	coalesce((SELECT quote_ident(pn.nspname)||'.'||quote_ident(p.relname) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
		JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition), ''),
	quote_ident(pg_get_userbyid(c.relowner)), coalesce(c.relacl::text[], '{}'), coalesce(obj_description(c.oid, 'pg_class'), ''),
	CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END, coalesce(c.reloptions, '{}'),
	coalesce(format_type(s.seqtypid, NULL), ''), coalesce(s.seqstart, 0), coalesce(s.seqincrement, 0), coalesce(s.seqmax, 0),
	coalesce(s.seqmin, 0), coalesce(s.seqcache, 0), coalesce(s.seqcycle, false),
	coalesce((SELECT d.deptype::text||chr(1)||quote_ident(n.nspname)||'.'||quote_ident(t.relname)||'.'||quote_ident(a.attname)||chr(1)||t.oid||chr(1)||a.attname
		FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		AND d.refobjsubid > 0 LIMIT 1), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'c')` + `%s ORDER BY c.relname`

// colQuery reads NOT NULL as a column property. PostgreSQL 18 sets
// attnotnull for a NOT VALID NOT NULL constraint too, though existing rows
// may hold NULLs: such a column counts as nullable, and conQuery reads the
// constraint (NOT NULL col NOT VALID) like a NOT VALID check. Validated NOT
// NULL constraints (18 lists every NOT NULL in pg_constraint) stay column
// properties, their names unread.
const colQuery = `SELECT a.attrelid, a.attname, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
	a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint nn WHERE nn.conrelid = a.attrelid AND nn.contype = 'n'
		AND NOT nn.convalidated AND nn.conkey = ARRAY[a.attnum]),
	coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
	CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN (SELECT quote_ident(cn.nspname)||'.'||quote_ident(co.collname)
		FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) ELSE '' END,
	a.attislocal, coalesce(col_description(a.attrelid, a.attnum), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'c') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

const conQuery = `SELECT co.oid, co.conrelid, co.contypid, co.conname, quote_ident(co.conname), co.contype::text, pg_get_constraintdef(co.oid),
	co.convalidated, co.conislocal AND co.conparentid = 0, coalesce(obj_description(co.oid, 'pg_constraint'), ''), co.conindid
FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
WHERE n.nspname = $1 AND (co.contype IN ('c', 'f', 'p', 'u', 'x') OR co.contype = 'n' AND co.conrelid <> 0 AND NOT co.convalidated)
ORDER BY co.conname, co.oid`

const idxQuery = `SELECT i.indexrelid, i.indrelid, ic.relname, quote_ident(n.nspname)||'.'||quote_ident(ic.relname), pg_get_indexdef(i.indexrelid),
	i.indisvalid, coalesce(obj_description(i.indexrelid, 'pg_class'), ''),
	EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')),
	EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname = $1 ORDER BY ic.relname`

const trgQuery = `SELECT t.oid, t.tgrelid, t.tgname, quote_ident(t.tgname), pg_get_triggerdef(t.oid), t.tgenabled::text,
	coalesce(obj_description(t.oid, 'pg_trigger'), '')
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT t.tgisinternal AND t.tgparentid = 0 ORDER BY t.tgname`

const polQuery = `SELECT p.oid, p.polrelid, p.polname, quote_ident(p.polname), p.polcmd::text, p.polpermissive,
	CASE WHEN p.polroles = '{0}' THEN 'PUBLIC' ELSE (SELECT string_agg(quote_ident(rolname), ', ' ORDER BY rolname) FROM pg_roles WHERE oid = ANY (p.polroles)) END,
	coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
	coalesce(obj_description(p.oid, 'pg_policy'), '')
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 ORDER BY p.polname`

const funcQuery = `SELECT p.oid, p.proname, quote_ident(n.nspname)||'.'||quote_ident(p.proname), pg_get_function_identity_arguments(p.oid),
	p.prokind::text, pg_get_functiondef(p.oid), quote_ident(pg_get_userbyid(p.proowner)), coalesce(p.proacl::text[], '{}'),
	coalesce(obj_description(p.oid, 'pg_proc'), '')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')` + `%s ORDER BY p.proname, 4`

const typeQuery = `SELECT t.oid, t.typname, quote_ident(n.nspname)||'.'||quote_ident(t.typname), t.typtype::text,
	quote_ident(pg_get_userbyid(t.typowner)), coalesce(t.typacl::text[], '{}'), coalesce(obj_description(t.oid, 'pg_type'), ''),
	coalesce((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}'),
	CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END, t.typnotnull, coalesce(t.typdefault, ''),
	CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> (SELECT typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
		THEN (SELECT quote_ident(cn.nspname)||'.'||quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
		WHERE co.oid = t.typcollation) ELSE '' END
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1 AND t.typtype IN ('e', 'd')` + `%s ORDER BY t.typname`

const extQuery = `SELECT x.oid, quote_ident(x.extname), quote_ident(n.nspname), n.nspname = $1,
	coalesce(obj_description(x.oid, 'pg_extension'), '')
FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace ORDER BY x.extname`

// depQuery lists "normal" dependencies, each end as class/oid, with a
// view's rewrite rule and a default read as their relation, a relation's
// row type as the relation, an array type as its element, and a member of
// an extension as the extension.
const depQuery = `SELECT
	CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'pg_class/'||(SELECT ev_class FROM pg_rewrite WHERE oid = d.objid)
		WHEN d.classid = 'pg_attrdef'::regclass THEN 'pg_class/'||(SELECT adrelid FROM pg_attrdef WHERE oid = d.objid)
		ELSE d.classid::regclass::text||'/'||d.objid END,
	CASE WHEN x.refobjid IS NOT NULL THEN 'pg_extension/'||x.refobjid
		WHEN d.refclassid = 'pg_type'::regclass THEN (SELECT CASE WHEN t.typrelid <> 0 THEN 'pg_class/'||t.typrelid
			WHEN t.typelem <> 0 AND t.typcategory = 'A' THEN 'pg_type/'||t.typelem ELSE 'pg_type/'||t.oid END FROM pg_type t WHERE t.oid = d.refobjid)
		ELSE d.refclassid::regclass::text||'/'||d.refobjid END
FROM pg_depend d LEFT JOIN pg_depend x ON x.classid = d.refclassid AND x.objid = d.refobjid AND x.deptype = 'e'
WHERE d.deptype = 'n' AND d.objid >= 16384`

// Read reads the structure of schema. q should be a transaction
// (REPEATABLE READ gives one snapshot for all queries).
func Read(ctx context.Context, tx pgx.Tx, schema string) (*Schema, error) {
	r := &reader{ctx: ctx, tx: tx, schema: schema, s: &Schema{Name: schema}, byOID: map[string]*Object{}, tables: map[uint32]*table{}}
	if _, err := tx.Exec(ctx, `SET LOCAL search_path = pg_catalog`); err != nil {
		return nil, err
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT quote_ident($1), n.oid IS NOT NULL, coalesce(quote_ident(pg_get_userbyid(n.nspowner)), ''),
		coalesce(n.nspacl::text[], '{}'), coalesce(obj_description(n.oid, 'pg_namespace'), '')
		FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1`, schema).Scan(&r.qs, &exists, &r.nspOwner, &r.nspACL, &r.nspComment); err != nil {
		return nil, err
	}
	r.s.Queries++
	if !exists {
		return nil, fmt.Errorf("schema %q does not exist (hint: check --schema)", schema)
	}
	for _, step := range []func() error{r.relations, r.columns, r.types, r.functions, r.constraints, r.indexes, r.triggers, r.policies, r.extensions, r.deps} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("read schema %s: %w", schema, err)
		}
	}
	r.finish()
	return r.s, nil
}

type reader struct {
	ctx     context.Context
	tx      pgx.Tx
	schema  string
	qs      string // quoted schema
	s       *Schema
	objs    []*Object
	byOID   map[string]*Object // id or alias -> object
	tables  map[uint32]*table
	aliases map[string]string
	exts    map[string]extInfo

	nspOwner, nspComment string
	nspACL               []string
}

type table struct {
	obj      *Object
	qname    string
	kind     string // r p v m c
	cols     []*Object
	colDefs  []string
	identity map[string]seqInfo // column -> identity sequence
	later    []string
	partOf   string
}

type seqInfo struct {
	qname, typ                  string
	start, inc, max, min, cache int64
	cycle                       bool
}

func (r *reader) query(sql string, scan func(pgx.Rows) error) error {
	r.s.Queries++
	var args []any
	if strings.Contains(sql, "$1") {
		args = append(args, r.schema)
	}
	rows, err := r.tx.Query(r.ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *reader) add(o *Object) *Object {
	r.objs = append(r.objs, o)
	if o.id != "" {
		r.byOID[o.id] = o
	}
	return o
}

func id(class string, oid uint32) string { return fmt.Sprintf("%s/%d", class, oid) }
