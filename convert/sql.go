package convert

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/pgquery"
)

// fromSQL converts hand-written DDL: each input .sql file becomes one
// strata migration whose actions are its statements, in order. A statement
// with an expand/contract form becomes that action; anything else (and a
// statement whose options strata has no form for) becomes a custom action
// running the statement as written, with a warning. The mapping is
// documented in docs/migrations.md ("SQL files").
func fromSQL(inputs []Input) (*Result, error) {
	res := &Result{}
	var errs []error
	for _, in := range inputs {
		if strings.HasSuffix(strings.ToLower(in.Name), ".down.sql") {
			res.Warnings = append(res.Warnings, Warning{File: in.Name, Msg: "skipped: a down migration (strata's abort undoes start without it)"})
			continue
		}
		f, warns, err := convertSQLFile(in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Files = append(res.Files, f)
		res.Warnings = append(res.Warnings, warns...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(res.Files) == 0 {
		return nil, fmt.Errorf("%w: no file to convert (only down migrations)", ErrNotConvertible)
	}
	return res, nil
}

// sqlOutputName is the strata file name for a .sql file: OutputName without
// an ".up" suffix (golang-migrate's NAME.up.sql), lower-cased, with every
// character a migration name may not hold replaced by "_" (Flyway's
// V1__Init.sql becomes v1__init.toml).
func sqlOutputName(input string) string {
	name := strings.TrimSuffix(OutputName(input), ".toml")
	name = strings.TrimSuffix(name, ".up")
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, name)
	return name + ".toml"
}

// gooseUp returns the Up section of a goose migration (the text between
// "-- +goose Up" and "-- +goose Down"), and whether the file is one.
func gooseUp(src string) (string, bool) {
	up := strings.Index(src, "-- +goose Up")
	if up < 0 {
		return src, false
	}
	// Keep the lines before the section as blank lines, so that line
	// numbers stay those of the file.
	head := strings.Repeat("\n", strings.Count(src[:up], "\n"))
	body := src[up:]
	if down := strings.Index(body, "-- +goose Down"); down >= 0 {
		body = body[:down]
	}
	return head + body, true
}

// managedSchema is the schema a qualified name may name and still be mapped
// to an action: strata's actions name tables of the managed schema
// unqualified. The converter does not know --schema, so it assumes the
// default, public; any other qualifier keeps the statement as custom SQL.
const managedSchema = "public"

// sqlAct is one action being built, with what the merging of consecutive
// alter_column actions needs to know.
type sqlAct struct {
	t    *Table
	line int
	// alter_column only: the table and column (current name), the changes,
	// and up/down. An empty up/down with trivialUp/trivialDown set means
	// "the column itself" (rendered when the file is written, so merging
	// can rename it).
	alter *alterAct
	// alter_enum only: the enum, for merging consecutive ADD VALUEs.
	enum string
}

type alterAct struct {
	table, column string
	changes       *Table
	up, down      string
	trivialUp     bool
	trivialDown   bool
}

// sqlConv converts one file.
type sqlConv struct {
	file  string
	src   *pgquery.File
	acts  []*sqlAct
	warns []Warning

	// What the file itself tells about the objects it creates.
	tables      map[string]*sqlTable // by (current) name
	constraints map[string]map[string]string
	enums       map[string]bool
	names       map[string]bool // relation and constraint names taken in the file
	notValid    map[string]bool // "table\x00constraint" added NOT VALID by this file
}

// sqlTable is a table the file creates (as far as the file tells).
type sqlTable struct {
	act     *Table // the create_table action, nil when created by custom SQL
	columns map[string]*sqlColumn
	pk      []string
}

type sqlColumn struct {
	notNull    bool
	hasDefault bool
	col        *Table // its entry in create_table.columns
}

// Constraint kinds remembered for DROP CONSTRAINT.
const (
	kindCheck  = "check"
	kindFK     = "foreign key"
	kindUnique = "unique index"
	kindPK     = "primary key"
	kindOther  = "other"
)

// notMapped is why a statement is kept as custom SQL.
type notMapped struct{ reason string }

func (e *notMapped) Error() string { return e.reason }

func unmapped(format string, args ...any) error {
	return &notMapped{reason: fmt.Sprintf(format, args...)}
}

func convertSQLFile(in Input) (File, []Warning, error) {
	text, goose := gooseUp(string(in.Data))
	src, err := pgquery.Parse(text)
	if err != nil {
		var se *pgquery.SyntaxError
		if errors.As(err, &se) {
			return File{}, nil, fmt.Errorf("%w %s:%d:%d: %s\nhint: the file must be SQL that PostgreSQL parses", ErrNotConvertible, in.Name, se.Pos.Line, se.Pos.Column, se.Message)
		}
		return File{}, nil, fmt.Errorf("%w %s: %v", ErrNotConvertible, in.Name, err)
	}
	c := &sqlConv{
		file: in.Name, src: src,
		tables:      map[string]*sqlTable{},
		constraints: map[string]map[string]string{},
		enums:       map[string]bool{},
		names:       map[string]bool{},
		notValid:    map[string]bool{},
	}
	for _, st := range src.Statements {
		c.statement(st)
	}
	if len(c.acts) == 0 {
		return File{}, c.warns, fmt.Errorf("%w %s: no statement to convert\nhint: the file holds no DDL (only comments, transaction control or SET)", ErrNotConvertible, in.Name)
	}
	c.mergeAlters()
	doc := &Doc{Comments: []string{"converted from " + in.Name + " by strata convert --from sql"}}
	if goose {
		doc.Comments[0] += " (its goose Up section)"
	}
	for _, w := range c.warns {
		doc.Comments = append(doc.Comments, fmt.Sprintf("warning: line %d: %s", w.Line, w.Msg))
	}
	for _, a := range c.acts {
		doc.Actions = append(doc.Actions, a.render())
	}
	return File{Name: sqlOutputName(in.Name), Data: doc.Bytes()}, c.warns, nil
}

func (c *sqlConv) warn(st *pgquery.Statement, key, format string, args ...any) {
	c.warns = append(c.warns, Warning{File: c.file, Line: st.Pos.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// stmtResult is what mapping one statement gives: its actions, its warnings
// and the bookkeeping to apply once the statement is known to be mapped.
type stmtResult struct {
	acts   []*sqlAct
	warns  []string
	commit []func()
}

func (r *stmtResult) add(t *Table) *sqlAct {
	a := &sqlAct{t: t}
	r.acts = append(r.acts, a)
	return a
}

func (r *stmtResult) warn(format string, args ...any) {
	r.warns = append(r.warns, fmt.Sprintf(format, args...))
}

func (r *stmtResult) then(f func()) { r.commit = append(r.commit, f) }

// statement converts one statement, falling back to custom SQL.
func (c *sqlConv) statement(st *pgquery.Statement) {
	key := statementKey(st.Node)
	switch {
	case st.Node.GetTransactionStmt() != nil:
		c.warn(st, key, "dropped: strata runs each step in a transaction of its own")
		return
	case st.Node.GetVariableSetStmt() != nil && isTimeoutSetting(st.Node.GetVariableSetStmt().Name):
		c.warn(st, key, "dropped: strata sets lock_timeout (and retries) for every step itself")
		return
	}
	r := &stmtResult{}
	err := c.mapStatement(st, r)
	var nm *notMapped
	switch {
	case err == nil:
		for _, f := range r.commit {
			f()
		}
		for _, a := range r.acts {
			a.line = st.Pos.Line
			c.acts = append(c.acts, a)
		}
		for _, w := range r.warns {
			c.warn(st, key, "%s", w)
		}
	case errors.As(err, &nm):
		c.custom(st, key, nm.reason)
	default:
		c.custom(st, key, err.Error())
	}
}

func isTimeoutSetting(name string) bool {
	switch strings.ToLower(name) {
	case "lock_timeout", "statement_timeout":
		return true
	}
	return false
}

// custom keeps the statement as a custom action, with its inverse as abort
// SQL when the inverse is obvious.
func (c *sqlConv) custom(st *pgquery.Statement, key, reason string) {
	t := NewTable().Set("type", "custom").Set("start", st.Text)
	abort, engineUndoes := c.inverse(st.Node)
	if abort != "" {
		t.Set("abort", suppressDropFinding(abort))
	}
	msg := "kept as custom SQL"
	if reason != "" {
		msg = reason + "; " + msg
	}
	if ix := st.Node.GetIndexStmt(); ix != nil && ix.Concurrent || st.Node.GetDropStmt() != nil && st.Node.GetDropStmt().Concurrent {
		msg += "; strata runs custom SQL in a transaction, where CONCURRENTLY fails: remove it (the table is then locked while the statement runs)"
	}
	switch {
	case engineUndoes:
		msg += " (abort drops what it creates)"
	case abort != "":
		msg += "; abort runs the inverse " + strings.TrimSuffix(abort, ";") + ": check it"
	default:
		msg += "; abort cannot undo it: write the inverse as the action's abort SQL"
	}
	c.warn(st, key, "%s", msg)
	c.acts = append(c.acts, &sqlAct{t: t, line: st.Pos.Line})
	c.noteCustom(st.Node)
}

// noteCustom records what a statement kept as custom SQL creates, so later
// statements can refer to it.
func (c *sqlConv) noteCustom(n *pgquery.Node) {
	switch {
	case n.GetCreateStmt() != nil:
		cs := n.GetCreateStmt()
		if name, ok := managed(cs.Relation); ok {
			tab := &sqlTable{columns: map[string]*sqlColumn{}}
			for _, e := range cs.TableElts {
				if cd := e.GetColumnDef(); cd != nil {
					tab.columns[cd.Colname] = &sqlColumn{}
				}
			}
			c.tables[name] = tab
			c.names[name] = true
		}
	case n.GetCreateEnumStmt() != nil:
		if name, ok := managedNames(n.GetCreateEnumStmt().TypeName); ok {
			c.enums[name] = true
		}
	}
}

// mapStatement maps one statement into r, or says why it cannot.
func (c *sqlConv) mapStatement(st *pgquery.Statement, r *stmtResult) error {
	n := st.Node
	switch {
	case n.GetCreateStmt() != nil:
		return c.createTable(n.GetCreateStmt(), r)
	case n.GetAlterTableStmt() != nil:
		return c.alterTable(st, n.GetAlterTableStmt(), r)
	case n.GetRenameStmt() != nil:
		return c.rename(n.GetRenameStmt(), r)
	case n.GetIndexStmt() != nil:
		return c.createIndex(n.GetIndexStmt(), r)
	case n.GetDropStmt() != nil:
		return c.drop(n.GetDropStmt(), r)
	case n.GetCreateEnumStmt() != nil:
		return c.createEnum(n.GetCreateEnumStmt(), r)
	case n.GetAlterEnumStmt() != nil:
		return c.alterEnum(n.GetAlterEnumStmt(), r)
	case n.GetCommentStmt() != nil:
		return c.comment(n.GetCommentStmt(), r)
	}
	return unmapped("no strata action for %s", statementKey(n))
}

// managed returns the name of a relation of the managed schema.
func managed(rv *pgquery.RangeVar) (string, bool) {
	if rv == nil || rv.Catalogname != "" || rv.Schemaname != "" && rv.Schemaname != managedSchema {
		return "", false
	}
	return rv.Relname, true
}

// managedNames returns the name of an object named by a list of name parts
// (["mood"] or ["public", "mood"]) when it is in the managed schema.
func managedNames(parts []*pgquery.Node) (string, bool) {
	names := pgquery.Strs(parts)
	switch {
	case len(names) == 1:
		return names[0], true
	case len(names) == 2 && names[0] == managedSchema:
		return names[1], true
	}
	return "", false
}

func notManagedErr(name string) error {
	return unmapped("%s is not in the managed schema (%s): strata's actions change the managed schema only", name, managedSchema)
}

// ---- CREATE TABLE ----

func (c *sqlConv) createTable(cs *pgquery.CreateStmt, r *stmtResult) error {
	name, ok := managed(cs.Relation)
	if !ok {
		return notManagedErr(pgquery.RelName(cs.Relation))
	}
	switch {
	case cs.Relation.Relpersistence == "t":
		return unmapped("a temporary table is not part of a schema migration")
	case cs.Relation.Relpersistence == "u":
		return unmapped("create_table has no form for UNLOGGED")
	case len(cs.InhRelations) > 0:
		return unmapped("create_table has no form for INHERITS or PARTITION OF")
	case cs.Partspec != nil || cs.Partbound != nil:
		return unmapped("create_table has no form for partitioned tables")
	case cs.OfTypename != nil:
		return unmapped("create_table has no form for OF type")
	case len(cs.Options) > 0:
		return unmapped("create_table has no form for storage parameters (WITH ...)")
	case cs.Tablespacename != "":
		return unmapped("create_table has no form for TABLESPACE")
	case cs.AccessMethod != "":
		return unmapped("create_table has no form for USING (table access method)")
	case cs.Oncommit != pgquery.OnCommitAction_ONCOMMIT_NOOP && cs.Oncommit != pgquery.OnCommitAction_ON_COMMIT_ACTION_UNDEFINED:
		return unmapped("create_table has no form for ON COMMIT")
	}
	if cs.IfNotExists {
		r.warn("IF NOT EXISTS dropped: start refuses a table that exists")
	}
	tab := &sqlTable{columns: map[string]*sqlColumn{}}
	var cols []*Table
	var pk []string
	pkName := ""
	var fks, checks, uniques, excludes []*Table
	kinds := map[string]string{}
	for _, e := range cs.TableElts {
		switch {
		case e.GetColumnDef() != nil:
			cd := e.GetColumnDef()
			col, info, err := c.column(cd)
			if err != nil {
				return err
			}
			cols = append(cols, col)
			tab.columns[cd.Colname] = info
			for _, cn := range cd.Constraints {
				con := cn.GetConstraint()
				switch con.Contype {
				case pgquery.ConstrType_CONSTR_PRIMARY:
					if pk != nil {
						return unmapped("two primary keys")
					}
					if err := constraintOpts(con, NewTable(), "pk"); err != nil {
						return err
					}
					pk, pkName = []string{cd.Colname}, con.Conname
				case pgquery.ConstrType_CONSTR_UNIQUE:
					u, err := c.uniqueEntry(con, []string{cd.Colname})
					if err != nil {
						return err
					}
					uniques = append(uniques, u)
					kinds[pgName(name, []string{cd.Colname}, "key", con.Conname)] = kindUnique
				case pgquery.ConstrType_CONSTR_FOREIGN:
					fk, err := c.foreignKey(con, []string{cd.Colname}, name, cs.TableElts)
					if err != nil {
						return err
					}
					fks = append(fks, fk)
					kinds[pgName(name, []string{cd.Colname}, "fkey", con.Conname)] = kindFK
				case pgquery.ConstrType_CONSTR_CHECK:
					ch, err := c.checkEntry(con)
					if err != nil {
						return err
					}
					checks = append(checks, ch)
					kinds[checkName(name, con)] = kindCheck
				}
			}
		case e.GetConstraint() != nil:
			con := e.GetConstraint()
			switch con.Contype {
			case pgquery.ConstrType_CONSTR_PRIMARY:
				if pk != nil {
					return unmapped("two primary keys")
				}
				if err := constraintOpts(con, NewTable(), "pk"); err != nil {
					return err
				}
				pk, pkName = pgquery.Strs(con.Keys), con.Conname
			case pgquery.ConstrType_CONSTR_UNIQUE:
				keys := pgquery.Strs(con.Keys)
				u, err := c.uniqueEntry(con, keys)
				if err != nil {
					return err
				}
				uniques = append(uniques, u)
				kinds[pgName(name, keys, "key", con.Conname)] = kindUnique
			case pgquery.ConstrType_CONSTR_FOREIGN:
				fkCols := pgquery.Strs(con.FkAttrs)
				fk, err := c.foreignKey(con, fkCols, name, cs.TableElts)
				if err != nil {
					return err
				}
				fks = append(fks, fk)
				kinds[pgName(name, fkCols, "fkey", con.Conname)] = kindFK
			case pgquery.ConstrType_CONSTR_CHECK:
				ch, err := c.checkEntry(con)
				if err != nil {
					return err
				}
				checks = append(checks, ch)
				kinds[checkName(name, con)] = kindCheck
			case pgquery.ConstrType_CONSTR_EXCLUSION:
				x, err := c.excludeEntry(con)
				if err != nil {
					return err
				}
				excludes = append(excludes, x)
				if con.Conname != "" {
					kinds[con.Conname] = kindOther
				}
			default:
				return unmapped("create_table has no form for %s constraints", constraintWord(con.Contype))
			}
		default:
			return unmapped("create_table has no form for LIKE")
		}
	}
	if len(pk) == 0 {
		return unmapped("no primary key: strata's create_table needs one (to backfill and sync rows)")
	}
	for _, k := range pk {
		info := tab.columns[k]
		if info == nil {
			return unmapped("primary key column %s is not a column of the table", k)
		}
		info.notNull = true
		info.col.Set("nullable", false)
	}
	kinds[pgName(name, nil, "pkey", pkName)] = kindPK
	t := NewTable().Set("type", "create_table").Set("name", name).Set("columns", cols).Set("primary_key", pk)
	if pkName != "" && pkName != pgName(name, nil, "pkey", "") {
		t.Set("primary_key_name", pkName)
	}
	if len(fks) > 0 {
		t.Set("foreign_keys", fks)
	}
	if len(checks) > 0 {
		t.Set("checks", checks)
	}
	if len(uniques) > 0 {
		t.Set("unique", uniques)
	}
	if len(excludes) > 0 {
		t.Set("exclude", excludes)
	}
	tab.act = t
	tab.pk = pk
	r.add(t)
	r.then(func() {
		c.tables[name] = tab
		c.names[name] = true
		for k, v := range kinds {
			c.setConstraint(name, k, v)
		}
	})
	return nil
}

// column converts a column definition (its key and reference constraints
// are the caller's).
func (c *sqlConv) column(cd *pgquery.ColumnDef) (*Table, *sqlColumn, error) {
	switch {
	case cd.Compression != "":
		return nil, nil, unmapped("no form for COMPRESSION")
	case cd.Storage != "" || cd.StorageName != "":
		return nil, nil, unmapped("no form for STORAGE")
	case len(cd.Fdwoptions) > 0:
		return nil, nil, unmapped("no form for column OPTIONS")
	}
	typ, err := pgquery.DeparseType(cd.TypeName)
	if err != nil {
		return nil, nil, err
	}
	if cd.CollClause != nil {
		typ += " COLLATE " + pgquery.IdentList(pgquery.Strs(cd.CollClause.Collname))
	}
	col := NewTable().Set("name", cd.Colname).Set("type", typ)
	info := &sqlColumn{col: col}
	notNull := cd.IsNotNull
	var def, gen string
	if cd.RawDefault != nil {
		if def, err = pgquery.DeparseExpr(cd.RawDefault); err != nil {
			return nil, nil, err
		}
	}
	for _, cn := range cd.Constraints {
		con := cn.GetConstraint()
		switch con.Contype {
		case pgquery.ConstrType_CONSTR_NOTNULL:
			notNull = true
		case pgquery.ConstrType_CONSTR_NULL:
		case pgquery.ConstrType_CONSTR_DEFAULT:
			if def, err = pgquery.DeparseExpr(con.RawExpr); err != nil {
				return nil, nil, err
			}
		case pgquery.ConstrType_CONSTR_IDENTITY:
			if len(con.Options) > 0 {
				return nil, nil, unmapped("no form for identity sequence options")
			}
			gen = "BY DEFAULT AS IDENTITY"
			if con.GeneratedWhen == "a" {
				gen = "ALWAYS AS IDENTITY"
			}
			notNull = true
		case pgquery.ConstrType_CONSTR_GENERATED:
			e, err := pgquery.DeparseExpr(con.RawExpr)
			if err != nil {
				return nil, nil, err
			}
			gen = "ALWAYS AS (" + e + ") STORED"
		case pgquery.ConstrType_CONSTR_PRIMARY, pgquery.ConstrType_CONSTR_UNIQUE, pgquery.ConstrType_CONSTR_FOREIGN, pgquery.ConstrType_CONSTR_CHECK:
			// the caller's
		default:
			return nil, nil, unmapped("no form for %s", constraintWord(con.Contype))
		}
	}
	if notNull {
		col.Set("nullable", false)
	}
	info.notNull = notNull
	if def != "" {
		col.Set("default", def)
		info.hasDefault = true
	}
	if gen != "" {
		col.Set("generated", gen)
		info.hasDefault = true
	}
	// serial: a NOT NULL column with a default, whatever the SQL says besides
	if names := pgquery.Strs(cd.TypeName.Names); len(names) == 1 && len(cd.TypeName.ArrayBounds) == 0 {
		if _, serial := pgquery.SerialType(strings.ToLower(names[0])); serial {
			info.notNull, info.hasDefault = true, true
		}
	}
	return col, info, nil
}

// constraintOpts sets the options of a constraint's entry that strata has
// keys for (kind: "unique", "fk", "check", "exclude" or "pk", which has
// none) and refuses the others.
func constraintOpts(con *pgquery.Constraint, e *Table, kind string) error {
	has := func(kinds ...string) bool {
		for _, k := range kinds {
			if k == kind {
				return true
			}
		}
		return false
	}
	what := map[string]string{"unique": "a unique constraint", "fk": "a foreign key", "check": "a check", "exclude": "an exclusion constraint", "pk": "this primary key"}[kind]
	switch {
	case con.Indexname != "":
		return unmapped("no form for USING INDEX")
	case con.Indexspace != "":
		return unmapped("no form for USING INDEX TABLESPACE")
	case (con.Deferrable || con.Initdeferred) && !has("unique", "fk", "exclude"):
		return unmapped("no form for DEFERRABLE on %s", what)
	case len(con.Including) > 0 && !has("unique", "exclude"):
		return unmapped("no form for INCLUDE on %s", what)
	case con.NullsNotDistinct && !has("unique"):
		return unmapped("no form for NULLS NOT DISTINCT on %s", what)
	case len(con.Options) > 0 && !has("unique", "exclude"):
		return unmapped("no form for WITH (...) on %s", what)
	case con.IsNoInherit && !has("check"):
		return unmapped("no form for NO INHERIT on %s", what)
	case con.FkMatchtype == "p":
		return unmapped("no form for MATCH PARTIAL")
	}
	if inc := pgquery.Strs(con.Including); len(inc) > 0 {
		e.Set("include", inc)
	}
	if con.NullsNotDistinct {
		e.Set("nulls_not_distinct", true)
	}
	if con.FkMatchtype == "f" {
		e.Set("match", "full")
	}
	if con.Deferrable || con.Initdeferred {
		e.Set("deferrable", true)
	}
	if con.Initdeferred {
		e.Set("initially_deferred", true)
	}
	if con.IsNoInherit {
		e.Set("no_inherit", true)
	}
	params, err := storageParams(con.Options)
	if err != nil {
		return err
	}
	if params != nil {
		e.Set("storage_parameters", params)
	}
	return nil
}

// excludeEntry converts an EXCLUDE constraint of CREATE TABLE.
func (c *sqlConv) excludeEntry(con *pgquery.Constraint) (*Table, error) {
	x := NewTable()
	if con.Conname != "" {
		x.Set("name", con.Conname)
	}
	if m := strings.ToLower(con.AccessMethod); m != "" && m != "btree" {
		x.Set("type", m)
	}
	var elems []*Table
	for _, ex := range con.Exclusions {
		items := pgquery.ListItems(ex)
		if len(items) != 2 || items[0].GetIndexElem() == nil {
			return nil, unmapped("no form for this EXCLUDE element")
		}
		col, err := indexColumn(items[0].GetIndexElem())
		if err != nil {
			return nil, err
		}
		el, ok := col.(*Table)
		if !ok {
			el = NewTable()
			if strings.HasPrefix(col.(string), "(") {
				el.Set("expression", strings.TrimSuffix(strings.TrimPrefix(col.(string), "("), ")"))
			} else {
				el.Set("column", col.(string))
			}
		}
		op := pgquery.Strs(pgquery.ListItems(items[1]))
		switch len(op) {
		case 1:
			el.Set("operator", op[0])
		case 2:
			el.Set("operator", "OPERATOR("+pgquery.Ident(op[0])+"."+op[1]+")")
		default:
			return nil, unmapped("no form for this EXCLUDE operator")
		}
		elems = append(elems, el)
	}
	x.Set("elements", elems)
	if con.WhereClause != nil {
		e, err := pgquery.DeparseExpr(con.WhereClause)
		if err != nil {
			return nil, err
		}
		x.Set("where", e)
	}
	if err := constraintOpts(con, x, "exclude"); err != nil {
		return nil, err
	}
	return x, nil
}

func (c *sqlConv) uniqueEntry(con *pgquery.Constraint, cols []string) (*Table, error) {
	u := NewTable()
	if con.Conname != "" {
		u.Set("name", con.Conname)
	}
	u.Set("columns", cols)
	if err := constraintOpts(con, u, "unique"); err != nil {
		return nil, err
	}
	return u, nil
}

func (c *sqlConv) checkEntry(con *pgquery.Constraint) (*Table, error) {
	if con.SkipValidation {
		return nil, unmapped("no form for NOT VALID in CREATE TABLE")
	}
	e, err := pgquery.DeparseExpr(con.RawExpr)
	if err != nil {
		return nil, err
	}
	ch := NewTable()
	if con.Conname != "" {
		ch.Set("name", con.Conname)
	}
	ch.Set("expression", e)
	if err := constraintOpts(con, ch, "check"); err != nil {
		return nil, err
	}
	return ch, nil
}

// foreignKey converts a FOREIGN KEY / REFERENCES constraint; self and elts
// are the table being created (for a reference to itself), if any.
func (c *sqlConv) foreignKey(con *pgquery.Constraint, cols []string, self string, elts []*pgquery.Node) (*Table, error) {
	if len(con.FkDelSetCols) > 0 {
		return nil, unmapped("no form for ON DELETE SET NULL/SET DEFAULT with a column list")
	}
	ref, ok := managed(con.Pktable)
	if !ok {
		return nil, notManagedErr(pgquery.RelName(con.Pktable))
	}
	refCols := pgquery.Strs(con.PkAttrs)
	if len(refCols) == 0 {
		switch {
		case ref == self:
			refCols = pkOfElts(elts)
		case c.tables[ref] != nil:
			refCols = c.tables[ref].pk
		}
		if len(refCols) == 0 {
			return nil, unmapped("REFERENCES %s names no columns and the file does not say its primary key: strata needs referenced_columns", ref)
		}
	}
	fk := NewTable()
	if con.Conname != "" {
		fk.Set("name", con.Conname)
	}
	fk.Set("columns", cols).Set("referenced_table", ref).Set("referenced_columns", refCols)
	if a := fkAction(con.FkDelAction); a != "" {
		fk.Set("on_delete", a)
	}
	if a := fkAction(con.FkUpdAction); a != "" {
		fk.Set("on_update", a)
	}
	if err := constraintOpts(con, fk, "fk"); err != nil {
		return nil, err
	}
	return fk, nil
}

// pkOfElts finds the primary key among CREATE TABLE elements.
func pkOfElts(elts []*pgquery.Node) []string {
	for _, e := range elts {
		if cd := e.GetColumnDef(); cd != nil {
			if len(pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_PRIMARY)) > 0 {
				return []string{cd.Colname}
			}
		}
		if con := e.GetConstraint(); con != nil && con.Contype == pgquery.ConstrType_CONSTR_PRIMARY {
			return pgquery.Strs(con.Keys)
		}
	}
	return nil
}

func fkAction(a string) string {
	switch a {
	case "r":
		return "RESTRICT"
	case "c":
		return "CASCADE"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "" // "a", NO ACTION: the default
}

func constraintWord(t pgquery.ConstrType) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(t.String(), "CONSTR_")), "_", " ")
}

func (c *sqlConv) setConstraint(table, name, kind string) {
	m := c.constraints[table]
	if m == nil {
		m = map[string]string{}
		c.constraints[table] = m
	}
	m[name] = kind
	c.names[name] = true
}

// ---- ALTER TABLE ----

func (c *sqlConv) alterTable(st *pgquery.Statement, at *pgquery.AlterTableStmt, r *stmtResult) error {
	if at.Objtype != pgquery.ObjectType_OBJECT_TABLE {
		return unmapped("no strata action for %s", statementKey(st.Node))
	}
	table, ok := managed(at.Relation)
	if !ok {
		return notManagedErr(pgquery.RelName(at.Relation))
	}
	if at.MissingOk {
		r.warn("IF EXISTS dropped: start refuses a table that does not exist")
	}
	for _, cn := range at.Cmds {
		cmd := cn.GetAlterTableCmd()
		if err := c.alterCmd(table, cmd, r); err != nil {
			return err
		}
	}
	return nil
}

func (c *sqlConv) alterCmd(table string, cmd *pgquery.AlterTableCmd, r *stmtResult) error {
	if cmd.Behavior == pgquery.DropBehavior_DROP_CASCADE {
		return unmapped("no form for CASCADE")
	}
	switch cmd.Subtype {
	case pgquery.AlterTableType_AT_AddColumn:
		return c.addColumn(table, cmd, r)
	case pgquery.AlterTableType_AT_AlterColumnType:
		return c.alterType(table, cmd, r)
	case pgquery.AlterTableType_AT_SetNotNull:
		a := c.alterColumn(table, cmd.Name, r)
		a.changes.Set("nullable", false)
		a.trivialUp = true
		r.warn("SET NOT NULL on %s.%s: up is the column itself, so rows with NULL make start fail (as the SQL would); to fill them give up = \"coalesce(%s, ...)\"", table, cmd.Name, pgquery.Ident(cmd.Name))
	case pgquery.AlterTableType_AT_DropNotNull:
		a := c.alterColumn(table, cmd.Name, r)
		a.changes.Set("nullable", true)
		a.trivialDown = true
		r.warn("DROP NOT NULL on %s.%s: down is the column itself, so a NULL the new version writes fails for the old version's NOT NULL; give down = \"coalesce(%s, ...)\" to let it through", table, cmd.Name, pgquery.Ident(cmd.Name))
	case pgquery.AlterTableType_AT_ColumnDefault:
		a := c.alterColumn(table, cmd.Name, r)
		if cmd.Def == nil {
			a.changes.Set("default", "NULL")
		} else {
			e, err := pgquery.DeparseExpr(cmd.Def)
			if err != nil {
				return err
			}
			a.changes.Set("default", e)
		}
	case pgquery.AlterTableType_AT_DropColumn:
		if cmd.MissingOk {
			r.warn("IF EXISTS dropped: start refuses a column that does not exist")
		}
		r.add(NewTable().Set("type", "remove_column").Set("table", table).Set("column", cmd.Name))
		known := false
		if t := c.tables[table]; t != nil && t.columns[cmd.Name] != nil {
			col := t.columns[cmd.Name]
			known = true
			if col.notNull && !col.hasDefault {
				r.warn("%s.%s is NOT NULL without a default: strata needs down (the value old-version readers see for rows the new version writes)", table, cmd.Name)
			}
		}
		if !known {
			r.warn("if %s.%s is NOT NULL without a default, strata needs down (the value old-version readers see for rows the new version writes)", table, cmd.Name)
		}
	case pgquery.AlterTableType_AT_AddConstraint:
		return c.addConstraint(table, cmd.Def.GetConstraint(), r)
	case pgquery.AlterTableType_AT_DropConstraint:
		return c.dropConstraint(table, cmd, r)
	case pgquery.AlterTableType_AT_ReplicaIdentity:
		ri := cmd.Def.GetReplicaIdentityStmt()
		t := NewTable().Set("type", "set_replica_identity").Set("table", table)
		switch ri.IdentityType {
		case "d":
			t.Set("identity", "default")
		case "f":
			t.Set("identity", "full")
		case "n":
			t.Set("identity", "nothing")
		case "i":
			t.Set("identity", "index").Set("index", ri.Name)
		default:
			return unmapped("no form for REPLICA IDENTITY %q", ri.IdentityType)
		}
		r.add(t)
	case pgquery.AlterTableType_AT_ValidateConstraint:
		if !c.notValid[table+"\x00"+cmd.Name] {
			return unmapped("VALIDATE CONSTRAINT of a constraint this file did not add")
		}
		// strata's add_check / add_foreign_key validate anyway.
	default:
		return unmapped("no strata action for this ALTER TABLE form")
	}
	return nil
}

// alterColumn starts an alter_column action of the statement.
func (c *sqlConv) alterColumn(table, column string, r *stmtResult) *alterAct {
	a := &alterAct{table: table, column: column, changes: NewTable()}
	act := r.add(nil)
	act.alter = a
	return a
}

func (c *sqlConv) alterType(table string, cmd *pgquery.AlterTableCmd, r *stmtResult) error {
	cd := cmd.Def.GetColumnDef()
	typ, err := pgquery.DeparseType(cd.TypeName)
	if err != nil {
		return err
	}
	if cd.CollClause != nil {
		typ += " COLLATE " + pgquery.IdentList(pgquery.Strs(cd.CollClause.Collname))
	}
	a := c.alterColumn(table, cmd.Name, r)
	a.changes.Set("type", typ)
	if cd.RawDefault != nil {
		if a.up, err = pgquery.DeparseExpr(cd.RawDefault); err != nil {
			return err
		}
	} else {
		a.trivialUp = true
	}
	a.trivialDown = true
	if t := c.tables[table]; t == nil || t.act == nil {
		r.warn("TYPE %s on %s.%s: down is guessed as the column itself (converted back to the old type): a value the old type cannot hold makes the new version's write fail; check it or write down", typ, table, cmd.Name)
	}
	return nil
}

func (c *sqlConv) addColumn(table string, cmd *pgquery.AlterTableCmd, r *stmtResult) error {
	cd := cmd.Def.GetColumnDef()
	if cmd.MissingOk {
		r.warn("IF NOT EXISTS dropped: start refuses a column that exists")
	}
	col, info, err := c.column(cd)
	if err != nil {
		return err
	}
	created := c.tables[table] != nil && c.tables[table].act != nil
	if _, gen := col.Get("generated"); gen && !created {
		return unmapped("add_column adds identity and generated columns only to tables created in the same migration (on an existing table they rewrite it under an ACCESS EXCLUSIVE lock): add a plain column with up instead")
	}
	if info.notNull && !info.hasDefault {
		if _, gen := col.Get("generated"); !gen {
			return unmapped("ADD COLUMN %s NOT NULL without a default: strata needs up (the value for existing rows and the old version's writes); write an add_column action with up instead", cd.Colname)
		}
	}
	r.add(NewTable().Set("type", "add_column").Set("table", table).Set("column", col))
	for _, cn := range cd.Constraints {
		con := cn.GetConstraint()
		switch con.Contype {
		case pgquery.ConstrType_CONSTR_PRIMARY:
			return unmapped("no form for adding a primary-key column")
		case pgquery.ConstrType_CONSTR_UNIQUE, pgquery.ConstrType_CONSTR_FOREIGN, pgquery.ConstrType_CONSTR_CHECK:
			if err := c.addConstraintCols(table, con, []string{cd.Colname}, r); err != nil {
				return err
			}
		}
	}
	r.then(func() {
		if t := c.tables[table]; t != nil {
			t.columns[cd.Colname] = info
		}
	})
	return nil
}

func (c *sqlConv) addConstraint(table string, con *pgquery.Constraint, r *stmtResult) error {
	var cols []string
	switch con.Contype {
	case pgquery.ConstrType_CONSTR_FOREIGN:
		cols = pgquery.Strs(con.FkAttrs)
	case pgquery.ConstrType_CONSTR_UNIQUE, pgquery.ConstrType_CONSTR_PRIMARY:
		cols = pgquery.Strs(con.Keys)
	}
	return c.addConstraintCols(table, con, cols, r)
}

func (c *sqlConv) addConstraintCols(table string, con *pgquery.Constraint, cols []string, r *stmtResult) error {
	switch con.Contype {
	case pgquery.ConstrType_CONSTR_CHECK:
		expr, err := c.checkEntryAlter(con)
		if err != nil {
			return err
		}
		name := checkName(table, con)
		ch := NewTable().Set("name", name).Set("expression", expr)
		r.add(NewTable().Set("type", "add_check").Set("table", table).Set("check", ch))
		c.notValidNote(table, name, con, r)
		r.then(func() { c.setConstraint(table, name, kindCheck) })
	case pgquery.ConstrType_CONSTR_FOREIGN:
		skip := con.SkipValidation
		con.SkipValidation = false
		fk, err := c.foreignKey(con, cols, "", nil)
		con.SkipValidation = skip
		if err != nil {
			return err
		}
		name := pgName(table, cols, "fkey", con.Conname)
		fk.Set("name", name)
		reorder(fk, "name")
		r.add(NewTable().Set("type", "add_foreign_key").Set("table", table).Set("foreign_key", fk))
		c.notValidNote(table, name, con, r)
		r.then(func() { c.setConstraint(table, name, kindFK) })
	case pgquery.ConstrType_CONSTR_UNIQUE:
		name := pgName(table, cols, "key", con.Conname)
		u := NewTable().Set("name", name).Set("columns", cols)
		if err := constraintOpts(con, u, "unique"); err != nil {
			return err
		}
		r.add(NewTable().Set("type", "add_unique").Set("table", table).Set("unique", u))
		r.then(func() { c.setConstraint(table, name, kindUnique) })
	case pgquery.ConstrType_CONSTR_PRIMARY:
		if t := c.tables[table]; t != nil && t.act != nil {
			return unmapped("a table this file creates has its primary key in create_table")
		}
		name := pgName(table, nil, "pkey", con.Conname)
		pk := NewTable().Set("name", name).Set("columns", cols)
		if inc := pgquery.Strs(con.Including); len(inc) > 0 {
			pk.Set("include", inc)
		}
		params, err := storageParams(con.Options)
		if err != nil {
			return err
		}
		if params != nil {
			pk.Set("storage_parameters", params)
		}
		con.Including, con.Options = nil, nil
		if err := constraintOpts(con, NewTable(), "pk"); err != nil {
			return err
		}
		r.add(NewTable().Set("type", "add_primary_key").Set("table", table).Set("primary_key", pk))
		r.then(func() { c.setConstraint(table, name, kindPK) })
	default:
		return unmapped("no form for adding %s constraints", constraintWord(con.Contype))
	}
	return nil
}

// checkEntryAlter returns the expression of a check added by ALTER TABLE
// (NOT VALID is the caller's).
func (c *sqlConv) checkEntryAlter(con *pgquery.Constraint) (string, error) {
	skip := con.SkipValidation
	con.SkipValidation = false
	defer func() { con.SkipValidation = skip }()
	ch, err := c.checkEntry(con)
	if err != nil {
		return "", err
	}
	e, _ := ch.Get("expression")
	return e.(string), nil
}

// notValidNote handles NOT VALID: strata adds the constraint NOT VALID and
// validates it anyway, so a later VALIDATE CONSTRAINT in the file is
// absorbed; without one, the validation is a change of meaning.
func (c *sqlConv) notValidNote(table, name string, con *pgquery.Constraint, r *stmtResult) {
	if !con.SkipValidation {
		return
	}
	if !c.validatedLater(table, name) {
		r.warn("constraint %s is added NOT VALID, but strata validates it at start (existing rows that violate it make start fail)", name)
	}
	r.then(func() { c.notValid[table+"\x00"+name] = true })
}

// validatedLater reports whether a later statement of the file validates
// the constraint.
func (c *sqlConv) validatedLater(table, name string) bool {
	for _, st := range c.src.Statements {
		at := st.Node.GetAlterTableStmt()
		if at == nil {
			continue
		}
		if t, ok := managed(at.Relation); !ok || t != table {
			continue
		}
		for _, cn := range at.Cmds {
			if cmd := cn.GetAlterTableCmd(); cmd.Subtype == pgquery.AlterTableType_AT_ValidateConstraint && cmd.Name == name {
				return true
			}
		}
	}
	return false
}

func (c *sqlConv) dropConstraint(table string, cmd *pgquery.AlterTableCmd, r *stmtResult) error {
	kind := c.constraints[table][cmd.Name]
	if cmd.MissingOk {
		r.warn("IF EXISTS dropped: complete refuses a constraint that does not exist")
	}
	switch kind {
	case kindCheck:
		r.add(NewTable().Set("type", "remove_check").Set("table", table).Set("check", cmd.Name))
	case kindFK:
		r.add(NewTable().Set("type", "remove_foreign_key").Set("table", table).Set("foreign_key", cmd.Name))
	case kindPK:
		return unmapped("no form for dropping a primary key (strata needs a key)")
	default:
		// A unique or exclusion constraint, or one the file does not
		// create: remove_constraint looks its kind up in the catalog.
		r.add(NewTable().Set("type", "remove_constraint").Set("table", table).Set("constraint", cmd.Name))
	}
	r.then(func() { delete(c.constraints[table], cmd.Name) })
	return nil
}

// ---- renames ----

func (c *sqlConv) rename(rs *pgquery.RenameStmt, r *stmtResult) error {
	switch rs.RenameType {
	case pgquery.ObjectType_OBJECT_COLUMN:
		if rs.RelationType != pgquery.ObjectType_OBJECT_TABLE {
			return unmapped("no strata action for renaming a column of a %s", objectWord(rs.RelationType))
		}
		table, ok := managed(rs.Relation)
		if !ok {
			return notManagedErr(pgquery.RelName(rs.Relation))
		}
		a := c.alterColumn(table, rs.Subname, r)
		a.changes.Set("name", rs.Newname)
		r.then(func() {
			if t := c.tables[table]; t != nil && t.columns[rs.Subname] != nil {
				t.columns[rs.Newname] = t.columns[rs.Subname]
				delete(t.columns, rs.Subname)
			}
		})
	case pgquery.ObjectType_OBJECT_TABLE:
		table, ok := managed(rs.Relation)
		if !ok {
			return notManagedErr(pgquery.RelName(rs.Relation))
		}
		if rs.MissingOk {
			r.warn("IF EXISTS dropped: start refuses a table that does not exist")
		}
		r.add(NewTable().Set("type", "rename_table").Set("table", table).Set("new_name", rs.Newname))
		r.then(func() {
			if t := c.tables[table]; t != nil {
				c.tables[rs.Newname] = t
				delete(c.tables, table)
			}
			if m := c.constraints[table]; m != nil {
				c.constraints[rs.Newname] = m
				delete(c.constraints, table)
			}
		})
	case pgquery.ObjectType_OBJECT_TABCONSTRAINT:
		table, ok := managed(rs.Relation)
		if !ok {
			return notManagedErr(pgquery.RelName(rs.Relation))
		}
		r.add(NewTable().Set("type", "rename_constraint").Set("table", table).Set("constraint", rs.Subname).Set("new_name", rs.Newname))
		r.then(func() {
			if m := c.constraints[table]; m != nil && m[rs.Subname] != "" {
				m[rs.Newname] = m[rs.Subname]
				delete(m, rs.Subname)
			}
		})
	default:
		return unmapped("no strata action for renaming a %s", objectWord(rs.RenameType))
	}
	return nil
}

func objectWord(t pgquery.ObjectType) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(t.String(), "OBJECT_")), "_", " ")
}

