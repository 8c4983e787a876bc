// Package drift compares two models of a managed schema, the one the
// migration folder produces and the live one, object by object, and writes
// the statements that take the first to the second.
package drift

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stratapg/strata/catalog"
)

// Signs of a difference.
const (
	InDatabase   = "+" // in the database only
	InMigrations = "-" // in the migrations only
	Different    = "~" // in both, different
)

// AttrDiff is one attribute that differs.
type AttrDiff struct {
	Name       string `json:"name"`
	Migrations string `json:"migrations"`
	Database   string `json:"database"`
}

// Diff is one difference.
type Diff struct {
	Sign  string     `json:"sign"`
	Kind  string     `json:"kind"`
	Name  string     `json:"name"`
	Attrs []AttrDiff `json:"attrs,omitempty"`

	mig, db *catalog.Object
}

// String is the diff's one line: sign, kind, name and what differs
// (migrations -> database).
func (d Diff) String() string {
	s := d.Sign + " " + d.Kind + " " + d.Name
	var parts []string
	for _, a := range d.Attrs {
		if short(a.Migrations) && short(a.Database) {
			parts = append(parts, a.Name+" "+show(a.Migrations)+" -> "+show(a.Database))
		} else {
			parts = append(parts, a.Name+" differs")
		}
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, "; ")
	}
	return s
}

func short(s string) bool { return len(s) <= 80 && !strings.Contains(s, "\n") }

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	if strings.ContainsAny(s, " ;") {
		return strconv.Quote(s)
	}
	return s
}

