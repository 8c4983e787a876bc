package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

func (r *reader) types() error {
	return r.query(fmt.Sprintf(typeQuery, fmt.Sprintf(notExt, "'pg_type'::regclass", "t.oid")), func(rows pgx.Rows) error {
		var oid uint32
		var name, qname, typtype, owner, comment, base, def, coll string
		var acl, labels []string
		var notNull bool
		if err := rows.Scan(&oid, &name, &qname, &typtype, &owner, &acl, &comment, &labels, &base, &notNull, &def, &coll); err != nil {
			return err
		}
		if Internal(name) {
			return nil
		}
		if typtype == "e" {
			o := r.add(&Object{Kind: KindEnum, Name: qname, id: id("pg_type", oid)})
			q := make([]string, len(labels))
			for i, l := range labels {
				q[i] = Literal(l)
			}
			o.Attrs = []Attr{{"values", strings.Join(q, ", ")}}
			o.Create = "CREATE TYPE " + qname + " AS ENUM (" + strings.Join(q, ", ") + ");\n"
			o.Drop = "DROP TYPE " + qname + ";\n"
			o.labels = labels
			r.meta(o, "TYPE", qname, owner, acl, comment)
			return nil
		}
		o := r.add(&Object{Kind: KindDomain, Name: qname, id: id("pg_type", oid)})
		d := "CREATE DOMAIN " + qname + " AS " + base + collate(coll)
		if def != "" {
			d += " DEFAULT " + def
		}
		if notNull {
			d += " NOT NULL"
		}
		o.Create = d // constraints are added in finish
		o.Drop = "DROP DOMAIN " + qname + ";\n"
		o.Attrs = []Attr{{"type", base}, {"collation", coll}, {"default", def}, {"not null", fmt.Sprint(notNull)}}
		r.meta(o, "DOMAIN", qname, owner, acl, comment)
		return nil
	})
}

func (r *reader) functions() error {
	return r.query(fmt.Sprintf(funcQuery, fmt.Sprintf(notExt, "'pg_proc'::regclass", "p.oid")), func(rows pgx.Rows) error {
		var oid uint32
		var name, qname, args, kind, def, owner, comment string
		var acl []string
		if err := rows.Scan(&oid, &name, &qname, &args, &kind, &def, &owner, &acl, &comment); err != nil {
			return err
		}
		if Internal(name) {
			return nil
		}
		k, kw := KindFunction, "FUNCTION"
		if kind == "p" {
			k, kw = KindProcedure, "PROCEDURE"
		}
		sig := qname + "(" + args + ")"
		o := r.add(&Object{Kind: k, Name: sig, id: id("pg_proc", oid)})
		def = strings.TrimRight(def, "\n") + ";\n"
		o.Attrs = []Attr{{"definition", def}}
		o.Create = def
		o.Replace = def
		o.Drop = "DROP " + kw + " " + sig + ";\n"
		r.meta(o, kw, sig, owner, acl, comment)
		return nil
	})
}

func (r *reader) constraints() error {
	return r.query(conQuery, func(rows pgx.Rows) error {
		var oid, rel, typ, ind uint32
		var name, qname, kind, def, comment string
		var valid, local bool
		if err := rows.Scan(&oid, &rel, &typ, &name, &qname, &kind, &def, &valid, &local, &comment, &ind); err != nil {
			return err
		}
		if Internal(name) {
			return nil
		}
		if typ != 0 {
			if o := r.byOID[id("pg_type", typ)]; o != nil {
				o.domainCons = append(o.domainCons, "CONSTRAINT "+qname+" "+def)
				o.Attrs = append(o.Attrs, Attr{"constraint " + name, def})
				r.aliasLater(id("pg_constraint", oid), o.id)
			}
			return nil
		}
		t := r.tables[rel]
		if t == nil || !local {
			return nil
		}
		full := t.qname + "." + qname
		o := r.add(&Object{Kind: KindConstraint, Name: full, id: id("pg_constraint", oid), deps: []string{t.obj.id}})
		o.Attrs = []Attr{{"definition", def}, {"valid", fmt.Sprint(valid)}, {"comment", comment}}
		o.Create = "ALTER TABLE " + t.qname + " ADD CONSTRAINT " + qname + " " + def + ";\n"
		o.CommentOn = "COMMENT ON CONSTRAINT " + qname + " ON " + t.qname
		if comment != "" {
			o.Meta = "COMMENT ON CONSTRAINT " + qname + " ON " + t.qname + " IS " + Literal(comment) + ";\n"
		}
		o.Drop = "ALTER TABLE " + t.qname + " DROP CONSTRAINT " + qname + ";\n"
		if kind == "p" || kind == "u" || kind == "x" {
			r.aliasLater(id("pg_class", ind), o.id)
		}
		return nil
	})
}

