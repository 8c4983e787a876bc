package foreign

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

// planTypes decides, for each remote enum or domain the imported columns
// use, whether to create it in the target (under the same schema-qualified
// name, which is how IMPORT FOREIGN SCHEMA names it), extend it, use it as
// it is, or skip the tables that need it; then sets p.want and p.skipped.
func (d *Decl) planTypes(ctx context.Context, tgt *pgx.Conn, p *prepared) error {
	bad := map[uint32]string{}
	var oids []uint32
	for _, t := range p.remote.tables {
		for _, oid := range t.types {
			if !slices.Contains(oids, oid) {
				oids = append(oids, oid)
			}
		}
	}
	slices.Sort(oids)
	for _, oid := range oids {
		u := p.remote.types[oid]
		if u.Kind == 'd' && u.Base == "" {
			continue
		}
		var kind string
		var labels []string
		var base string
		err := tgt.QueryRow(ctx, `
SELECT t.typtype::text, coalesce(ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder), '{}'),
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2`, u.Schema, u.Name).Scan(&kind, &labels, &base)
		if err == pgx.ErrNoRows {
			p.typeSQL = append(p.typeSQL, "CREATE SCHEMA IF NOT EXISTS "+pgquery.Ident(u.Schema), createType(u))
			p.setup = append(p.setup, "create type "+u.Schema+"."+u.Name)
			continue
		}
		if err != nil {
			return d.fail("read the into database's types", err, "")
		}
		switch {
		case u.Kind == 'e' && kind == "e":
			add, ok := enumAdditions(labels, u.Labels)
			if !ok {
				bad[oid] = fmt.Sprintf("enum %s exists in the into database with labels (%s) that the remote one (%s) does not have in that order",
					u.Qualified(), strings.Join(labels, ", "), strings.Join(u.Labels, ", "))
				continue
			}
			for _, a := range add {
				p.typeSQL = append(p.typeSQL, "ALTER TYPE "+u.Qualified()+" ADD VALUE IF NOT EXISTS "+a)
			}
			if len(add) > 0 {
				p.setup = append(p.setup, fmt.Sprintf("alter type %s.%s (%d labels added)", u.Schema, u.Name, len(add)))
			}
		case u.Kind == 'd' && kind == "d" && base == u.Base:
		default:
			bad[oid] = fmt.Sprintf("type %s exists in the into database with another definition", u.Qualified())
		}
	}
	for _, t := range p.remote.tables {
		why := t.unsupported
		for _, oid := range t.types {
			if why == "" && bad[oid] != "" {
				why = bad[oid]
			}
		}
		if why != "" {
			p.skipped = append(p.skipped, Change{Table: t.Name, Kind: "table skipped", Reason: why, Severity: "breaking"})
			continue
		}
		p.want = append(p.want, t)
	}
	return nil
}

// enumAdditions returns the ADD VALUE clauses that turn have into want, or
// false when have is not an ordered subset of want.
func enumAdditions(have, want []string) ([]string, bool) {
	i := 0
	for _, w := range want {
		if i < len(have) && have[i] == w {
			i++
		}
	}
	if i != len(have) {
		return nil, false
	}
	var out []string
	for j, w := range want {
		if slices.Contains(have, w) {
			continue
		}
		if j == 0 {
			out = append(out, pgquery.Literal(w)+" BEFORE "+pgquery.Literal(want[1]))
		} else {
			out = append(out, pgquery.Literal(w)+" AFTER "+pgquery.Literal(want[j-1]))
		}
	}
	if len(have) == 0 {
		return nil, false
	}
	return out, true
}

func createType(u *UserType) string {
	if u.Kind == 'e' {
		labels := make([]string, len(u.Labels))
		for i, l := range u.Labels {
			labels[i] = pgquery.Literal(l)
		}
		return "CREATE TYPE " + u.Qualified() + " AS ENUM (" + strings.Join(labels, ", ") + ")"
	}
	s := "CREATE DOMAIN " + u.Qualified() + " AS " + u.Base
	if u.NotNull {
		s += " NOT NULL"
	}
	for _, c := range u.Constraints {
		s += " " + c
	}
	return s
}

// view is a local view that depends on the foreign tables.
type view struct {
	oid     uint32
	schema  string
	name    string
	kind    string // v or m
	def     string
	owner   string
	options []string
	comment *string
	grants  []string
}

func (v *view) qual() string { return pgquery.Qual(v.schema, v.name) }

const viewsSQL = `
WITH RECURSIVE deps(oid, depth) AS (
  SELECT r.ev_class, 1
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
   WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
     AND d.refobjid IN (SELECT oid FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND relkind = 'f')
     AND r.ev_class <> d.refobjid
  UNION
  SELECT r.ev_class, deps.depth + 1
    FROM deps JOIN pg_depend d ON d.refobjid = deps.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid
   WHERE r.ev_class <> deps.oid)
SELECT c.oid, n.nspname, c.relname, c.relkind::text, pg_get_viewdef(c.oid), pg_get_userbyid(c.relowner),
       coalesce(c.reloptions, '{}'), obj_description(c.oid, 'pg_class')
  FROM (SELECT oid, max(depth) AS depth FROM deps GROUP BY oid) x
  JOIN pg_class c ON c.oid = x.oid JOIN pg_namespace n ON n.oid = c.relnamespace
 ORDER BY x.depth, n.nspname, c.relname`

