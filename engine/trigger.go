package engine

import (
	"fmt"
	"strings"
)

// syncFunc names the sync trigger function of a physical table; it lives in
// the state schema so the managed schema holds nothing of strata's.
func (p *planner) syncFunc(phys string) string {
	return qual(p.state, internalName("sync_", p.schema+"_"+phys))
}

// NewVersionTest is the SQL condition, true when the session writing is the
// new app version: the first schema of its effective search_path is the new
// version schema. current_schemas resolves quoting, "$user" and schemas that
// do not exist, so `SET search_path = v, public`, `SET search_path TO "v"`
// and the startup option `options=-c search_path=v` all count.
func newVersionTest(version string) string {
	return "(current_schemas(false))[1] IS NOT DISTINCT FROM " + literal(version)
}

// triggerSQL renders the sync trigger of one table: a BEFORE INSERT OR UPDATE
// row trigger that, when the old version wrote, computes the new columns
// from the old (up fragments in order) and, when the new version wrote,
// computes the old columns from the new (down fragments in reverse order).
// Each fragment runs in its own block whose variables are the columns as the
// expression's version names them, so expressions use the names of the
// version they come from.
func (p *planner) triggerSQL(s *tableSync) []string {
	tq := qual(p.schema, s.Phys)
	var b strings.Builder
	oldT := p.old.table(physName(p.old, s.Phys))
	newT := p.cur.table(physName(p.cur, s.Phys))
	b.WriteString("DECLARE\n  _strata_changed boolean;\nBEGIN\n")
	b.WriteString("  IF " + newVersionTest(p.version) + " THEN\n")
	if len(s.Down) > 0 {
		b.WriteString(changedTest(newT, "    "))
		b.WriteString("    IF _strata_changed THEN\n")
		for i := len(s.Down) - 1; i >= 0; i-- {
			b.WriteString(fragmentBlock(s.Down[i], "      "))
		}
		b.WriteString("    END IF;\n")
	}
	b.WriteString("  ELSE\n")
	if len(s.Up) > 0 {
		b.WriteString("    IF current_setting('strata.backfill', true) = 'on' THEN\n      _strata_changed := true;\n    ELSE\n")
		b.WriteString(changedTest(oldT, "  "+"    "))
		b.WriteString("    END IF;\n")
		b.WriteString("    IF _strata_changed THEN\n")
		for _, f := range s.Up {
			b.WriteString(fragmentBlock(f, "      "))
		}
		b.WriteString("    END IF;\n")
	}
	b.WriteString("  END IF;\n  RETURN NEW;\nEND")
	body := b.String()
	tag := "$strata$"
	for i := 1; strings.Contains(body, tag); i++ {
		tag = fmt.Sprintf("$strata%d$", i)
	}
	fn := p.syncFunc(s.Phys)
	create := "CREATE TRIGGER"
	if p.cat.PGMajor >= 14 {
		// Takes SHARE ROW EXCLUSIVE, where DROP TRIGGER would take ACCESS EXCLUSIVE.
		create = "CREATE OR REPLACE TRIGGER"
	}
	return []string{
		"CREATE OR REPLACE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS " + tag + "\n" + body + "\n" + tag,
		// A direct backfill computes the new columns itself: the trigger is
		// not even called for its rows.
		create + " _strata_sync BEFORE INSERT OR UPDATE ON " + tq + " FOR EACH ROW" +
			" WHEN (current_setting('strata.backfill', true) IS DISTINCT FROM 'direct')" +
			" EXECUTE FUNCTION " + fn + "()",
	}
}

func physName(s *vSchema, phys string) string {
	for _, t := range s.Tables {
		if t.Phys == phys {
			return t.Name
		}
	}
	return ""
}

// changedTest sets _strata_changed: always on INSERT; on UPDATE only when a
// column the writing version can see changed, so that an unrelated update
// does not recompute (and possibly degrade) values the other version wrote.
func changedTest(t *vTable, indent string) string {
	if t == nil || len(t.Columns) == 0 {
		return indent + "_strata_changed := true;\n"
	}
	var newCols, oldCols []string
	for _, c := range t.Columns {
		newCols = append(newCols, "NEW."+ident(c.Phys))
		oldCols = append(oldCols, "OLD."+ident(c.Phys))
	}
	return indent + "IF TG_OP = 'INSERT' THEN\n" +
		indent + "  _strata_changed := true;\n" +
		indent + "ELSE\n" +
		indent + "  _strata_changed := ROW(" + strings.Join(newCols, ", ") + ") IS DISTINCT FROM ROW(" + strings.Join(oldCols, ", ") + ");\n" +
		indent + "END IF;\n"
}

// fragmentBlock renders one assignment in a block that declares the columns
// the expression may use under the names its version gives them.
func fragmentBlock(f fragment, indent string) string {
	var decls []string
	lower := strings.ToLower(f.Expr)
	for _, c := range f.View.Columns {
		if !strings.Contains(lower, strings.ToLower(c.Name)) {
			continue
		}
		decls = append(decls, fmt.Sprintf("%s  %s %s.%s%%TYPE := NEW.%s;\n", indent, ident(c.Name),
			qual(f.Schema, f.Phys), ident(c.Phys), ident(c.Phys)))
	}
	var b strings.Builder
	if len(decls) > 0 {
		b.WriteString(indent + "DECLARE\n")
		for _, d := range decls {
			b.WriteString(d)
		}
	}
	b.WriteString(indent + "BEGIN\n")
	b.WriteString(indent + "  NEW." + ident(f.Target) + " := (" + f.Expr + ");\n")
	b.WriteString(indent + "END;\n")
	return b.String()
}
