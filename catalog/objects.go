package catalog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

func (r *reader) relations() error {
	type ident struct {
		table uint32
		col   string
		seq   seqInfo
	}
	var idents []ident
	err := r.query(fmt.Sprintf(relQuery, fmt.Sprintf(notExt, "'pg_class'::regclass", "c.oid")), func(rows pgx.Rows) error {
		var oid uint32
		var name, qname, kind, persist, bound, partkey, parent, owner, comment, viewdef, seqType, ownedBy string
		var rls, force, cycle bool
		var acl, opts []string
		var start, inc, max, min, cache int64
		if err := rows.Scan(&oid, &name, &qname, &kind, &persist, &rls, &force, &bound, &partkey, &parent, &owner, &acl, &comment,
			&viewdef, &opts, &seqType, &start, &inc, &max, &min, &cache, &cycle, &ownedBy); err != nil {
			return err
		}
		if Internal(name) {
			return nil
		}
		seq := seqInfo{qname: qname, typ: seqType, start: start, inc: inc, max: max, min: min, cache: cache, cycle: cycle}
		var dep []string
		if ownedBy != "" {
			dep = strings.SplitN(ownedBy, "\x01", 4)
		}
		if kind == "S" && len(dep) == 4 && dep[0] == "i" {
			t, _ := strconv.ParseUint(dep[2], 10, 32)
			idents = append(idents, ident{uint32(t), dep[3], seq})
			r.aliasLater(id("pg_class", oid), id("pg_class", uint32(t)))
			return nil
		}
		switch kind {
		case "S":
			o := r.add(&Object{Kind: KindSequence, Name: qname, id: id("pg_class", oid)})
			o.Attrs = []Attr{{"type", seqType}, {"start", fmt.Sprint(start)}, {"increment", fmt.Sprint(inc)}, {"min", fmt.Sprint(min)},
				{"max", fmt.Sprint(max)}, {"cache", fmt.Sprint(cache)}, {"cycle", fmt.Sprint(cycle)}}
			opt := seqOptions(seq, true)
			o.Create = "CREATE SEQUENCE " + qname + " " + opt + ";\n"
			o.Replace = "ALTER SEQUENCE " + qname + " " + seqOptions(seq, false) + ";\n"
			o.Drop = "DROP SEQUENCE " + qname + ";\n"
			if len(dep) == 4 {
				o.Attrs = append(o.Attrs, Attr{"owned by", dep[1]})
				o.Later = "ALTER SEQUENCE " + qname + " OWNED BY " + dep[1] + ";\n"
			}
			r.meta(o, "SEQUENCE", qname, owner, acl, comment)
		case "v", "m":
			k, kw := KindView, "VIEW"
			if kind == "m" {
				k, kw = KindMatView, "MATERIALIZED VIEW"
			}
			def := strings.TrimSuffix(strings.TrimSpace(viewdef), ";")
			o := r.add(&Object{Kind: k, Name: qname, id: id("pg_class", oid)})
			o.Attrs = []Attr{{"definition", def}, {"options", strings.Join(opts, ",")}}
			with := ""
			if len(opts) > 0 {
				with = " WITH (" + strings.Join(opts, ", ") + ")"
			}
			if kind == "m" {
				o.Create = "CREATE MATERIALIZED VIEW " + qname + with + " AS\n " + def + "\n  WITH NO DATA;\n"
			} else {
				o.Create = "CREATE VIEW " + qname + with + " AS\n " + def + ";\n"
				o.Replace = "CREATE OR REPLACE VIEW " + qname + with + " AS\n " + def + ";\n"
			}
			o.Drop = "DROP " + kw + " " + qname + ";\n"
			r.meta(o, kw, qname, owner, acl, comment)
			r.tables[oid] = &table{obj: o, qname: qname, kind: kind}
		case "r", "p", "c":
			k := KindTable
			if kind == "c" {
				k = KindComposite
			}
			o := r.add(&Object{Kind: k, Name: qname, id: id("pg_class", oid)})
			t := &table{obj: o, qname: qname, kind: kind, partOf: parent, identity: map[string]seqInfo{}}
			r.tables[oid] = t
			if kind == "c" {
				o.Drop = "DROP TYPE " + qname + ";\n"
				r.meta(o, "TYPE", qname, owner, acl, comment)
				return nil
			}
			o.Attrs = []Attr{{"partition by", partkey}, {"partition of", strings.TrimSpace(parent + " " + bound)},
				{"unlogged", fmt.Sprint(persist == "u")}, {"row level security", fmt.Sprint(rls)}, {"force row level security", fmt.Sprint(force)},
				{"options", strings.Join(opts, ",")}}
			o.Drop = "DROP TABLE " + qname + ";\n"
			var post []string
			if rls {
				post = append(post, "ALTER TABLE "+qname+" ENABLE ROW LEVEL SECURITY;\n")
			}
			if force {
				post = append(post, "ALTER TABLE "+qname+" FORCE ROW LEVEL SECURITY;\n")
			}
			t.later = post
			r.meta(o, "TABLE", qname, owner, acl, comment)
			unlogged := ""
			if persist == "u" {
				unlogged = "UNLOGGED "
			}
			tail := ""
			if partkey != "" {
				tail += " PARTITION BY " + partkey
			}
			if len(opts) > 0 {
				tail += " WITH (" + strings.Join(opts, ", ") + ")"
			}
			if parent != "" {
				o.Create = "CREATE " + unlogged + "TABLE " + qname + " PARTITION OF " + parent + " " + bound + tail + ";\n"
			} else {
				o.Create = "CREATE " + unlogged + "TABLE " + qname + " (\n%s)" + tail + ";\n"
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, i := range idents {
		if t := r.tables[i.table]; t != nil {
			t.identity[i.col] = i.seq
		}
	}
	return nil
}

// aliasLater records that the object id a stands for the object id b.
func (r *reader) aliasLater(a, b string) {
	if r.aliases == nil {
		r.aliases = map[string]string{}
	}
	r.aliases[a] = b
}

func seqOptions(s seqInfo, create bool) string {
	cyc := "NO CYCLE"
	if s.cycle {
		cyc = "CYCLE"
	}
	return fmt.Sprintf("AS %s START WITH %d INCREMENT BY %d MINVALUE %d MAXVALUE %d CACHE %d %s", s.typ, s.start, s.inc, s.min, s.max, s.cache, cyc)
}

func (r *reader) columns() error {
	return r.query(colQuery, func(rows pgx.Rows) error {
		var rel uint32
		var name, qname, typ, def, identity, generated, coll, comment string
		var notNull, local bool
		if err := rows.Scan(&rel, &name, &qname, &typ, &notNull, &def, &identity, &generated, &coll, &local, &comment); err != nil {
			return err
		}
		t := r.tables[rel]
		if t == nil || Internal(name) {
			return nil
		}
		if t.kind == "v" || t.kind == "m" {
			if comment != "" {
				t.obj.Meta += "COMMENT ON COLUMN " + t.qname + "." + qname + " IS " + Literal(comment) + ";\n"
				t.obj.Attrs = append(t.obj.Attrs, Attr{"comment on " + name, comment})
			}
			return nil
		}
		if t.kind == "c" {
			d := qname + " " + typ
			if coll != "" {
				d += " COLLATE " + coll
			}
			t.colDefs = append(t.colDefs, d)
			return nil
		}
		if !local || t.partOf != "" {
			return nil // inherited from the partitioned table
		}
		full := t.qname + "." + qname
		o := r.add(&Object{Kind: KindColumn, Name: full, InTable: true, deps: []string{t.obj.id}})
		o.id = ""
		gen := ""
		switch generated {
		case "s":
			gen = def
		case "v":
			gen = def + " VIRTUAL"
		}
		dflt := def
		if gen != "" {
			dflt = ""
		}
		idText := ""
		seq, hasSeq := t.identity[name]
		switch identity {
		case "a":
			idText = "always"
		case "d":
			idText = "by default"
		}
		if idText != "" && hasSeq {
			idText += " (" + seqOptions(seq, true) + ")"
		}
		o.Attrs = []Attr{{"type", typ}, {"not null", fmt.Sprint(notNull)}, {"default", dflt}, {"collation", coll},
			{"identity", idText}, {"generated", gen}, {"comment", comment}}
		d := qname + " " + typ
		if coll != "" {
			d += " COLLATE " + coll
		}
		switch generated {
		case "s":
			d += " GENERATED ALWAYS AS (" + def + ") STORED"
		case "v":
			d += " GENERATED ALWAYS AS (" + def + ") VIRTUAL"
		}
		if dflt != "" {
			d += " DEFAULT " + dflt
		}
		if notNull {
			d += " NOT NULL"
		}
		if identity != "" {
			kw := "ALWAYS"
			if identity == "d" {
				kw = "BY DEFAULT"
			}
			d += " GENERATED " + kw + " AS IDENTITY"
			if hasSeq {
				d += " (SEQUENCE NAME " + seq.qname + " " + strings.TrimPrefix(seqOptions(seq, true), "AS "+seq.typ+" ") + ")"
			}
		}
		t.colDefs = append(t.colDefs, d)
		t.cols = append(t.cols, o)
		o.Create = "ALTER TABLE " + t.qname + " ADD COLUMN " + d + ";\n"
		o.Drop = "ALTER TABLE " + t.qname + " DROP COLUMN " + qname + ";\n"
		alt := "ALTER TABLE " + t.qname + " ALTER COLUMN " + qname
		o.Alter = map[string]string{
			"type":      alt + " TYPE " + typ + collate(coll) + ";\n",
			"collation": alt + " TYPE " + typ + collate(coll) + ";\n",
			"not null":  alt + map[bool]string{true: " SET NOT NULL;\n", false: " DROP NOT NULL;\n"}[notNull],
			"default":   alt + " DROP DEFAULT;\n",
			"comment":   "COMMENT ON COLUMN " + full + " IS " + nullOr(comment) + ";\n",
			"identity":  alt + " DROP IDENTITY IF EXISTS;\n",
		}
		if identity != "" {
			kw := map[string]string{"a": "ALWAYS", "d": "BY DEFAULT"}[identity]
			o.Alter["identity"] += alt + " ADD GENERATED " + kw + " AS IDENTITY"
			if hasSeq {
				o.Alter["identity"] += " (SEQUENCE NAME " + seq.qname + " " + strings.TrimPrefix(seqOptions(seq, true), "AS "+seq.typ+" ") + ")"
			}
			o.Alter["identity"] += ";\n"
		}
		if dflt != "" {
			o.Alter["default"] = alt + " SET DEFAULT " + dflt + ";\n"
		}
		if comment != "" {
			t.obj.Meta += "COMMENT ON COLUMN " + full + " IS " + Literal(comment) + ";\n"
			o.Create += "COMMENT ON COLUMN " + full + " IS " + Literal(comment) + ";\n"
		}
		return nil
	})
}

func collate(c string) string {
	if c == "" {
		return ""
	}
	return " COLLATE " + c
}

func nullOr(s string) string {
	if s == "" {
		return "NULL"
	}
	return Literal(s)
}

// meta adds the comment, owner and grants of an object to its Create and
// Meta, and to its Attrs.
func (r *reader) meta(o *Object, kw, qname, owner string, acl []string, comment string) {
	var b strings.Builder
	if comment != "" {
		fmt.Fprintf(&b, "COMMENT ON %s %s IS %s;\n", kw, qname, Literal(comment))
	}
	if owner != "" {
		okw := kw
		if kw == "DOMAIN" {
			okw = "DOMAIN"
		}
		fmt.Fprintf(&b, "ALTER %s %s OWNER TO %s;\n", okw, qname, owner)
	}
	b.WriteString(grants(kw, qname, owner, acl))
	o.Meta = b.String()
	o.Revoke = revokes(kw, qname, owner, acl)
	o.CommentOn = "COMMENT ON " + kw + " " + qname
	o.Attrs = append(o.Attrs, Attr{"comment", comment}, Attr{"owner", owner}, Attr{"grants", aclText(acl)})
}

var privNames = map[byte]string{'r': "SELECT", 'a': "INSERT", 'w': "UPDATE", 'd': "DELETE", 'D': "TRUNCATE", 'x': "REFERENCES",
	't': "TRIGGER", 'X': "EXECUTE", 'U': "USAGE", 'C': "CREATE", 'c': "CONNECT", 'T': "TEMPORARY", 'm': "MAINTAIN", 's': "SET", 'A': "ALTER SYSTEM"}

type aclItem struct{ grantee, privs string }

// parseACL reads aclitems ("grantee=privs/grantor"; an empty grantee is
// PUBLIC), in their order (which a restore keeps: pg_dump shows it).
func parseACL(acl []string) []aclItem {
	var out []aclItem
	for _, a := range acl {
		grantee, rest := "", a
		if strings.HasPrefix(a, `"`) {
			i := 1
			var g strings.Builder
			for i < len(a) {
				if a[i] == '"' {
					if i+1 < len(a) && a[i+1] == '"' {
						g.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				g.WriteByte(a[i])
				i++
			}
			grantee, rest = `"`+strings.ReplaceAll(g.String(), `"`, `""`)+`"`, a[i:]
		} else {
			eq := strings.IndexByte(a, '=')
			grantee, rest = a[:eq], a[eq:]
		}
		privs := strings.TrimPrefix(rest, "=")
		if k := strings.IndexByte(privs, '/'); k >= 0 {
			privs = privs[:k]
		}
		if grantee == "" {
			grantee = "PUBLIC"
		}
		out = append(out, aclItem{grantee, privs})
	}
	return out
}

// aclText is the grants as drift compares them: sorted, grantors left out.
func aclText(acl []string) string {
	var parts []string
	for _, a := range parseACL(acl) {
		parts = append(parts, a.grantee+"="+a.privs)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func grantOn(kw string) string {
	switch kw {
	case "VIEW", "MATERIALIZED VIEW":
		return "TABLE"
	}
	return kw
}

// revokes takes back every grant of acl but the owner's.
func revokes(kw, qname, owner string, acl []string) string {
	var b strings.Builder
	for _, a := range parseACL(acl) {
		if a.grantee != owner {
			fmt.Fprintf(&b, "REVOKE ALL ON %s %s FROM %s;\n", grantOn(kw), qname, a.grantee)
		}
	}
	return b.String()
}

func grants(kw, qname, owner string, acl []string) string {
	if len(acl) == 0 {
		return ""
	}
	on := grantOn(kw)
	var b strings.Builder
	fmt.Fprintf(&b, "REVOKE ALL ON %s %s FROM PUBLIC;\n", on, qname)
	for _, a := range parseACL(acl) {
		if a.grantee == owner {
			continue
		}
		var plain, opt []string
		for i := 0; i < len(a.privs); i++ {
			n := privNames[a.privs[i]]
			if i+1 < len(a.privs) && a.privs[i+1] == '*' {
				opt = append(opt, n)
				i++
			} else {
				plain = append(plain, n)
			}
		}
		if len(plain) > 0 {
			fmt.Fprintf(&b, "GRANT %s ON %s %s TO %s;\n", strings.Join(plain, ", "), on, qname, a.grantee)
		}
		if len(opt) > 0 {
			fmt.Fprintf(&b, "GRANT %s ON %s %s TO %s WITH GRANT OPTION;\n", strings.Join(opt, ", "), on, qname, a.grantee)
		}
	}
	return b.String()
}
