package convert

// Generated names, and the inverses of statements kept as custom SQL.

import (
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// pgName is the name PostgreSQL gives a constraint or index that the SQL
// leaves unnamed: table_col1_col2_label, the longer of the two parts cut
// until it fits 63 bytes. given, when set, is the name the SQL gave.
func pgName(table string, cols []string, label, given string) string {
	if given != "" {
		return given
	}
	n1, n2 := table, strings.Join(cols, "_")
	avail := 63 - len(label) - 1
	if n2 != "" {
		avail--
	}
	for len(n1)+len(n2) > avail {
		if len(n1) > len(n2) {
			n1 = cutUTF8(n1, len(n1)-1)
		} else {
			n2 = cutUTF8(n2, len(n2)-1)
		}
	}
	if n2 == "" {
		return n1 + "_" + label
	}
	return n1 + "_" + n2 + "_" + label
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// checkName is the check constraint's name: given, or PostgreSQL's
// table_column_check when the expression uses one column, else table_check.
func checkName(table string, con *pgquery.Constraint) string {
	if con.Conname != "" {
		return con.Conname
	}
	seen := map[string]bool{}
	var cols []string
	pgquery.Walk(con.RawExpr, func(n *pgquery.Node) bool {
		if name, ok := pgquery.ColumnRefName(n); ok && !seen[name] {
			seen[name] = true
			cols = append(cols, name)
		}
		return true
	})
	if len(cols) == 1 {
		return pgName(table, cols, "check", "")
	}
	return pgName(table, nil, "check", "")
}

// setBefore sets key in t, placing it just before the key before (when new).
func setBefore(t *Table, key string, v any, before string) {
	if _, ok := t.Get(key); ok {
		t.Set(key, v)
		return
	}
	keys := t.Keys()
	vals := map[string]any{}
	for _, k := range keys {
		vals[k], _ = t.Get(k)
		t.Del(k)
	}
	for _, k := range keys {
		if k == before {
			t.Set(key, v)
		}
		t.Set(k, vals[k])
	}
	if _, ok := t.Get(key); !ok {
		t.Set(key, v)
	}
}

// reorder moves key to the front of t.
func reorder(t *Table, key string) {
	v, ok := t.Get(key)
	if !ok {
		return
	}
	rest := t.Keys()
	vals := map[string]any{}
	for _, k := range rest {
		vals[k], _ = t.Get(k)
		t.Del(k)
	}
	t.Set(key, v)
	for _, k := range rest {
		if k != key {
			t.Set(k, vals[k])
		}
	}
}

// inverse returns SQL undoing n when it is obvious, and whether strata's
// abort undoes it without help (tables and types created by custom SQL are
// the phase's own).
func (c *sqlConv) inverse(n *pgquery.Node) (string, bool) {
	switch {
	case n.GetCreateStmt() != nil:
		if _, ok := managed(n.GetCreateStmt().Relation); ok && n.GetCreateStmt().Relation.Relpersistence == "p" {
			return "", true
		}
		return "DROP TABLE IF EXISTS " + qualRel(n.GetCreateStmt().Relation), false
	case n.GetCreateEnumStmt() != nil:
		if _, ok := managedNames(n.GetCreateEnumStmt().TypeName); ok {
			return "", true
		}
		return "DROP TYPE IF EXISTS " + qualNames(n.GetCreateEnumStmt().TypeName), false
	case n.GetCompositeTypeStmt() != nil:
		if _, ok := managed(n.GetCompositeTypeStmt().Typevar); ok {
			return "", true
		}
		return "DROP TYPE IF EXISTS " + qualRel(n.GetCompositeTypeStmt().Typevar), false
	case n.GetViewStmt() != nil:
		return "DROP VIEW IF EXISTS " + qualRel(n.GetViewStmt().View), false
	case n.GetCreateTableAsStmt() != nil:
		cta := n.GetCreateTableAsStmt()
		if cta.Objtype == pgquery.ObjectType_OBJECT_MATVIEW {
			return "DROP MATERIALIZED VIEW IF EXISTS " + qualRel(cta.Into.Rel), false
		}
		return "DROP TABLE IF EXISTS " + qualRel(cta.Into.Rel), false
	case n.GetCreateSeqStmt() != nil:
		return "DROP SEQUENCE IF EXISTS " + qualRel(n.GetCreateSeqStmt().Sequence), false
	case n.GetCreateDomainStmt() != nil:
		return "DROP DOMAIN IF EXISTS " + qualNames(n.GetCreateDomainStmt().Domainname), false
	case n.GetCreateExtensionStmt() != nil:
		return "DROP EXTENSION IF EXISTS " + pgquery.Ident(n.GetCreateExtensionStmt().Extname), false
	case n.GetCreateSchemaStmt() != nil:
		if len(n.GetCreateSchemaStmt().SchemaElts) == 0 {
			return "DROP SCHEMA IF EXISTS " + pgquery.Ident(n.GetCreateSchemaStmt().Schemaname), false
		}
	case n.GetCreateTrigStmt() != nil:
		tg := n.GetCreateTrigStmt()
		return "DROP TRIGGER IF EXISTS " + pgquery.Ident(tg.Trigname) + " ON " + qualRel(tg.Relation), false
	case n.GetCreateFunctionStmt() != nil:
		fs := n.GetCreateFunctionStmt()
		if fs.Replace {
			return "", false // the function it replaces is gone
		}
		var args []string
		for _, p := range fs.Parameters {
			fp := p.GetFunctionParameter()
			if fp == nil || fp.Mode == pgquery.FunctionParameterMode_FUNC_PARAM_OUT || fp.Mode == pgquery.FunctionParameterMode_FUNC_PARAM_TABLE {
				continue
			}
			t, err := pgquery.DeparseType(fp.ArgType)
			if err != nil {
				return "", false
			}
			args = append(args, t)
		}
		kw := "FUNCTION"
		if fs.IsProcedure {
			kw = "PROCEDURE"
		}
		return "DROP " + kw + " IF EXISTS " + qualNames(fs.Funcname) + "(" + strings.Join(args, ", ") + ")", false
	case n.GetGrantStmt() != nil:
		g := pgquery.Clone(n).GetGrantStmt()
		if !g.IsGrant || g.GrantOption {
			return "", false
		}
		g.IsGrant = false
		out, err := pgquery.Deparse(&pgquery.Node{Node: &pgquery.Node_GrantStmt{GrantStmt: g}})
		if err != nil {
			return "", false
		}
		return out, false
	case n.GetAlterTableStmt() != nil:
		at := n.GetAlterTableStmt()
		if len(at.Cmds) != 1 || at.Objtype != pgquery.ObjectType_OBJECT_TABLE {
			return "", false
		}
		cmd := at.Cmds[0].GetAlterTableCmd()
		if cmd.Subtype == pgquery.AlterTableType_AT_AddColumn && !cmd.MissingOk {
			return "ALTER TABLE " + qualRel(at.Relation) + " DROP COLUMN IF EXISTS " + pgquery.Ident(cmd.Def.GetColumnDef().Colname), false
		}
		if cmd.Subtype == pgquery.AlterTableType_AT_AddConstraint {
			con := cmd.Def.GetConstraint()
			name := ""
			switch con.Contype {
			case pgquery.ConstrType_CONSTR_PRIMARY:
				name = pgName(at.Relation.Relname, nil, "pkey", con.Conname)
			case pgquery.ConstrType_CONSTR_CHECK:
				name = checkName(at.Relation.Relname, con)
			case pgquery.ConstrType_CONSTR_FOREIGN:
				name = pgName(at.Relation.Relname, pgquery.Strs(con.FkAttrs), "fkey", con.Conname)
			case pgquery.ConstrType_CONSTR_UNIQUE:
				name = pgName(at.Relation.Relname, pgquery.Strs(con.Keys), "key", con.Conname)
			case pgquery.ConstrType_CONSTR_EXCLUSION:
				name = con.Conname
			}
			if name != "" {
				return "ALTER TABLE " + qualRel(at.Relation) + " DROP CONSTRAINT IF EXISTS " + pgquery.Ident(name), false
			}
		}
	case n.GetIndexStmt() != nil:
		ix := n.GetIndexStmt()
		if ix.Idxname != "" {
			rv := &pgquery.RangeVar{Schemaname: ix.Relation.Schemaname, Relname: ix.Idxname}
			return "DROP INDEX IF EXISTS " + qualRel(rv), false
		}
	case n.GetRenameStmt() != nil:
		rs := n.GetRenameStmt()
		if rs.RenameType == pgquery.ObjectType_OBJECT_INDEX || rs.RenameType == pgquery.ObjectType_OBJECT_VIEW || rs.RenameType == pgquery.ObjectType_OBJECT_SEQUENCE {
			rv := &pgquery.RangeVar{Schemaname: rs.Relation.Schemaname, Relname: rs.Newname}
			return "ALTER " + strings.ToUpper(objectWord(rs.RenameType)) + " IF EXISTS " + qualRel(rv) + " RENAME TO " + pgquery.Ident(rs.Relation.Relname), false
		}
		if rs.RenameType == pgquery.ObjectType_OBJECT_TABCONSTRAINT {
			return "ALTER TABLE " + qualRel(rs.Relation) + " RENAME CONSTRAINT " + pgquery.Ident(rs.Newname) + " TO " + pgquery.Ident(rs.Subname), false
		}
	}
	return "", false
}

// suppressDropFinding prefixes an inverse that drops what the custom
// action's start created with a strata:ignore comment for the linter's
// dropping rules (SA018 dropping a column, SA019 dropping a table or view),
// which are about objects the running application uses: no version uses
// what abort drops here.
func suppressDropFinding(abort string) string {
	code := ""
	switch {
	case strings.HasPrefix(abort, "DROP VIEW "), strings.HasPrefix(abort, "DROP TABLE "), strings.HasPrefix(abort, "DROP MATERIALIZED VIEW "):
		code = "SA019"
	case strings.HasPrefix(abort, "ALTER TABLE ") && strings.Contains(abort, " DROP COLUMN "):
		code = "SA018"
	default:
		return abort
	}
	return "-- strata:ignore " + code + " abort drops what this action's start created\n" + abort
}

func qualRel(rv *pgquery.RangeVar) string {
	if rv.Schemaname != "" {
		return pgquery.Qual(rv.Schemaname, rv.Relname)
	}
	return pgquery.Ident(rv.Relname)
}

func qualNames(parts []*pgquery.Node) string {
	return pgquery.IdentList(pgquery.Strs(parts))
}

// statementKey is a short name of a statement's kind for warnings, e.g.
// "CREATE VIEW" or "ALTER TABLE users".
func statementKey(n *pgquery.Node) string {
	switch {
	case n.GetCreateStmt() != nil:
		return "CREATE TABLE " + pgquery.RelName(n.GetCreateStmt().Relation)
	case n.GetAlterTableStmt() != nil:
		at := n.GetAlterTableStmt()
		return "ALTER " + strings.ToUpper(objectWord(at.Objtype)) + " " + pgquery.RelName(at.Relation)
	case n.GetIndexStmt() != nil:
		ix := n.GetIndexStmt()
		name := ix.Idxname
		if name == "" {
			name = "ON " + pgquery.RelName(ix.Relation)
		}
		return "CREATE INDEX " + name
	case n.GetDropStmt() != nil:
		return "DROP " + strings.ToUpper(objectWord(n.GetDropStmt().RemoveType))
	case n.GetRenameStmt() != nil:
		rs := n.GetRenameStmt()
		if rs.Relation != nil {
			return "ALTER " + strings.ToUpper(objectWord(rs.RelationType)) + " " + pgquery.RelName(rs.Relation) + " RENAME"
		}
		return "ALTER " + strings.ToUpper(objectWord(rs.RenameType)) + " RENAME"
	case n.GetCommentStmt() != nil:
		return "COMMENT ON " + strings.ToUpper(objectWord(n.GetCommentStmt().Objtype))
	case n.GetCreateEnumStmt() != nil:
		return "CREATE TYPE " + pgquery.Qualified(n.GetCreateEnumStmt().TypeName)
	case n.GetAlterEnumStmt() != nil:
		return "ALTER TYPE " + pgquery.Qualified(n.GetAlterEnumStmt().TypeName)
	case n.GetViewStmt() != nil:
		return "CREATE VIEW " + pgquery.RelName(n.GetViewStmt().View)
	case n.GetCreateFunctionStmt() != nil:
		return "CREATE FUNCTION " + pgquery.Qualified(n.GetCreateFunctionStmt().Funcname)
	case n.GetTransactionStmt() != nil:
		return "transaction control"
	case n.GetVariableSetStmt() != nil:
		return "SET " + n.GetVariableSetStmt().Name
	}
	// The node's type, e.g. "CreateExtensionStmt" -> "CREATE EXTENSION".
	name := strings.TrimPrefix(fmt.Sprintf("%T", n.Node), "*pg_query.Node_")
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