// ---- CREATE INDEX ----

func (c *sqlConv) createIndex(ix *pgquery.IndexStmt, r *stmtResult) error {
	table, ok := managed(ix.Relation)
	if !ok {
		return notManagedErr(pgquery.RelName(ix.Relation))
	}
	switch {
	case !ix.Relation.Inh:
		return unmapped("add_index has no form for ON ONLY")
	case ix.TableSpace != "":
		return unmapped("add_index has no form for TABLESPACE")
	}
	params, err := storageParams(ix.Options)
	if err != nil {
		return err
	}
	var cols []any
	var colNames []string
	for _, p := range ix.IndexParams {
		el := p.GetIndexElem()
		col, err := indexColumn(el)
		if err != nil {
			return err
		}
		cols = append(cols, col)
		if el.Expr != nil {
			colNames = append(colNames, exprColName(el.Expr))
		} else {
			colNames = append(colNames, el.Name)
		}
	}
	name := ix.Idxname
	if name == "" {
		name = pgName(table, colNames, "idx", "")
		if ix.Unique {
			name = pgName(table, colNames, "key", "")
		}
		for i := 1; c.names[name]; i++ {
			name = pgName(table, colNames, fmt.Sprintf("idx%d", i), "")
		}
		r.warn("the index has no name: strata needs one; named %s (as PostgreSQL would name it)", name)
	}
	if ix.IfNotExists {
		r.warn("IF NOT EXISTS dropped: start refuses an index name that is taken")
	}
	idx := NewTable().Set("name", name).Set("columns", cols)
	if ix.Unique {
		idx.Set("unique", true)
	}
	if ix.NullsNotDistinct {
		idx.Set("nulls_not_distinct", true)
	}
	if m := strings.ToLower(ix.AccessMethod); m != "" && m != "btree" {
		idx.Set("type", m)
	}
	if ix.WhereClause != nil {
		e, err := pgquery.DeparseExpr(ix.WhereClause)
		if err != nil {
			return err
		}
		idx.Set("where", e)
	}
	var inc []string
	for _, p := range ix.IndexIncludingParams {
		if el := p.GetIndexElem(); el != nil && el.Name != "" {
			inc = append(inc, el.Name)
		}
	}
	if len(inc) > 0 {
		idx.Set("include", inc)
	}
	if params != nil {
		idx.Set("storage_parameters", params)
	}
	r.add(NewTable().Set("type", "add_index").Set("table", table).Set("index", idx))
	r.then(func() { c.names[name] = true })
	return nil
}

