package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// Version schemas (Revision 2). A version schema holds a view only for a
// table whose shape in that version differs from the physical table
// (columns renamed, added, removed, retyped or given another default; a
// table created or renamed in the phase), and a "tombstone" view under each
// name the version renamed or removed, which fails with an error naming the
// change. Every other name resolves through the search_path fallback,
// `search_path = <version schema>, <managed schema>`, to the table itself.
//
// Each view strata creates carries a comment starting "strata: "; the
// previous version's views created by a start name the new version schema,
// so that abort drops exactly those.

// ReshapeSchemaComment is the comment of a version schema made in Reshape's
// style (a view of every table): a .sql migration then gives a new table a
// view there too (the engine reads it).
const ReshapeSchemaComment = "strata: version schema, reshape style (a view of every table)"

// reshape reports whether the phase uses Reshape-style version schemas.
func (p *planner) reshape() bool { return p.style == migration.StyleReshape }

// hasView reports whether the new version schema has a view of t: in
// Reshape's style every table has one, else only one whose shape differs.
func (p *planner) hasView(t *vTable) bool { return p.reshape() || p.newDiffers(t) }

// viewComment marks a view of version schema vs; prevViewComment marks a
// view the start of version vs created in the previous version schema.
func viewComment(vs string) string { return "strata: view of version schema " + vs }

// ViewComment is the comment of strata's views in version schema vs.
func ViewComment(vs string) string { return viewComment(vs) }

// CopyGrantsSQL renders a DO block that grants on view what is granted on
// table (quoted, qualified names) when it runs (see viewSQL).
func CopyGrantsSQL(view, table string) string { return copyGrantsSQL(view, table) }
func prevViewComment(vs string) string {
	return "strata: view of the previous version, created by the start of " + vs
}

// goneFunc is the function a tombstone view calls: it raises the error
// naming the change (SQLSTATE 42P01, as for a missing table). Its name
// hashes the quoted managed schema and version schema (see ownedName).
func (p *planner) goneFunc() string {
	return qual(p.state, pgquery.HashedName("gone_", p.version, pgquery.Ident(p.schema)+"."+pgquery.Ident(p.version)))
}

// dropGoneSQL drops the tombstones' function (complete and abort, once the
// tombstones are gone).
func (p *planner) dropGoneSQL() []string {
	if len(p.tombstones()) == 0 {
		return nil
	}
	return []string{"DROP FUNCTION IF EXISTS " + p.goneFunc() + "(text, text)"}
}

func (p *planner) goneFuncSQL() []string {
	fn := p.goneFunc()
	return []string{
		"CREATE OR REPLACE FUNCTION " + fn + "(msg text, hint text) RETURNS boolean LANGUAGE plpgsql STABLE AS " +
			dollarQuote("BEGIN\n  RAISE EXCEPTION USING ERRCODE = 'undefined_table', MESSAGE = msg, HINT = hint;\nEND"),
		"GRANT EXECUTE ON FUNCTION " + fn + "(text, text) TO PUBLIC",
	}
}

// physColumns are the physical columns of a table once start has run, in
// their order.
func (p *planner) physColumns(phys string) []string {
	var out []string
	if pt := p.cat.Tables[phys]; pt != nil {
		for _, c := range pt.Columns {
			out = append(out, c.Name)
		}
	}
	for _, a := range p.added[phys] {
		out = append(out, a.Name)
	}
	return out
}

// newDiffers reports whether the new version's shape of t differs from its
// physical table during the phase, so that the new version schema needs a
// view of it.
func (p *planner) newDiffers(t *vTable) bool {
	if t.Created || t.Name != t.Phys {
		return true
	}
	phys := p.physColumns(t.Phys)
	if len(phys) != len(t.Columns) {
		return true
	}
	for i, c := range t.Columns {
		if c.Name != c.Phys || c.Phys != phys[i] || c.IdentitySeq != "" {
			return true
		}
		if d, _, _ := p.physAttrs(t.Phys, c.Phys); !c.Generated && !sameExpr(d, c.Default) {
			return true
		}
	}
	return false
}

// identicalAfterComplete reports whether the new version's view of t is
// identical to its table once complete has contracted it: same columns in
// the same order (defaults and names are the version's by then).
func (p *planner) identicalAfterComplete(t *vTable) bool {
	used := map[string]bool{}
	for _, c := range t.Columns {
		used[c.Phys] = true
	}
	var final []string
	for _, pc := range p.physColumns(t.Phys) {
		if used[pc] {
			final = append(final, pc)
		}
	}
	if len(final) != len(t.Columns) {
		return false
	}
	for i, c := range t.Columns {
		if c.Phys != final[i] {
			return false
		}
	}
	return true
}