func (r *reader) indexes() error {
	return r.query(idxQuery, func(rows pgx.Rows) error {
		var oid, rel uint32
		var name, qname, def, comment string
		var valid, backs, child bool
		if err := rows.Scan(&oid, &rel, &name, &qname, &def, &valid, &comment, &backs, &child); err != nil {
			return err
		}
		t := r.tables[rel]
		if t == nil || backs || child || Internal(name) {
			return nil
		}
		if t.kind == "p" {
			// Built on the partitions too, not ON ONLY the partitioned table.
			def = strings.Replace(def, " ON ONLY ", " ON ", 1)
		}
		o := r.add(&Object{Kind: KindIndex, Name: qname, id: id("pg_class", oid), deps: []string{t.obj.id}})
		o.Attrs = []Attr{{"definition", def}, {"valid", fmt.Sprint(valid)}, {"comment", comment}}
		o.Create = def + ";\n"
		o.CommentOn = "COMMENT ON INDEX " + qname
		if !valid {
			o.Create = "-- INVALID (a failed CREATE INDEX CONCURRENTLY; strata doctor reports it)\n" + o.Create
		}
		if comment != "" {
			o.Meta = "COMMENT ON INDEX " + qname + " IS " + Literal(comment) + ";\n"
		}
		o.Drop = "DROP INDEX " + qname + ";\n"
		return nil
	})
}

func (r *reader) triggers() error {
	return r.query(trgQuery, func(rows pgx.Rows) error {
		var oid, rel uint32
		var name, qname, def, enabled, comment string
		if err := rows.Scan(&oid, &rel, &name, &qname, &def, &enabled, &comment); err != nil {
			return err
		}
		t := r.tables[rel]
		if t == nil || Internal(name) {
			return nil
		}
		o := r.add(&Object{Kind: KindTrigger, Name: t.qname + "." + qname, id: id("pg_trigger", oid), deps: []string{t.obj.id}})
		o.Attrs = []Attr{{"definition", def}, {"enabled", enabled}, {"comment", comment}}
		o.Create = def + ";\n"
		o.CommentOn = "COMMENT ON TRIGGER " + qname + " ON " + t.qname
		switch enabled {
		case "D":
			o.Create += "ALTER TABLE " + t.qname + " DISABLE TRIGGER " + qname + ";\n"
		case "R":
			o.Create += "ALTER TABLE " + t.qname + " ENABLE REPLICA TRIGGER " + qname + ";\n"
		case "A":
			o.Create += "ALTER TABLE " + t.qname + " ENABLE ALWAYS TRIGGER " + qname + ";\n"
		}
		if comment != "" {
			o.Meta = "COMMENT ON TRIGGER " + qname + " ON " + t.qname + " IS " + Literal(comment) + ";\n"
		}
		o.Drop = "DROP TRIGGER " + qname + " ON " + t.qname + ";\n"
		return nil
	})
}