// indexColumn converts an index element: a plain string (a column name or
// a parenthesised expression), or a table when it has options.
func indexColumn(el *pgquery.IndexElem) (any, error) {
	var plain string
	col := NewTable()
	if el.Expr != nil {
		e, err := pgquery.DeparseExpr(el.Expr)
		if err != nil {
			return nil, err
		}
		plain = "(" + e + ")"
		col.Set("expression", e)
	} else {
		plain = el.Name
		col.Set("column", el.Name)
	}
	if len(el.Opclass) > 0 {
		col.Set("opclass", strings.Join(pgquery.Strs(el.Opclass), "."))
	}
	if len(el.Opclassopts) > 0 {
		params, err := storageParams(el.Opclassopts)
		if err != nil {
			return nil, err
		}
		col.Set("opclass_parameters", params)
	}
	if len(el.Collation) > 0 {
		col.Set("collate", strings.Join(pgquery.Strs(el.Collation), "."))
	}
	switch el.Ordering {
	case pgquery.SortByDir_SORTBY_ASC:
		col.Set("sort", "asc")
	case pgquery.SortByDir_SORTBY_DESC:
		col.Set("sort", "desc")
	case pgquery.SortByDir_SORTBY_USING:
		return nil, unmapped("no form for ORDER BY USING in an index")
	}
	switch el.NullsOrdering {
	case pgquery.SortByNulls_SORTBY_NULLS_FIRST:
		col.Set("nulls", "first")
	case pgquery.SortByNulls_SORTBY_NULLS_LAST:
		col.Set("nulls", "last")
	}
	if col.Len() == 1 {
		return plain, nil
	}
	return col, nil
}