// oldDiffers reports whether start changes the physical table phys as the
// old version sees it (it adds columns), so that the previous version schema
// needs a view of it, created before the table changes.
func (p *planner) oldDiffers(phys string) bool {
	return p.cat.Tables[phys] != nil && !p.isCreated(phys) && len(p.added[phys]) > 0
}

// checkRowSecurity refuses a view in front of a table with row-level
// security where PostgreSQL cannot make the view respect the policies
// (security_invoker needs PostgreSQL 15).
func (p *planner) checkRowSecurity(phys string) error {
	if pt := p.cat.Tables[phys]; pt != nil && pt.RowSecurity && p.cat.PGMajor < 15 {
		return &PlanError{Where: p.mig.File, Msg: fmt.Sprintf("table %q has row-level security and this phase needs a version view in front of it; "+
			"before PostgreSQL 15 a view cannot apply the querying role's policies (security_invoker), so its clients would bypass them\n"+
			"hint: upgrade to PostgreSQL 15, or change %q in a phase of its own after disabling row security on it", phys, phys)}
	}
	return nil
}

// previousViewsSQL renders start's first step: the old version's views of
// the tables start changes physically, in the previous version schema,
// before any DDL on them (a prepared SELECT * of the old version then keeps
// its column list when it is re-planned). A view that already exists (a
// version schema made by an older strata holds one per table) is kept.
func (p *planner) previousViewsSQL() ([]string, error) {
	if p.prev == "" {
		return nil, nil
	}
	var out []string
	for _, t := range sortedTables(p.old.Tables) {
		if !p.oldDiffers(t.Phys) {
			continue
		}
		if err := p.checkRowSecurity(t.Phys); err != nil {
			return nil, err
		}
		body := p.viewSQL(p.prev, t, prevViewComment(p.version))
		var b strings.Builder
		b.WriteString("BEGIN\n  IF to_regclass(" + literal(qual(p.prev, t.Name)) + ") IS NULL THEN\n")
		for _, s := range body {
			b.WriteString("    EXECUTE " + literal(s) + ";\n")
		}
		b.WriteString("  END IF;\nEND")
		out = append(out, "DO "+dollarQuote(b.String()))
	}
	return out, nil
}

// viewsSQL renders the new version schema: USAGE granted to whoever may
// use the managed schema (CREATE to nobody but its owner), one view per
// table whose shape differs (see newDiffers; in Reshape's style, one view
// per table), and a tombstone under each name the version renamed or
// removed.
func (p *planner) viewsSQL() ([]string, error) {
	vs := ident(p.version)
	out := []string{"CREATE SCHEMA " + vs}
	if p.reshape() {
		out = append(out, "COMMENT ON SCHEMA "+vs+" IS "+literal(ReshapeSchemaComment))
	}
	for _, g := range p.cat.SchemaACL {
		if g.Privilege == "USAGE" {
			out = append(out, "GRANT USAGE ON SCHEMA "+vs+" TO "+grantee(g.Grantee))
		}
	}
	tombs := p.tombstones()
	if len(tombs) > 0 {
		out = append(out, p.goneFuncSQL()...)
	}
	for _, t := range sortedTables(p.cur.Tables) {
		if !p.hasView(t) {
			continue
		}
		if err := p.checkRowSecurity(t.Phys); err != nil {
			return nil, err
		}
		out = append(out, p.viewSQL(p.version, t, viewComment(p.version))...)
	}
	for _, tb := range tombs {
		out = append(out, p.tombstoneSQL(tb)...)
	}
	return out, nil
}