var polCmds = map[string]string{"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}

func (r *reader) policies() error {
	return r.query(polQuery, func(rows pgx.Rows) error {
		var oid, rel uint32
		var name, qname, cmd, roles, qual, check, comment string
		var permissive bool
		if err := rows.Scan(&oid, &rel, &name, &qname, &cmd, &permissive, &roles, &qual, &check, &comment); err != nil {
			return err
		}
		t := r.tables[rel]
		if t == nil || Internal(name) {
			return nil
		}
		as := "PERMISSIVE"
		if !permissive {
			as = "RESTRICTIVE"
		}
		def := "CREATE POLICY " + qname + " ON " + t.qname + " AS " + as + " FOR " + polCmds[cmd] + " TO " + roles
		if qual != "" {
			def += " USING (" + qual + ")"
		}
		if check != "" {
			def += " WITH CHECK (" + check + ")"
		}
		o := r.add(&Object{Kind: KindPolicy, Name: t.qname + "." + qname, id: id("pg_policy", oid), deps: []string{t.obj.id}})
		o.Attrs = []Attr{{"definition", def}, {"comment", comment}}
		o.Create = def + ";\n"
		o.CommentOn = "COMMENT ON POLICY " + qname + " ON " + t.qname
		if comment != "" {
			o.Meta = "COMMENT ON POLICY " + qname + " ON " + t.qname + " IS " + Literal(comment) + ";\n"
		}
		o.Drop = "DROP POLICY " + qname + " ON " + t.qname + ";\n"
		return nil
	})
}

type extInfo struct {
	name, schema, comment string
	inSchema              bool
}

func (r *reader) extensions() error {
	r.exts = map[string]extInfo{}
	return r.query(extQuery, func(rows pgx.Rows) error {
		var oid uint32
		var e extInfo
		if err := rows.Scan(&oid, &e.name, &e.schema, &e.inSchema, &e.comment); err != nil {
			return err
		}
		r.exts[id("pg_extension", oid)] = e
		return nil
	})
}

func (r *reader) deps() error {
	used := map[string]bool{}
	err := r.query(depQuery, func(rows pgx.Rows) error {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			return err
		}
		o := r.resolve(from)
		if o == nil {
			return nil
		}
		if _, ok := r.exts[to]; ok {
			used[to] = true
		}
		o.deps = append(o.deps, to)
		return nil
	})
	if err != nil {
		return err
	}
	var ids []string
	for k, e := range r.exts {
		if used[k] || e.inSchema {
			ids = append(ids, k)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return r.exts[ids[i]].name < r.exts[ids[j]].name })
	for _, k := range ids {
		e := r.exts[k]
		o := r.add(&Object{Kind: KindExtension, Name: e.name, id: k})
		o.Attrs = []Attr{{"schema", e.schema}}
		o.Create = "CREATE EXTENSION IF NOT EXISTS " + e.name + " WITH SCHEMA " + e.schema + ";\n"
		o.Drop = "DROP EXTENSION " + e.name + ";\n"
	}
	return nil
}

// resolve maps an id (or an alias: a constraint's index, an identity
// sequence, a domain's constraint) to its object.
func (r *reader) resolve(x string) *Object {
	for i := 0; i < 3; i++ {
		if o := r.byOID[x]; o != nil {
			return o
		}
		a, ok := r.aliases[x]
		if !ok {
			return nil
		}
		x = a
	}
	return nil
}

// finish fills in what needed every query: tables' column lists, domain
// constraints, dependencies through aliases; then orders the objects.
func (r *reader) finish() {
	for _, t := range r.tables {
		o := t.obj
		switch t.kind {
		case "r", "p":
			if t.partOf == "" {
				cols := "    " + strings.Join(t.colDefs, ",\n    ") + "\n"
				if len(t.colDefs) == 0 {
					cols = ""
				}
				o.Create = strings.Replace(o.Create, "%s", cols, 1)
			}
			o.Create += strings.Join(t.later, "")
		case "c":
			o.Create = "CREATE TYPE " + t.qname + " AS (\n    " + strings.Join(t.colDefs, ",\n    ") + "\n);\n"
			o.Attrs = append([]Attr{{"attributes", strings.Join(t.colDefs, ", ")}}, o.Attrs...)
		}
	}
	for _, o := range r.objs {
		if o.Kind == KindDomain {
			if len(o.domainCons) > 0 {
				sort.Strings(o.domainCons)
				o.Create += "\n    " + strings.Join(o.domainCons, "\n    ")
			}
			o.Create += ";\n"
		}
		o.Create += o.Meta
		deps := o.deps[:0:0]
		for _, d := range o.deps {
			if p := r.resolve(d); p != nil && p != o {
				deps = append(deps, p.id)
			} else if _, ok := r.exts[d]; ok {
				deps = append(deps, d)
			}
		}
		o.deps = deps
	}
	if r.schema != "public" {
		o := &Object{Kind: KindSchema, Name: r.qs, Drop: "DROP SCHEMA " + r.qs + ";\n"}
		r.meta(o, "SCHEMA", r.qs, r.nspOwner, r.nspACL, r.nspComment)
		o.Create = "CREATE SCHEMA IF NOT EXISTS " + r.qs + ";\n" + o.Meta
		r.objs = append(r.objs, o)
	}
	r.s.Objects = order(r.objs)
}