// storageParams converts WITH (name = value, ...) into a storage_parameters
// table (nil when there are none): numbers and true/false as they are,
// anything else as a string.
func storageParams(opts []*pgquery.Node) (*Table, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	t := NewTable()
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defnamespace != "" {
			return nil, unmapped("no form for storage parameters of another namespace (toast.)")
		}
		var v any
		switch {
		case d.Arg == nil:
			v = true
		case d.Arg.GetInteger() != nil:
			v = int(d.Arg.GetInteger().Ival)
		case d.Arg.GetFloat() != nil:
			f, err := strconv.ParseFloat(d.Arg.GetFloat().Fval, 64)
			if err != nil {
				return nil, unmapped("storage parameter %s: %v", d.Defname, err)
			}
			v = f
		case d.Arg.GetBoolean() != nil:
			v = d.Arg.GetBoolean().Boolval
		case d.Arg.GetString_() != nil:
			v = d.Arg.GetString_().Sval
		case d.Arg.GetTypeName() != nil:
			v = strings.Join(pgquery.Strs(d.Arg.GetTypeName().Names), ".")
		default:
			return nil, unmapped("storage parameter %s: no form for its value", d.Defname)
		}
		if sv, ok := v.(string); ok && (strings.EqualFold(sv, "true") || strings.EqualFold(sv, "false")) {
			v = strings.EqualFold(sv, "true")
		}
		t.Set(d.Defname, v)
	}
	return t, nil
}