// Compare lists the differences between the structure the migrations give
// and the database's, in a stable order (by name, then kind).
func Compare(migrations, database *catalog.Schema) []Diff {
	mig := map[string]*catalog.Object{}
	for _, o := range migrations.Objects {
		mig[o.Key()] = o
	}
	var out []Diff
	seen := map[string]bool{}
	for _, o := range database.Objects {
		k := o.Key()
		seen[k] = true
		m := mig[k]
		if m == nil {
			out = append(out, Diff{Sign: InDatabase, Kind: o.Kind, Name: o.Name, db: o})
			continue
		}
		var attrs []AttrDiff
		names := map[string]bool{}
		for _, a := range append(append([]catalog.Attr{}, m.Attrs...), o.Attrs...) {
			if names[a.Name] {
				continue
			}
			names[a.Name] = true
			if mv, dv := m.Attr(a.Name), o.Attr(a.Name); mv != dv {
				attrs = append(attrs, AttrDiff{Name: a.Name, Migrations: mv, Database: dv})
			}
		}
		if len(attrs) > 0 {
			out = append(out, Diff{Sign: Different, Kind: o.Kind, Name: o.Name, Attrs: attrs, mig: m, db: o})
		}
	}
	for _, o := range migrations.Objects {
		if !seen[o.Key()] {
			out = append(out, Diff{Sign: InMigrations, Kind: o.Kind, Name: o.Name, mig: o})
		}
	}
	// The parts of a table that is only on one side are that table's line.
	whole := map[string]string{}
	for _, d := range out {
		if d.Kind == catalog.KindTable && d.Sign != Different {
			whole[d.Name] = d.Sign
		}
	}
	kept := out[:0]
	for _, d := range out {
		switch d.Kind {
		case catalog.KindColumn, catalog.KindConstraint, catalog.KindTrigger, catalog.KindPolicy:
			if s, ok := whole[tableOf(d.Name)]; ok && s == d.Sign {
				continue
			}
		case catalog.KindIndex:
			if d.Sign != Different && indexOfWhole(d, whole) {
				continue
			}
		}
		kept = append(kept, d)
	}
	out = kept
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// indexOfWhole: the index is on a table that is only on the same side.
func indexOfWhole(d Diff, whole map[string]string) bool {
	o := d.db
	if o == nil {
		o = d.mig
	}
	def := o.Attr("definition")
	i := strings.Index(def, " ON ")
	j := strings.Index(def, " USING ")
	if i < 0 || j < i {
		return false
	}
	s, ok := whole[strings.TrimPrefix(def[i+4:j], "ONLY ")]
	return ok && s == d.Sign
}

var metaAttrs = map[string]bool{"comment": true, "owner": true, "grants": true}

// SQL writes the statements that take the migrations' structure to the
// database's: drops in reverse dependency order, then creations and
// changes in dependency order.
func SQL(migrations, database *catalog.Schema, diffs []Diff) string {
	byKey := map[string]Diff{}
	for _, d := range diffs {
		byKey[d.Kind+" "+d.Name] = d
	}
	recreate := func(d Diff) bool {
		if d.Sign != Different {
			return false
		}
		switch d.Kind {
		case catalog.KindColumn, catalog.KindTable, catalog.KindEnum:
			return false
		}
		return !onlyMeta(d) && d.db.Replace == ""
	}
	var b strings.Builder
	for i := len(migrations.Objects) - 1; i >= 0; i-- {
		o := migrations.Objects[i]
		d, ok := byKey[o.Key()]
		if !ok {
			continue
		}
		if d.Sign == InMigrations {
			if o.Kind == catalog.KindColumn && byKey[catalog.KindTable+" "+tableOf(o.Name)].Sign == InMigrations {
				continue // dropped with its table
			}
			if (o.Kind == catalog.KindConstraint || o.Kind == catalog.KindIndex || o.Kind == catalog.KindTrigger || o.Kind == catalog.KindPolicy) &&
				tableDropped(byKey, o) {
				continue
			}
			b.WriteString(o.Drop)
		} else if recreate(d) {
			b.WriteString(o.Drop)
		}
	}
	var later strings.Builder
	for _, o := range database.Objects {
		d, ok := byKey[o.Key()]
		if !ok {
			continue
		}
		switch {
		case d.Sign == InDatabase:
			if o.Kind == catalog.KindColumn && byKey[catalog.KindTable+" "+tableOf(o.Name)].Sign == InDatabase {
				continue // created with its table
			}
			b.WriteString(o.Create)
			later.WriteString(o.Later)
		case recreate(d):
			b.WriteString(o.Create)
		default:
			b.WriteString(change(d))
		}
	}
	b.WriteString(later.String())
	return b.String()
}

func tableDropped(byKey map[string]Diff, o *catalog.Object) bool {
	for _, dep := range []string{tableOf(o.Name)} {
		if byKey[catalog.KindTable+" "+dep].Sign == InMigrations {
			return true
		}
	}
	return false
}

// tableOf is the table part of a column's (or constraint's) name
// schema.table.column; it relies on names quoted as PostgreSQL does.
func tableOf(name string) string {
	parts := splitQualified(name)
	if len(parts) < 2 {
		return name
	}
	return strings.Join(parts[:len(parts)-1], ".")
}

func splitQualified(s string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			cur.WriteString(`""`)
			i++
		case c == '"':
			quoted = !quoted
			cur.WriteByte(c)
		case c == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

func onlyMeta(d Diff) bool {
	for _, a := range d.Attrs {
		if !metaAttrs[a.Name] {
			return false
		}
	}
	return true
}

// change writes the statements for an object in both, different.
func change(d Diff) string {
	var b strings.Builder
	o := d.db
	switch {
	case d.Kind == catalog.KindColumn:
		for _, a := range d.Attrs {
			if a.Name == "generated" {
				return d.mig.Drop + o.Create
			}
			if a.Name == "collation" && hasAttr(d, "type") {
				continue
			}
			b.WriteString(o.Alter[a.Name])
		}
		return b.String()
	case d.Kind == catalog.KindEnum:
		if s, ok := addValues(o.Name, d.mig.Labels(), o.Labels()); ok {
			b.WriteString(s)
		} else {
			return d.mig.Drop + o.Create
		}
	case d.Kind == catalog.KindTable:
		for _, a := range d.Attrs {
			switch a.Name {
			case "row level security":
				b.WriteString("ALTER TABLE " + o.Name + map[string]string{"true": " ENABLE", "false": " DISABLE"}[a.Database] + " ROW LEVEL SECURITY;\n")
			case "force row level security":
				b.WriteString("ALTER TABLE " + o.Name + map[string]string{"true": " FORCE", "false": " NO FORCE"}[a.Database] + " ROW LEVEL SECURITY;\n")
			case "unlogged":
				b.WriteString("ALTER TABLE " + o.Name + map[string]string{"true": " SET UNLOGGED", "false": " SET LOGGED"}[a.Database] + ";\n")
			case "options":
				if a.Migrations != "" {
					var keys []string
					for _, kv := range strings.Split(a.Migrations, ",") {
						keys = append(keys, strings.SplitN(kv, "=", 2)[0])
					}
					b.WriteString("ALTER TABLE " + o.Name + " RESET (" + strings.Join(keys, ", ") + ");\n")
				}
				if a.Database != "" {
					b.WriteString("ALTER TABLE " + o.Name + " SET (" + strings.ReplaceAll(a.Database, ",", ", ") + ");\n")
				}
			case "comment", "owner", "grants":
			default:
				b.WriteString(fmt.Sprintf("-- strata drift: the %s of table %s differs (%s -> %s); change it by hand\n", a.Name, o.Name, a.Migrations, a.Database))
			}
		}
	case !onlyMeta(d) && o.Replace != "":
		b.WriteString(o.Replace)
	}
	for _, a := range d.Attrs {
		if a.Name == "comment" && a.Database == "" && o.CommentOn != "" {
			b.WriteString(o.CommentOn + " IS NULL;\n")
		}
	}
	if hasAttr(d, "grants") {
		b.WriteString(d.mig.Revoke)
	}
	for _, a := range d.Attrs {
		if metaAttrs[a.Name] {
			b.WriteString(o.Meta)
			break
		}
	}
	return b.String()
}

func hasAttr(d Diff, name string) bool {
	for _, a := range d.Attrs {
		if a.Name == name {
			return true
		}
	}
	return false
}

// addValues writes ALTER TYPE ... ADD VALUE for the labels of want not in
// have, when have is a subsequence of want in the same order.
func addValues(name string, have, want []string) (string, bool) {
	j := 0
	for _, w := range want {
		if j < len(have) && have[j] == w {
			j++
		}
	}
	if j != len(have) {
		return "", false
	}
	var b strings.Builder
	in := map[string]bool{}
	for _, h := range have {
		in[h] = true
	}
	for i, w := range want {
		if in[w] {
			continue
		}
		if i > 0 {
			fmt.Fprintf(&b, "ALTER TYPE %s ADD VALUE %s AFTER %s;\n", name, catalog.Literal(w), catalog.Literal(want[i-1]))
		} else {
			fmt.Fprintf(&b, "ALTER TYPE %s ADD VALUE %s BEFORE %s;\n", name, catalog.Literal(w), catalog.Literal(want[1]))
		}
	}
	return b.String(), true
}
