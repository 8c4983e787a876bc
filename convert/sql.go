package convert

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// fromSQL converts hand-written DDL: each input .sql file becomes one
// strata migration whose actions are its statements, in order. A statement
// with an expand/contract form becomes that action; anything else (and a
// statement whose options strata has no form for) becomes a custom action
// running the statement as written, with a warning. The mapping is
// documented in docs/migrations.md ("SQL files"). This file holds the walk
// over the statements; sql_table.go, sql_alter.go and sql_objects.go map
// the statement kinds, sql_names.go generates names and inverses.
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