// exprColName is the name PostgreSQL gives an index expression's column in
// generated index names: a function's name, else "expr".
func exprColName(e *pgquery.Node) string {
	if fc := e.GetFuncCall(); fc != nil {
		return pgquery.FuncName(fc)
	}
	return "expr"
}

// ---- DROP ----

func (c *sqlConv) drop(ds *pgquery.DropStmt, r *stmtResult) error {
	if ds.Behavior == pgquery.DropBehavior_DROP_CASCADE {
		return unmapped("no form for CASCADE")
	}
	var names []string
	for _, o := range ds.Objects {
		var parts []*pgquery.Node
		if l := o.GetList(); l != nil {
			parts = l.Items
		} else if tn := o.GetTypeName(); tn != nil {
			parts = tn.Names
		} else {
			return unmapped("no strata action for %s", objectWord(ds.RemoveType))
		}
		name, ok := managedNames(parts)
		if !ok {
			return notManagedErr(pgquery.Qualified(parts))
		}
		names = append(names, name)
	}
	var kind string
	switch ds.RemoveType {
	case pgquery.ObjectType_OBJECT_TABLE:
		kind = "remove_table"
	case pgquery.ObjectType_OBJECT_INDEX:
		kind = "remove_index"
	case pgquery.ObjectType_OBJECT_TYPE:
		kind = "remove_enum"
	default:
		return unmapped("no strata action for DROP %s", strings.ToUpper(objectWord(ds.RemoveType)))
	}
	if ds.MissingOk {
		r.warn("IF EXISTS dropped: strata refuses to drop what does not exist")
	}
	for _, n := range names {
		switch kind {
		case "remove_table":
			r.add(NewTable().Set("type", kind).Set("table", n))
		case "remove_index":
			r.add(NewTable().Set("type", kind).Set("index", n))
		case "remove_enum":
			r.add(NewTable().Set("type", kind).Set("enum", n))
		}
	}
	return nil
}