func sortedTables(ts []*vTable) []*vTable {
	out := append([]*vTable(nil), ts...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// tombstone is a name of the old version that the new version renamed or
// removed.
type tombstone struct {
	Name, Phys, Msg, Hint string
}

func (p *planner) tombstones() []tombstone {
	var out []tombstone
	for _, o := range sortedTables(p.old.Tables) {
		if p.cur.table(o.Name) != nil {
			continue
		}
		tb := tombstone{Name: o.Name, Phys: o.Phys}
		if n := physName(p.cur, o.Phys); n != "" {
			tb.Msg = fmt.Sprintf("relation %q was renamed to %q in version schema %q", o.Name, n, p.version)
			tb.Hint = fmt.Sprintf("this version of the application uses %q", n)
		} else {
			tb.Msg = fmt.Sprintf("relation %q was removed in version schema %q", o.Name, p.version)
			tb.Hint = "only the previous version of the application may use it, until strata complete drops it"
		}
		out = append(out, tb)
	}
	return out
}

// tombstoneSQL renders the view that stands for a renamed or removed name:
// reading it, or writing through it, raises the error naming the change
// (the function is a one-time filter, so it runs even on an empty table;
// the check option makes an INSERT run it too).
func (p *planner) tombstoneSQL(tb tombstone) []string {
	v := qual(p.version, tb.Name)
	with := ""
	if p.cat.PGMajor >= 15 {
		with = " WITH (security_invoker = true)"
	}
	return []string{
		"CREATE VIEW " + v + with + " AS SELECT * FROM " + qual(p.schema, tb.Phys) +
			" WHERE " + p.goneFunc() + "(" + literal(tb.Msg) + ", " + literal(tb.Hint) + ") WITH LOCAL CHECK OPTION",
		"COMMENT ON VIEW " + v + " IS " + literal(viewComment(p.version)),
		copyGrantsSQL(v, qual(p.schema, tb.Phys)),
	}
}

// viewSQL renders the view of t in version schema vs: its columns in the
// table's order under the names the version uses, defaults carried onto the
// view so INSERTs through it get them, and the table's grants copied when
// the statement runs (a table created in the phase has by then the
// privileges ALTER DEFAULT PRIVILEGES gave it).
func (p *planner) viewSQL(vs string, t *vTable, comment string) []string {
	v := qual(vs, t.Name)
	var cols []string
	for _, c := range t.Columns {
		if c.Name == c.Phys {
			cols = append(cols, ident(c.Phys))
		} else {
			cols = append(cols, ident(c.Phys)+" AS "+ident(c.Name))
		}
	}
	with := ""
	if p.cat.PGMajor >= 15 {
		with = " WITH (security_invoker = true)"
	}
	out := []string{"CREATE VIEW " + v + with + " AS SELECT " + strings.Join(cols, ", ") + " FROM " + qual(p.schema, t.Phys)}
	// A view of a table whose shape this version leaves alone (Reshape's
	// style has one) needs no defaults: an INSERT through a simple view
	// gets the table's own for a column the view has none for, so later
	// changes to the table's defaults reach it too.
	plain := vs == p.version && !p.newDiffers(t)
	for _, c := range t.Columns {
		if plain {
			// Comments only.
		} else if c.IdentitySeq != "" {
			out = append(out, "ALTER VIEW "+v+" ALTER COLUMN "+ident(c.Name)+" SET DEFAULT nextval("+literal(c.IdentitySeq)+"::regclass)")
		} else if c.Default != nil && !c.Generated {
			out = append(out, "ALTER VIEW "+v+" ALTER COLUMN "+ident(c.Name)+" SET DEFAULT "+*c.Default)
		} else if phDefault, _, _ := p.physAttrs(t.Phys, c.Phys); c.Default == nil && !c.Generated && phDefault != nil {
			// This version has no default but the table column still has
			// one: without a view default an INSERT through the view would
			// get the table's. SET DEFAULT NULL is not stored, so use a
			// NULL that is not a constant.
			out = append(out, "ALTER VIEW "+v+" ALTER COLUMN "+ident(c.Name)+" SET DEFAULT CASE WHEN false THEN NULL::"+c.Type+" END")
		}
		if c.Comment != nil {
			out = append(out, "COMMENT ON COLUMN "+v+"."+ident(c.Name)+" IS "+literal(*c.Comment))
		}
	}
	out = append(out, "COMMENT ON VIEW "+v+" IS "+literal(comment))
	return append(out, copyGrantsSQL(v, qual(p.schema, t.Phys)))
}

// copyGrantsSQL renders a DO block that grants on view what is granted on
// table (quoted, qualified names) when it runs: table-level privileges,
// with their grant option; the owner's own privileges are not copied.
func copyGrantsSQL(view, table string) string {
	body := "DECLARE g record;\nBEGIN\n" +
		"  FOR g IN SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS who,\n" +
		"      a.privilege_type AS what, a.is_grantable AS opt\n" +
		"    FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee\n" +
		"    WHERE c.oid = " + literal(table) + "::regclass AND a.grantee <> c.relowner\n" +
		"  LOOP\n" +
		"    EXECUTE format('GRANT %s ON %s TO %s%s', g.what, " + literal(view) + ", g.who,\n" +
		"      CASE WHEN g.opt THEN ' WITH GRANT OPTION' ELSE '' END);\n" +
		"  END LOOP;\nEND"
	return "DO " + dollarQuote(body)
}

// dropVersionSchemaSQL renders the removal of version schema vs by complete
// or abort: it refuses, naming them, when the schema holds objects strata
// did not create (anything but views marked by strata, or, in a schema made
// by an older strata, views named after a table); otherwise it drops
// strata's views one by one (a view of the user's that depends on one makes
// the drop fail, rather than go by CASCADE) and then the empty schema.
func (p *planner) dropVersionSchemaSQL(vs, command string) []string {
	names := map[string]bool{}
	for _, n := range p.cat.Names {
		names[n] = true
	}
	for _, t := range p.cur.Tables {
		names[t.Name] = true
	}
	var list []string
	for n := range names {
		list = append(list, literal(n))
	}
	sort.Strings(list)
	arr := "ARRAY[" + strings.Join(list, ", ") + "]::text[]"
	if len(list) == 0 {
		arr = "ARRAY[]::text[]"
	}
	ours := "SELECT c.oid FROM pg_class c WHERE c.relnamespace = ns AND c.relkind = 'v' AND " +
		"(coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'strata: %' OR c.relname = ANY (" + arr + "))"
	body := "DECLARE\n  ns oid;\n  extra text;\n  v record;\nBEGIN\n" +
		"  SELECT oid INTO ns FROM pg_namespace WHERE nspname = " + literal(vs) + ";\n" +
		"  IF ns IS NULL THEN\n    RETURN;\n  END IF;\n" +
		"  SELECT string_agg(pg_describe_object(d.classid, d.objid, d.objsubid), ', ' ORDER BY 1) INTO extra\n" +
		"    FROM pg_depend d\n" +
		"    WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ns\n" +
		"      AND NOT (d.classid = 'pg_class'::regclass AND d.objid IN (" + ours + "));\n" +
		"  IF extra IS NOT NULL THEN\n" +
		"    RAISE EXCEPTION USING ERRCODE = 'dependent_objects_still_exist',\n" +
		"      MESSAGE = format('version schema %I holds objects strata did not create: %s; strata will not drop them', " + literal(vs) + ", extra),\n" +
		"      HINT = " + literal("move them to another schema or drop them yourself, then run strata "+command+" again") + ";\n" +
		"  END IF;\n" +
		"  FOR v IN SELECT c.relname FROM pg_class c WHERE c.oid IN (" + ours + ") LOOP\n" +
		"    EXECUTE format('DROP VIEW %I.%I', " + literal(vs) + ", v.relname);\n" +
		"  END LOOP;\n" +
		"  EXECUTE format('DROP SCHEMA %I', " + literal(vs) + ");\n" +
		"END"
	return []string{"DO " + dollarQuote(body)}
}

// dropMarkedViewsSQL drops the views of schema vs whose comment is comment
// (abort: the previous version's views its start created).
func dropMarkedViewsSQL(vs, comment string) string {
	body := "DECLARE v record;\nBEGIN\n" +
		"  FOR v IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n" +
		"    WHERE n.nspname = " + literal(vs) + " AND c.relkind = 'v' AND obj_description(c.oid, 'pg_class') = " + literal(comment) + "\n" +
		"  LOOP\n" +
		"    EXECUTE format('DROP VIEW %I.%I', " + literal(vs) + ", v.relname);\n" +
		"  END LOOP;\nEND"
	return "DO " + dollarQuote(body)
}

// thinSQL renders the end of complete's contract: the tombstones go (before
// the tables they stand in front of are dropped or renamed: see
// contractSQL), the views that are now identical to their table go (in
// Reshape's style every view stays), and the views that stay get their
// table's grants again.
func (p *planner) thinSQL() []string {
	var out []string
	for _, t := range sortedTables(p.cur.Tables) {
		if !p.hasView(t) {
			continue
		}
		v := qual(p.version, t.Name)
		if !p.reshape() && p.identicalAfterComplete(t) {
			out = append(out, "DROP VIEW IF EXISTS "+v)
		} else {
			out = append(out, copyGrantsSQL(v, qual(p.schema, t.Name)))
		}
	}
	return out
}

// dropTombstonesSQL drops the new version's tombstones.
func (p *planner) dropTombstonesSQL() []string {
	var out []string
	for _, tb := range p.tombstones() {
		out = append(out, "DROP VIEW IF EXISTS "+qual(p.version, tb.Name))
	}
	return append(out, p.dropGoneSQL()...)
}

// newViewNames are the names of the views in the new version schema.
func (p *planner) newViewNames() []string {
	var out []string
	for _, t := range sortedTables(p.cur.Tables) {
		if p.hasView(t) {
			out = append(out, t.Name)
		}
	}
	for _, tb := range p.tombstones() {
		out = append(out, tb.Name)
	}
	return out
}
