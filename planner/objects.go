package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// Indexes, constraints, statistics objects and enum types.
//
// Every index, constraint and statistics object the phase creates is a
// pendObj: new ones (add_index, add_check, add_foreign_key) and carried
// ones, rebuilt on the shadow column that replaces a column (see carry.go).
// Each holds its creating statement as a parse tree over physical names.
// When a later action of the phase replaces a column the object uses, the
// tree is rewritten to the new physical column, so actions compose: an
// index added on a column that a later action changes the type of is built
// on the final column, once.
//
// Start builds them after the backfills: indexes with CREATE INDEX
// CONCURRENTLY (plan.KindIndex steps), checks and foreign keys NOT VALID and
// then validated in a separate transaction. Carried objects are built under
// a temporary _strata name; complete drops the objects they replace and
// gives them their names back (unique and primary-key constraints are
// attached with ADD CONSTRAINT ... USING INDEX). Abort drops them.

// objKind is the kind of a pending object.
type objKind int

const (
	kIndex   objKind = iota // an index that backs no constraint
	kUnique                 // UNIQUE constraint: a unique index, attached at complete
	kPKey                   // PRIMARY KEY: a unique index, attached at complete
	kExclude                // EXCLUDE constraint
	kCheck                  // CHECK constraint
	kFK                     // FOREIGN KEY constraint
	kStats                  // extended statistics object
)

func (k objKind) String() string {
	switch k {
	case kIndex:
		return "index"
	case kUnique:
		return "unique constraint"
	case kPKey:
		return "primary key"
	case kExclude:
		return "exclusion constraint"
	case kCheck:
		return "check constraint"
	case kFK:
		return "foreign key"
	case kStats:
		return "statistics object"
	}
	return "object"
}

func (k objKind) isIndex() bool { return k == kIndex || k == kUnique || k == kPKey }

// pendObj is an object the phase creates.
type pendObj struct {
	Kind   objKind
	Schema string // schema of Table
	Table  string // physical table the object is on
	Name   string // name once complete has run
	Temp   string // name while the phase runs: Name for new objects
	// Stmt creates the object, over physical names: an IndexStmt, an
	// AlterTableStmt adding one constraint, or a CreateStatsStmt.
	Stmt *pgquery.Node
	// Carried is the catalog object this one replaces; nil for new ones.
	Carried *catObj
	// NotValid leaves a constraint NOT VALID (its original was).
	NotValid bool
	// Deferrable and Deferred: a new unique constraint (add_unique) is
	// attached DEFERRABLE [INITIALLY DEFERRED] at complete.
	Deferrable, Deferred bool
	// Where it comes from, for errors.
	Mig *migration.Migration
	Idx int
	Key string
}

func (o *pendObj) what() string {
	return fmt.Sprintf("%s %q on table %q", o.Kind, o.Name, o.Table)
}

// catObj is an object of the catalog that complete drops: one that was
// carried to a shadow column, or one a remove_* action removes.
type catObj struct {
	Kind                 objKind
	Schema, Table, Name  string
	Deferrable, Deferred bool
	Comment              *string
	ReplIdent, Clustered bool
}

// enumType is an enum type of the managed schema as the phase leaves it.
type enumType struct {
	Name    string
	Labels  []string
	Created bool
	Removed bool
	renamed []string // labels of an existing enum renamed at complete
}

// identityMove makes a shadow column the identity column of its table at
// complete, with the sequence's settings and position.
type identityMove struct {
	Table, Shadow string
	Always        bool
	Seq           string // old sequence, schema-qualified and quoted
	SeqName       string // its bare name, given to the new one
	Temp          string // the new sequence's name until then
	Options       string // INCREMENT BY ... of the old sequence
}

// seqOwner gives a sequence owned by a replaced column (a serial's) to the
// column replacing it at complete, so that dropping the old column does not
// drop the sequence.
type seqOwner struct {
	Seq           string // schema-qualified, quoted
	Table, Column string
}