// ---- enums ----

func (c *sqlConv) createEnum(ce *pgquery.CreateEnumStmt, r *stmtResult) error {
	name, ok := managedNames(ce.TypeName)
	if !ok {
		return notManagedErr(pgquery.Qualified(ce.TypeName))
	}
	vals := pgquery.Strs(ce.Vals)
	r.add(NewTable().Set("type", "create_enum").Set("name", name).Set("values", vals))
	r.then(func() { c.enums[name] = true })
	return nil
}

func (c *sqlConv) alterEnum(ae *pgquery.AlterEnumStmt, r *stmtResult) error {
	name, ok := managedNames(ae.TypeName)
	if !ok {
		return notManagedErr(pgquery.Qualified(ae.TypeName))
	}
	t := NewTable().Set("type", "alter_enum").Set("name", name)
	if ae.OldVal != "" {
		t.Set("rename", []*Table{NewTable().Set("from", ae.OldVal).Set("to", ae.NewVal)})
	} else {
		add := NewTable().Set("value", ae.NewVal)
		if ae.NewValNeighbor != "" {
			if ae.NewValIsAfter {
				add.Set("after", ae.NewValNeighbor)
			} else {
				add.Set("before", ae.NewValNeighbor)
			}
		}
		t.Set("add", []*Table{add})
	}
	r.add(t).enum = name
	return nil
}

