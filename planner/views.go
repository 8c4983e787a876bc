package planner

import (
	"sort"
	"strings"
)

// viewsSQL renders the new version schema: one view per table of the new
// version, its columns in the table's order under the names the version
// uses, defaults carried onto the view so INSERTs through it get them, and
// the table's grants copied. It drops and recreates the schema, so the step
// is safe to re-run.
func (p *planner) viewsSQL() []string {
	vs := ident(p.version)
	out := []string{
		"DROP SCHEMA IF EXISTS " + vs + " CASCADE",
		"CREATE SCHEMA " + vs,
	}
	for _, g := range p.cat.SchemaACL {
		out = append(out, "GRANT "+g.Privilege+" ON SCHEMA "+vs+" TO "+grantee(g.Grantee))
	}
	tables := append([]*vTable(nil), p.cur.Tables...)
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	for _, t := range tables {
		out = append(out, p.viewSQL(t)...)
	}
	return out
}

func (p *planner) viewSQL(t *vTable) []string {
	v := qual(p.version, t.Name)
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
	for _, c := range t.Columns {
		if c.IdentitySeq != "" {
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
	for _, g := range t.ACL {
		out = append(out, "GRANT "+g.Privilege+" ON "+v+" TO "+grantee(g.Grantee))
	}
	return out
}