// objects is the planner's record of indexes, constraints and types.
type objects struct {
	pending []*pendObj
	// carried holds the catalog objects already carried, by "class:oid".
	carried map[string]bool
	// dropped are catalog objects the contract drops.
	dropped []*catObj
	// removedIdx are catalog indexes removed by remove_index: dropped
	// CONCURRENTLY after the contract.
	removedIdx []string
	policies   []*pgquery.Node // ALTER POLICY statements of the contract
	seqOwned   []*seqOwner     // sequences owned by replaced columns
	identity   []*identityMove
	// origin maps "table.shadow" to the catalog column a shadow column
	// replaces (through any number of replacements in the phase).
	origin   map[string]string
	enums    map[string]*enumType
	enumPost []string // enum renames and drops of the contract
	created  []string // enum types created in this phase, in order
	// renamedCons are the constraints rename_constraint renames at
	// complete, in order.
	renamedCons []*consRename
	// replIdent are the replica identities set_replica_identity sets at
	// complete, in order: ALTER TABLE statements.
	replIdent []string
	// pkNotNull are the existing nullable columns of a primary key that
	// add_primary_key makes NOT NULL (checked at start, set at complete).
	pkNotNull []notNull
}

// consRename is a constraint renamed at complete.
type consRename struct {
	Table    string // physical
	From, To string
}

// initObjects prepares the object model. Planning then runs with the
// managed schema on the search_path, as start does, so that user types and
// functions resolve; catalog definitions are read with catalogPath.
func (p *planner) initObjects(ctx context.Context) error {
	p.objs.carried = map[string]bool{}
	p.objs.enums = map[string]*enumType{}
	p.objs.origin = map[string]string{}
	return p.setPath(ctx, ident(p.schema))
}

func (p *planner) setPath(ctx context.Context, path string) error {
	if err := p.pr.SetSearchPath(ctx, path); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	return nil
}

// catalogPath runs fn with search_path = pg_catalog, so that definitions
// read from the catalog (pg_get_indexdef, pg_get_constraintdef, ...) name
// everything outside pg_catalog schema-qualified.
func (p *planner) catalogPath(ctx context.Context, fn func() error) error {
	if err := p.setPath(ctx, "pg_catalog"); err != nil {
		return err
	}
	ferr := fn()
	if err := p.setPath(ctx, ident(p.schema)); err != nil {
		return err
	}
	return ferr
}

// tempName returns a name for one of strata's temporary objects.
func (p *planner) tempName(name string) string {
	return internalName(fmt.Sprintf("_strata_%d_", p.seq), name)
}

// relationExists reports whether a relation (table, index, view, sequence,
// ...) named name exists in the managed schema, or a pending object will
// create one.
func (p *planner) relationExists(ctx context.Context, name string) (bool, error) {
	for _, o := range p.objs.pending {
		if o.Kind.isIndex() && o.Schema == p.schema && (o.Temp == name || o.Name == name) {
			return true, nil
		}
	}
	if p.isCreated(name) {
		return true, nil
	}
	exists, err := p.pr.RelationExists(ctx, p.schema, name)
	if err != nil {
		return false, err
	}
	return exists, nil
}

// parseStmt parses SQL strata composed (with user fragments in it).
func (p *planner) parseStmt(key, sql string) (*pgquery.Node, error) {
	n, err := pgquery.ParseOne(sql)
	if err != nil {
		var se *pgquery.SyntaxError
		if errors.As(err, &se) {
			return nil, p.errf(key, "syntax error: %s", se.Message)
		}
		return nil, p.errf(key, "%v", err)
	}
	return n, nil
}

// versionMap maps the column names of t as a version sees them to their
// physical names.
func versionMap(t *vTable) map[string]string {
	m := map[string]string{}
	for _, c := range t.Columns {
		m[c.Name] = c.Phys
	}
	return m
}

// toPhysical rewrites the column references to table t (as the new version
// names it) in a statement composed from user input to physical names. A
// reference to a column the version does not have is an error.
func (p *planner) toPhysical(key string, stmt *pgquery.Node, t *vTable) error {
	_, unknown := pgquery.RenameColumns(stmt, p.schema, t.Phys, []string{t.Name}, versionMap(t), true)
	if len(unknown) > 0 {
		return p.errf(key, "column %q does not exist in table %q", unknown[0], t.Name)
	}
	return nil
}

// replaceInPending rewrites every pending object's references to the
// physical column col of table to shadow.
func (p *planner) replaceInPending(table, col, shadow string) {
	m := map[string]string{col: shadow}
	for _, o := range p.objs.pending {
		pgquery.RenameColumns(o.Stmt, p.schema, table, nil, m, false)
	}
	for _, pol := range p.objs.policies {
		pgquery.RenameColumns(pol, p.schema, table, nil, m, false)
	}
	for _, so := range p.objs.seqOwned {
		if so.Table == table && so.Column == col {
			so.Column = shadow
		}
	}
	for _, im := range p.objs.identity {
		if im.Table == table && im.Shadow == col {
			im.Shadow = shadow
		}
	}
}