// ---- COMMENT ON ----

func (c *sqlConv) comment(cs *pgquery.CommentStmt, r *stmtResult) error {
	if cs.Objtype == pgquery.ObjectType_OBJECT_TABLE {
		// create_table has a comment; an existing table's comment has no
		// strata form.
		name, ok := managedNames(pgquery.ListItems(cs.Object))
		if t := c.tables[name]; ok && cs.Comment != "" && t != nil && t.act != nil {
			setBefore(t.act, "comment", cs.Comment, "columns")
			return nil
		}
		return unmapped("no strata action for COMMENT ON TABLE of a table the file does not create")
	}
	if cs.Objtype != pgquery.ObjectType_OBJECT_COLUMN {
		return unmapped("no strata action for COMMENT ON %s", strings.ToUpper(objectWord(cs.Objtype)))
	}
	parts := pgquery.Strs(pgquery.ListItems(cs.Object))
	if len(parts) < 2 {
		return unmapped("COMMENT ON COLUMN needs table.column")
	}
	col := parts[len(parts)-1]
	table, ok := managedNames(cs.Object.GetList().Items[:len(parts)-1])
	if !ok {
		return notManagedErr(strings.Join(parts[:len(parts)-1], "."))
	}
	if cs.Comment == "" {
		return unmapped("no form for removing a comment (IS NULL)")
	}
	// A column of a table this file creates: the comment goes into its
	// definition.
	if t := c.tables[table]; t != nil && t.act != nil && t.columns[col] != nil && t.columns[col].col != nil {
		t.columns[col].col.Set("comment", cs.Comment)
		return nil
	}
	a := c.alterColumn(table, col, r)
	a.changes.Set("comment", cs.Comment)
	return nil
}