// grantsSQL renders the grants of a relation other than its owner's as
// GRANT statements' privilege and grantee parts.
const grantsSQL = `
SELECT a.privilege_type || ' TO ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END
       || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.oid = $1 AND a.grantee <> c.relowner
 ORDER BY 1`

func readViews(ctx context.Context, tx pgx.Tx, schema string) ([]*view, error) {
	rows, err := tx.Query(ctx, viewsSQL, schema)
	if err != nil {
		return nil, err
	}
	var out []*view
	for rows.Next() {
		v := &view{}
		if err := rows.Scan(&v.oid, &v.schema, &v.name, &v.kind, &v.def, &v.owner, &v.options, &v.comment); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, v := range out {
		if v.grants, err = stringsOf(ctx, tx, grantsSQL, v.oid); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// swap runs the setup, imports into the staging schema and swaps the new
// foreign tables in, in one transaction (retried on lock timeouts).
func (d *Decl) swap(ctx context.Context, tgt *pgx.Conn, o *Options, p *prepared) error {
	target, staging := pgquery.Ident(d.Schema), pgquery.Ident(d.stagingSchema())
	srv := pgquery.Ident(d.Name)
	names := make([]string, len(p.want))
	for i, t := range p.want {
		names[i] = pgquery.Ident(t.Name)
	}
	return o.runner().InTx(ctx, tgt, func(tx pgx.Tx) error {
		run := func(what, hint string, sqls ...string) error {
			for _, s := range sqls {
				if _, err := tx.Exec(ctx, s); err != nil {
					return d.fail(what, err, hint, p.password)
				}
			}
			return nil
		}
		if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
			return err
		}
		if !p.extInstalled {
			if err := run("create extension postgres_fdw in the into database", "a superuser runs CREATE EXTENSION postgres_fdw in the into database once (or strata's role there must be allowed to)",
				"CREATE EXTENSION IF NOT EXISTS postgres_fdw"); err != nil {
				return err
			}
		}
		if err := run("create or alter the foreign server", "", p.serverSQL...); err != nil {
			return err
		}
		if err := d.setMappings(ctx, tx, p); err != nil {
			return err
		}
		if err := run("create the remote types", "", p.typeSQL...); err != nil {
			return err
		}
		hint := fmt.Sprintf("check that the into database's server reaches the migrated database at server = {host = %q, port = %q, dbname = %q} (taken from --url where the declaration leaves them out), and the user mapping's role and password",
			p.serverOpts["host"], p.serverOpts["port"], p.serverOpts["dbname"])
		if err := run("import the remote schema through server "+pgquery.Ident(d.Name), hint,
			"CREATE SCHEMA IF NOT EXISTS "+target,
			"CREATE SCHEMA "+staging,
			"IMPORT FOREIGN SCHEMA "+pgquery.Ident(p.remoteSchema)+" LIMIT TO ("+strings.Join(names, ", ")+") FROM SERVER "+srv+" INTO "+staging); err != nil {
			return err
		}
		views, err := readViews(ctx, tx, d.Schema)
		if err != nil {
			return d.fail("read the views on the foreign tables", err, "")
		}
		keep, err := readKept(ctx, tx, d.Schema)
		if err != nil {
			return d.fail("read the foreign tables' column grants and comments", err, "")
		}
		type old struct {
			owner  string
			grants []string
		}
		olds := map[string]old{}
		for _, t := range p.have {
			var o old
			var oid uint32
			if err := tx.QueryRow(ctx, "SELECT c.oid, pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = $1::regclass", pgquery.Qual(d.Schema, t.Name)).Scan(&oid, &o.owner); err != nil {
				return d.fail("read the foreign tables", err, "")
			}
			if o.grants, err = stringsOf(ctx, tx, grantsSQL, oid); err != nil {
				return d.fail("read the foreign tables' grants", err, "")
			}
			olds[t.Name] = o
		}
		for i := len(views) - 1; i >= 0; i-- {
			v := views[i]
			drop := "DROP VIEW "
			if v.kind == "m" {
				drop = "DROP MATERIALIZED VIEW "
			}
			if err := run("drop the view "+v.qual()+" to recreate it", "", drop+v.qual()); err != nil {
				return err
			}
		}
		if len(p.have) > 0 {
			var qs []string
			for _, t := range p.have {
				qs = append(qs, pgquery.Qual(d.Schema, t.Name))
			}
			if err := run("drop the old foreign tables", "something other than a view depends on them: remove that dependency",
				"DROP FOREIGN TABLE "+strings.Join(qs, ", ")); err != nil {
				return err
			}
		}
		for _, t := range p.want {
			if err := run("move the new foreign tables into "+target, "", "ALTER FOREIGN TABLE "+pgquery.Qual(d.stagingSchema(), t.Name)+" SET SCHEMA "+target); err != nil {
				return err
			}
			if o, ok := olds[t.Name]; ok {
				q := pgquery.Qual(d.Schema, t.Name)
				sqls := []string{"ALTER FOREIGN TABLE " + q + " OWNER TO " + pgquery.Ident(o.owner)}
				for _, g := range o.grants {
					sqls = append(sqls, grantStmt(g, "TABLE "+q))
				}
				sqls = append(sqls, keep.restoreSQL(d.Schema, t)...)
				if err := run("keep the grants and comments on "+q, "", sqls...); err != nil {
					return err
				}
			}
		}
		if err := run("drop the staging schema", "", "DROP SCHEMA "+staging); err != nil {
			return err
		}
		for _, v := range views {
			create := "CREATE VIEW " + v.qual()
			if v.kind == "m" {
				create = "CREATE MATERIALIZED VIEW " + v.qual()
			}
			if len(v.options) > 0 {
				create += " WITH (" + strings.Join(v.options, ", ") + ")"
			}
			create += " AS " + strings.TrimSuffix(strings.TrimSpace(v.def), ";")
			if _, err := tx.Exec(ctx, create); err != nil {
				return d.fail(fmt.Sprintf("view %s no longer fits the new foreign tables (nothing was changed)", v.qual()), err,
					"change or drop the view so that it uses only what the remote tables still have, then run strata foreign sync again")
			}
			sqls := []string{"ALTER TABLE " + v.qual() + " OWNER TO " + pgquery.Ident(v.owner)}
			for _, g := range v.grants {
				sqls = append(sqls, grantStmt(g, "TABLE "+v.qual()))
			}
			if v.comment != nil {
				sqls = append(sqls, "COMMENT ON "+map[string]string{"v": "VIEW ", "m": "MATERIALIZED VIEW "}[v.kind]+v.qual()+" IS "+pgquery.Literal(*v.comment))
			}
			if err := run("keep the owner and grants of "+v.qual(), "", sqls...); err != nil {
				return err
			}
		}
		return d.record(ctx, tx, o, p)
	})
}

// grantStmt turns "SELECT TO alice WITH GRANT OPTION" into a GRANT on obj.
func grantStmt(g, obj string) string {
	priv, rest, _ := strings.Cut(g, " TO ")
	return "GRANT " + priv + " ON " + obj + " TO " + rest
}

// setMappings creates or alters the user mappings. The password never
// appears in a statement's text: a temporary function receives it as a
// parameter, so statement logging (log_statement = 'ddl') does not show it.
func (d *Decl) setMappings(ctx context.Context, tx pgx.Tx, p *prepared) error {
	if len(p.mappingRoles) == 0 {
		return nil
	}
	const fn = `CREATE FUNCTION pg_temp.strata_user_mapping(verb text, role text, srv text, usr text, pw text) RETURNS void
LANGUAGE plpgsql AS $f$
BEGIN
  IF verb = 'create' THEN
    EXECUTE format('CREATE USER MAPPING FOR %s SERVER %I OPTIONS (user %L%s)', role, srv, usr,
                   CASE WHEN pw <> '' THEN format(', password %L', pw) ELSE '' END);
  ELSE
    EXECUTE format('DROP USER MAPPING FOR %s SERVER %I', role, srv);
    EXECUTE format('CREATE USER MAPPING FOR %s SERVER %I OPTIONS (user %L%s)', role, srv, usr,
                   CASE WHEN pw <> '' THEN format(', password %L', pw) ELSE '' END);
  END IF;
END $f$`
	if _, err := tx.Exec(ctx, fn); err != nil {
		return d.fail("prepare the user mapping", err, "", p.password)
	}
	for _, m := range p.mappingRoles {
		verb := "alter"
		if m.create {
			verb = "create"
		}
		if _, err := tx.Exec(ctx, "SELECT pg_temp.strata_user_mapping($1, $2, $3, $4, $5)", verb, m.role, d.Name, d.User, p.password); err != nil {
			return d.fail("set the user mapping for "+m.role, err, "", p.password)
		}
	}
	_, err := tx.Exec(ctx, "DROP FUNCTION pg_temp.strata_user_mapping(text, text, text, text, text)")
	return err
}

// record notes the sync in the target's state schema.
func (d *Decl) record(ctx context.Context, tx pgx.Tx, o *Options, p *prepared) error {
	st := o.StateSchema
	if st == "" {
		st = "strata"
	}
	t := pgquery.Qual(st, "foreign_sync")
	for _, s := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + pgquery.Ident(st),
		"CREATE TABLE IF NOT EXISTS " + t + " (name text PRIMARY KEY, synced_at timestamptz NOT NULL, strata_version text NOT NULL, migration text NOT NULL, tables int NOT NULL)",
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return d.fail("record the sync", err, "")
		}
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+t+" VALUES ($1, now(), $2, $3, $4) ON CONFLICT (name) DO UPDATE SET synced_at = now(), strata_version = $2, migration = $3, tables = $4",
		d.Name, o.Version, p.migration, len(p.want))
	if err != nil {
		return d.fail("record the sync", err, "")
	}
	return nil
}
