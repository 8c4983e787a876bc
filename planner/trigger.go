package planner

import (
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// syncFunc names the sync trigger function of a physical table; it lives in
// the state schema so the managed schema holds nothing of strata's. See
// ownedName for why the name carries a hash.
func (p *planner) syncFunc(phys string) string {
	return qual(p.state, p.ownedName("sync_", phys))
}

// NewVersionTest is the SQL condition, true when the session writing is the
// new app version: the first schema of its effective search_path is the new
// version schema. current_schema() is the first element of
// current_schemas(false): it resolves quoting, "$user" and schemas that do
// not exist, so `SET search_path = v, public`, `SET search_path TO "v"` and
// the startup option `options=-c search_path=v` all count.
func newVersionTest(version string) string {
	return "current_schema() IS NOT DISTINCT FROM " + literal(version)
}

// backfillBypass is the WHEN clause that keeps the sync trigger out of a
// direct backfill's way (the batch UPDATE computes the new columns itself).
// PostgreSQL reads a trigger's WHEN clause back from its stored form and
// compiles it once per statement, which costs a single-row write about as
// much as the trigger itself; so the clause is only there while a backfill
// may run (see triggerSQL).
const backfillBypass = " WHEN (current_setting('strata.backfill', true) IS DISTINCT FROM 'direct')"

// triggerSQL renders the sync trigger of one table: a BEFORE INSERT OR UPDATE
// row trigger that, when the old version wrote, computes the new columns
// from the old (up fragments in order) and, when the new version wrote,
// computes the old columns from the new (down fragments in reverse order).
//
// The function is as cheap as plpgsql allows, since every write of both app
// versions pays for it: plpgsql compiles each expression it evaluates once
// per transaction, so the old version's path evaluates one version test, one
// "did a column it sees change?" test and one assignment per fragment, and
// the fragments read NEW's fields directly (column names rewritten to
// NEW."physical"); a fragment that cannot be rewritten safely (a sub-select
// may name columns of its own tables) runs in a block that declares the
// version's column names instead.
//
// With backfill set, the variant for the backfill: the WHEN clause lets a
// direct backfill's UPDATE bypass the trigger, and an UPDATE made with
// strata.backfill = 'on' (a backfill through the trigger) always recomputes.
// Once the backfills are done, the step finishSQL renders replaces it with
// the variant without either.
func (p *planner) triggerSQL(s *tableSync, backfill bool) []string {
	tq := qual(p.schema, s.Phys)
	var b strings.Builder
	oldT := p.old.table(physName(p.old, s.Phys))
	newT := p.cur.table(physName(p.cur, s.Phys))
	b.WriteString("BEGIN\n")
	b.WriteString("  IF " + newVersionTest(p.version) + " THEN\n")
	if len(s.Down) > 0 {
		b.WriteString("    IF " + changedTest(newT) + " THEN\n")
		for i := len(s.Down) - 1; i >= 0; i-- {
			b.WriteString(assignment(s.Down[i], "      "))
		}
		b.WriteString("    END IF;\n")
	} else {
		b.WriteString("    NULL;\n")
	}
	if len(s.Up) > 0 {
		cond := changedTest(oldT)
		if backfill {
			cond = "current_setting('strata.backfill', true) = 'on' OR " + cond
		}
		b.WriteString("  ELSIF " + cond + " THEN\n")
		for _, f := range s.Up {
			b.WriteString(assignment(f, "    "))
		}
	}
	b.WriteString("  END IF;\n  RETURN NEW;\nEND")
	body := b.String()
	fn := p.syncFunc(s.Phys)
	trigger := " _strata_sync BEFORE INSERT OR UPDATE ON " + tq + " FOR EACH ROW"
	if backfill {
		trigger += backfillBypass
	}
	trigger += " EXECUTE FUNCTION " + fn + "()"
	out := []string{"CREATE OR REPLACE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS " + dollarQuote(body)}
	if p.cat.PGMajor >= 14 {
		// Takes SHARE ROW EXCLUSIVE, where DROP TRIGGER would take ACCESS EXCLUSIVE.
		return append(out, "CREATE OR REPLACE TRIGGER"+trigger)
	}
	return append(out, "DROP TRIGGER IF EXISTS _strata_sync ON "+tq, "CREATE TRIGGER"+trigger)
}

func physName(s *vSchema, phys string) string {
	for _, t := range s.Tables {
		if t.Phys == phys {
			return t.Name
		}
	}
	return ""
}

// changedTest is the condition under which the writing version's values are
// carried to the other version: always on INSERT; on UPDATE only when a
// column the writing version can see changed, so that an unrelated update
// does not recompute (and possibly degrade) values the other version wrote.
//
// "Changed" means stored differently: recomputing is the safe side. Columns
// of types whose equality is identity (integers, text compared byte-wise,
// uuid, timestamps...) are compared with IS DISTINCT FROM, the cheapest
// test; the others by their binary image with *<>, which needs no equality
// operator (json, point and xml have none) and does not take equal for
// unchanged (numeric 1.0 and 1.00, two boxes of the same area, jsonb
// numbers, case-insensitive text).
func changedTest(t *vTable) string {
	if t == nil || len(t.Columns) == 0 {
		return "true"
	}
	terms := []string{"TG_OP = 'INSERT'"}
	var newImg, oldImg []string
	for _, c := range t.Columns {
		n, o := "NEW."+ident(c.Phys), "OLD."+ident(c.Phys)
		switch identityEq(c.Type) {
		case eqPlain:
			terms = append(terms, n+" IS DISTINCT FROM "+o)
		case eqBytewise:
			terms = append(terms, n+` COLLATE "C" IS DISTINCT FROM `+o)
		default:
			newImg = append(newImg, n)
			oldImg = append(oldImg, o)
		}
	}
	if len(newImg) > 0 {
		terms = append(terms, "ROW("+strings.Join(newImg, ", ")+")::record *<> ROW("+strings.Join(oldImg, ", ")+")::record")
	}
	return strings.Join(terms, " OR ")
}

type eqKind int

const (
	eqImage    eqKind = iota // compare binary images
	eqPlain                  // = is identity
	eqBytewise               // = is identity under COLLATE "C"
)

// identityEq says how a column of the type (as format_type spells it) is
// compared for change.
func identityEq(typ string) eqKind {
	switch {
	case typ == "text", typ == "character varying", strings.HasPrefix(typ, "character varying("):
		return eqBytewise
	}
	switch typ {
	case "smallint", "integer", "bigint", "boolean", "uuid", "date", "bytea", "oid", "\"char\"",
		"timestamp without time zone", "timestamp with time zone":
		return eqPlain
	}
	return eqImage
}

// assignment renders one fragment's assignment to NEW.
func assignment(f fragment, indent string) string {
	if expr, ok := rowExpr(f); ok {
		return indent + "NEW." + ident(f.Target) + " := (" + expr + ");\n"
	}
	return fragmentBlock(f, indent)
}

// rowExpr rewrites a fragment's expression to read the row being written:
// each unqualified column name of the fragment's version becomes
// NEW."physical name". It declines (false) when it cannot be sure what a
// name means: an expression with a sub-select, a qualified or star column
// reference, or a name that is not a column of the version.
func rowExpr(f fragment) (string, bool) {
	tree, err := pgquery.ParseExpr(f.Expr)
	if err != nil {
		return "", false
	}
	ok := true
	pgquery.Walk(tree, func(n *pgquery.Node) bool {
		if !ok {
			return false
		}
		if n.GetSubLink() != nil {
			ok = false
			return false
		}
		cr := n.GetColumnRef()
		if cr == nil {
			return true
		}
		if len(cr.Fields) != 1 || cr.Fields[0].GetString_() == nil {
			ok = false
			return false
		}
		c := f.View.col(cr.Fields[0].GetString_().Sval)
		if c == nil {
			ok = false
			return false
		}
		cr.Fields = []*pgquery.Node{pgquery.StrNode("new"), pgquery.StrNode(c.Phys)}
		return false
	})
	if !ok {
		return "", false
	}
	out, err := pgquery.DeparseExpr(tree)
	if err != nil {
		return "", false
	}
	return out, true
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