// ---- names ----

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

// ---- merging and rendering ----

// mergeAlters merges consecutive alter_column actions of the same column
// into one where that keeps their meaning: their changes do not overlap,
// and an expression written for a column's new name does not end up over
// the old one. Consecutive ADD VALUEs of one enum become one alter_enum.
func (c *sqlConv) mergeAlters() {
	var out []*sqlAct
	for _, a := range c.acts {
		if len(out) > 0 {
			prev := out[len(out)-1]
			if prev.alter != nil && a.alter != nil && mergeAlter(prev.alter, a.alter) {
				continue
			}
			if prev.enum != "" && prev.enum == a.enum && mergeEnum(prev.t, a.t) {
				continue
			}
		}
		out = append(out, a)
	}
	c.acts = out
}

func mergeAlter(a, b *alterAct) bool {
	cur := a.column
	if n, ok := a.changes.Get("name"); ok {
		cur = n.(string)
	}
	if a.table != b.table || b.column != cur {
		return false
	}
	for _, k := range b.changes.Keys() {
		if _, ok := a.changes.Get(k); ok {
			return false
		}
	}
	if a.up != "" && b.up != "" || a.down != "" || b.down != "" {
		return false
	}
	if _, renamed := a.changes.Get("name"); renamed && b.up != "" {
		return false // b's USING names the column by its new name
	}
	for _, k := range b.changes.Keys() {
		v, _ := b.changes.Get(k)
		a.changes.Set(k, v)
	}
	if b.up != "" {
		a.up = b.up
	}
	a.trivialUp = a.trivialUp || b.trivialUp
	a.trivialDown = a.trivialDown || b.trivialDown
	return true
}

func mergeEnum(a, b *Table) bool {
	addA, okA := a.Get("add")
	addB, okB := b.Get("add")
	if !okA || !okB {
		return false
	}
	a.Set("add", append(addA.([]*Table), addB.([]*Table)...))
	return true
}

// render builds the action's table.
func (a *sqlAct) render() *Table {
	if a.alter == nil {
		return a.t
	}
	al := a.alter
	t := NewTable().Set("type", "alter_column").Set("table", al.table).Set("column", al.column)
	// changes keys in the documented order
	ch := NewTable()
	for _, k := range []string{"name", "type", "nullable", "default", "comment"} {
		if v, ok := al.changes.Get(k); ok {
			ch.Set(k, v)
		}
	}
	t.Set("changes", ch)
	_, typ := al.changes.Get("type")
	_, null := al.changes.Get("nullable")
	if typ || null {
		up := al.up
		if up == "" {
			up = pgquery.Ident(al.column)
		}
		t.Set("up", up)
		newName := al.column
		if n, ok := al.changes.Get("name"); ok {
			newName = n.(string)
		}
		down := al.down
		if down == "" {
			down = pgquery.Ident(newName)
		}
		t.Set("down", down)
	}
	return t
}

// ---- inverses of custom SQL ----

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