// prunePending forgets the pending objects that complete would drop
// again: those on a table the phase removes, and those that use a column
// the phase removes (an index over a replaced column and a removed one, for
// instance). Their catalog originals, if any, go with the table or column.
func (p *planner) prunePending() {
	kept := func(schema, table string) (map[string]string, bool) {
		if schema != p.schema {
			return nil, true // another schema's table: not changed by the phase
		}
		t := p.cur.table(physName(p.cur, table))
		if t == nil {
			return nil, false
		}
		m := map[string]string{}
		for _, c := range t.Columns {
			m[c.Phys] = c.Phys
		}
		return m, true
	}
	out := p.objs.pending[:0]
	for _, o := range p.objs.pending {
		ok := true
		pgquery.EachRangeVar(pgquery.Clone(o.Stmt), func(rv *pgquery.RangeVar) {
			schema := rv.Schemaname
			if schema == "" {
				schema = p.schema
			}
			m, exists := kept(schema, rv.Relname)
			if !exists {
				ok = false
				return
			}
			if m != nil {
				if _, unknown := pgquery.RenameColumns(pgquery.Clone(o.Stmt), schema, rv.Relname, nil, m, true); len(unknown) > 0 {
					ok = false
				}
			}
		})
		if ok {
			out = append(out, o)
		}
	}
	p.objs.pending = out
}

// pendingIndex finds a pending index (of any kind) by its final name.
func (p *planner) pendingIndex(name string) *pendObj {
	for _, o := range p.objs.pending {
		if o.Kind.isIndex() && o.Schema == p.schema && o.Name == name {
			return o
		}
	}
	return nil
}

// pendingConstraint finds a pending constraint of a table by its final name.
func (p *planner) pendingConstraint(table, name string) *pendObj {
	for _, o := range p.objs.pending {
		if o.Kind != kIndex && o.Kind != kStats && o.Schema == p.schema && o.Table == table && o.Name == name {
			return o
		}
	}
	return nil
}

func (p *planner) forget(o *pendObj) {
	for i, x := range p.objs.pending {
		if x == o {
			p.objs.pending = append(p.objs.pending[:i], p.objs.pending[i+1:]...)
			return
		}
	}
}

// render is the statement that creates o under its temporary name.
func (o *pendObj) render() string {
	st := pgquery.Clone(o.Stmt)
	switch {
	case st.GetIndexStmt() != nil:
		is := st.GetIndexStmt()
		is.Idxname = o.Temp
		is.Concurrent = true
		is.IfNotExists = false
	case st.GetAlterTableStmt() != nil:
		for _, c := range st.GetAlterTableStmt().Cmds {
			if con := c.GetAlterTableCmd().GetDef().GetConstraint(); con != nil {
				con.Conname = o.Temp
				if o.Kind == kCheck || o.Kind == kFK {
					con.SkipValidation = true
					con.InitiallyValid = false
				}
			}
		}
	case st.GetCreateStatsStmt() != nil:
		cs := st.GetCreateStatsStmt()
		cs.Defnames = []*pgquery.Node{pgquery.StrNode(o.Schema), pgquery.StrNode(o.Temp)}
	}
	return deparse(st)
}

// onCreated reports whether o is on a table created in this phase.
func (p *planner) onCreated(o *pendObj) bool {
	return o.Schema == p.schema && p.isCreated(o.Table)
}

// hasUnique reports whether a foreign key may reference cols (physical) of
// schema.table: a unique, non-partial index without expressions over
// exactly those columns exists or is pending.
func (p *planner) hasUnique(ctx context.Context, schema, table string, cols []string) (bool, error) {
	want := append([]string(nil), cols...)
	sort.Strings(want)
	for _, o := range p.objs.pending {
		is := o.Stmt.GetIndexStmt()
		if is == nil || !is.Unique || is.WhereClause != nil || o.Schema != schema || o.Table != table {
			continue
		}
		var got []string
		ok := true
		for _, e := range is.IndexParams {
			ie := e.GetIndexElem()
			if ie == nil || ie.Name == "" {
				ok = false
				break
			}
			got = append(got, ie.Name)
		}
		sort.Strings(got)
		if ok && strings.Join(got, "\x00") == strings.Join(want, "\x00") {
			return true, nil
		}
	}
	if schema == p.schema && p.isCreated(table) {
		// Its constraints are checked when it is created.
		return true, nil
	}
	found, err := p.pr.HasUnique(ctx, schema, table, want)
	if err != nil {
		return false, err
	}
	return found, nil
}
