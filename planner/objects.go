package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/strata-db/strata/internal/pgquery"
	"github.com/strata-db/strata/migration"
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
// CONCURRENTLY (KindIndex steps), checks and foreign keys NOT VALID and
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
		return fmt.Errorf("engine: set search_path: %w", err)
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
		return false, fmt.Errorf("engine: %w", err)
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

// objectSteps are start's steps for the pending objects, run after the
// backfills: indexes first (a foreign key may need a new unique index),
// then exclusion constraints and statistics, then checks and foreign keys
// NOT VALID, each validated in its own transaction.
func (p *planner) objectSteps(ctx context.Context) ([]Step, error) {
	p.prunePending()
	if err := p.probeObjects(ctx); err != nil {
		return nil, err
	}
	var out, cons []Step
	for _, o := range p.objs.pending {
		tq := qual(o.Schema, o.Table)
		switch o.Kind {
		case kIndex, kUnique, kPKey:
			what := "build index " + o.Temp + " on " + o.Table
			if o.Carried != nil {
				what = fmt.Sprintf("build index %s on %s, carrying %s %s to the new column", o.Temp, o.Table, o.Carried.Kind, o.Carried.Name)
			}
			out = append(out, Step{
				ID: "index:" + o.Schema + "." + o.Temp, Kind: KindIndex, Desc: what,
				SQL:   []string{o.render()},
				Index: &IndexSpec{Schema: o.Schema, Table: o.Table, Name: o.Temp},
			})
		case kExclude:
			out = append(out, Step{
				ID: "exclusion:" + o.Table + "." + o.Temp, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("add exclusion constraint %s on %s, carrying %s (builds its index under ACCESS EXCLUSIVE: PostgreSQL cannot build it concurrently)", o.Temp, o.Table, o.Name),
				SQL:  []string{o.render()},
			})
		case kStats:
			out = append(out, Step{
				ID: "statistics:" + o.Schema + "." + o.Temp, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("create statistics %s on %s", o.Temp, o.Table),
				SQL:  []string{o.render()},
			})
		case kCheck, kFK:
			cons = append(cons, Step{
				ID: "constraint:" + o.Table + "." + o.Temp, Kind: KindSQL, Tx: true,
				Desc: fmt.Sprintf("add %s %s on %s NOT VALID", o.Kind, o.Temp, o.Table),
				SQL:  []string{o.render()},
			})
			if !o.NotValid {
				cons = append(cons, Step{
					ID: "validate-constraint:" + o.Table + "." + o.Temp, Kind: KindSQL, Tx: true,
					Desc: fmt.Sprintf("validate %s %s on %s", o.Kind, o.Temp, o.Table),
					SQL:  []string{"ALTER TABLE " + tq + " VALIDATE CONSTRAINT " + ident(o.Temp)},
				})
			}
		}
	}
	out = append(out, cons...)
	// Enum values renamed in an enum the phase created: only the new
	// version uses it, so now.
	return out, nil
}

// objectAbortSteps drop what start created: constraints first (a new
// foreign key may use a new unique index), then indexes CONCURRENTLY.
// Objects on tables created in this phase go with their table.
func (p *planner) objectAbortSteps() []Step {
	var cons, idx []string
	for i := len(p.objs.pending) - 1; i >= 0; i-- {
		o := p.objs.pending[i]
		if p.onCreated(o) {
			continue
		}
		switch o.Kind {
		case kIndex, kUnique, kPKey:
			idx = append(idx, "DROP INDEX CONCURRENTLY IF EXISTS "+qual(o.Schema, o.Temp))
		case kStats:
			cons = append(cons, "DROP STATISTICS IF EXISTS "+qual(o.Schema, o.Temp))
		default:
			cons = append(cons, "ALTER TABLE "+qual(o.Schema, o.Table)+" DROP CONSTRAINT IF EXISTS "+ident(o.Temp))
		}
	}
	var out []Step
	if len(cons) > 0 {
		out = append(out, Step{ID: "drop-new-constraints", Kind: KindSQL, Tx: true,
			Desc: "drop the constraints and statistics start added", SQL: cons,
		})
	}
	if len(idx) > 0 {
		out = append(out, Step{ID: "drop-new-indexes", Kind: KindSQL,
			Desc: "drop the indexes start built, concurrently", SQL: idx,
		})
	}
	return out
}

// objectUndo is the part of abort's undo transaction that drops the enum
// types created in this phase (after the tables and columns using them).
func (p *planner) objectUndo() []string {
	var out []string
	for i := len(p.objs.created) - 1; i >= 0; i-- {
		out = append(out, "DROP TYPE IF EXISTS "+qual(p.schema, p.objs.created[i]))
	}
	return out
}

// objectCompleteSteps drop the indexes remove_index removed, concurrently,
// once the contract has committed.
func (p *planner) objectCompleteSteps() []Step {
	if len(p.objs.removedIdx) == 0 {
		return nil
	}
	var sqls []string
	for _, name := range p.objs.removedIdx {
		sqls = append(sqls, "DROP INDEX CONCURRENTLY IF EXISTS "+qual(p.schema, name))
	}
	return []Step{{ID: "drop-removed-indexes", Kind: KindSQL,
		Desc: "drop the removed indexes, concurrently", SQL: sqls,
	}}
}

// contractPre is the part of the contract before columns and tables are
// dropped: the catalog objects that were carried or removed go (foreign keys
// first: they may use a unique index that goes too), policies are pointed at
// the shadow columns, sequences owned by replaced columns change owner and
// identity moves to the shadow column.
func (p *planner) contractPre(final map[string]*vTable) []string {
	var fks, others []string
	gone := func(schema, table string) bool {
		return schema == p.schema && p.cat.Tables[table] != nil && final[table] == nil
	}
	for _, c := range p.objs.dropped {
		if gone(c.Schema, c.Table) {
			continue
		}
		tq := qual(c.Schema, c.Table)
		switch c.Kind {
		case kIndex:
			// A carried index goes with the replaced column (DROP COLUMN
			// drops every index that uses the column).
			continue
		case kStats:
			others = append(others, "DROP STATISTICS IF EXISTS "+qual(c.Schema, c.Name))
		case kFK:
			fks = append(fks, "ALTER TABLE "+tq+" DROP CONSTRAINT IF EXISTS "+ident(c.Name))
		default:
			others = append(others, "ALTER TABLE "+tq+" DROP CONSTRAINT IF EXISTS "+ident(c.Name))
		}
	}
	out := append(fks, others...)
	for _, pol := range p.objs.policies {
		out = append(out, deparse(pol))
	}
	for _, so := range p.objs.seqOwned {
		out = append(out, "ALTER SEQUENCE "+so.Seq+" OWNED BY "+qual(p.schema, so.Table)+"."+ident(so.Column))
	}
	for _, m := range p.objs.identity {
		tq := qual(p.schema, m.Table)
		// The new version's view takes its values from the old sequence
		// until now; the column becomes an identity column, which needs
		// no view default (and the old sequence goes with the old column).
		if t := p.cur.table(physName(p.cur, m.Table)); t != nil {
			if c := colByPhys(t, m.Shadow); c != nil {
				out = append(out, "ALTER VIEW "+qual(p.version, t.Name)+" ALTER COLUMN "+ident(c.Name)+" DROP DEFAULT")
			}
		}
		kind := "BY DEFAULT"
		if m.Always {
			kind = "ALWAYS"
		}
		out = append(out,
			"ALTER TABLE "+tq+" ALTER COLUMN "+ident(m.Shadow)+" ADD GENERATED "+kind+" AS IDENTITY (SEQUENCE NAME "+
				qual(p.schema, m.Temp)+m.Options+")",
			"SELECT setval("+literal(qual(p.schema, m.Temp))+", last_value, is_called) FROM "+m.Seq)
	}
	return out
}

// contractPost is the part of the contract after the columns are renamed:
// carried objects take the names of the objects they replace, and enum
// changes that wait for complete are made.
func (p *planner) contractPost() []string {
	var out []string
	for _, m := range p.objs.identity {
		out = append(out, "ALTER SEQUENCE "+qual(p.schema, m.Temp)+" RENAME TO "+ident(m.SeqName))
	}
	for _, o := range p.objs.pending {
		c := o.Carried
		if c == nil || (o.Schema == p.schema && p.cat.Tables[o.Table] != nil && physName(p.cur, o.Table) == "") {
			continue
		}
		tq := qual(o.Schema, o.Table)
		switch o.Kind {
		case kIndex:
			out = append(out, "ALTER INDEX "+qual(o.Schema, o.Temp)+" RENAME TO "+ident(o.Name))
		case kUnique, kPKey:
			kind := "UNIQUE"
			if o.Kind == kPKey {
				kind = "PRIMARY KEY"
			}
			s := "ALTER TABLE " + tq + " ADD CONSTRAINT " + ident(o.Name) + " " + kind + " USING INDEX " + ident(o.Temp)
			if c.Deferrable {
				s += " DEFERRABLE"
				if c.Deferred {
					s += " INITIALLY DEFERRED"
				}
			}
			out = append(out, s)
		case kStats:
			out = append(out, "ALTER STATISTICS "+qual(o.Schema, o.Temp)+" RENAME TO "+ident(o.Name))
		default:
			out = append(out, "ALTER TABLE "+tq+" RENAME CONSTRAINT "+ident(o.Temp)+" TO "+ident(o.Name))
		}
		if c.Comment != nil {
			switch {
			case o.Kind == kIndex:
				out = append(out, "COMMENT ON INDEX "+qual(o.Schema, o.Name)+" IS "+literal(*c.Comment))
			case o.Kind == kStats:
				out = append(out, "COMMENT ON STATISTICS "+qual(o.Schema, o.Name)+" IS "+literal(*c.Comment))
			default:
				out = append(out, "COMMENT ON CONSTRAINT "+ident(o.Name)+" ON "+tq+" IS "+literal(*c.Comment))
			}
		}
		if c.ReplIdent {
			out = append(out, "ALTER TABLE "+tq+" REPLICA IDENTITY USING INDEX "+ident(o.Name))
		}
		if c.Clustered {
			out = append(out, "ALTER TABLE "+tq+" CLUSTER ON "+ident(o.Name))
		}
	}
	out = append(out, p.objs.enumPost...)
	return out
}

// probeObjects lets PostgreSQL judge every pending object before anything
// is changed: it builds each on an empty temporary copy of its table's
// columns as they are once start has run (shadow columns with their new
// types included), inside a rolled-back savepoint. No lock is taken on the
// real tables.
func (p *planner) probeObjects(ctx context.Context) error {
	if len(p.objs.pending) == 0 {
		return nil
	}
	// The statements to try, each with the object it checks. Building
	// stops at an object whose tables cannot be read: its error is the
	// verdict unless a statement before it fails.
	var stmts []string
	var owner []*pendObj
	var failed *pendObj
	var ferr error
	probes := map[string]string{}
	probe := func(o *pendObj, schema, table string) (string, error) {
		k := schema + "." + table
		if name, ok := probes[k]; ok {
			return name, nil
		}
		cols, err := p.probeColumns(ctx, schema, table)
		if err != nil {
			return "", err
		}
		name := fmt.Sprintf("_strata_probe_%d", len(probes))
		probes[k] = name
		stmts = append(stmts, "CREATE TEMP TABLE "+ident(name)+" ("+strings.Join(cols, ", ")+")")
		owner = append(owner, o)
		return name, nil
	}
	uniq := map[string]bool{}
	order := append([]*pendObj(nil), p.objs.pending...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].Kind.isIndex() && !order[j].Kind.isIndex() })
	for _, o := range order {
		if o.Kind == kStats {
			continue
		}
		st := pgquery.Clone(o.Stmt)
		var rerr error
		pgquery.EachRangeVar(st, func(rv *pgquery.RangeVar) {
			schema := rv.Schemaname
			if schema == "" {
				schema = p.schema
			}
			if rerr != nil {
				return
			}
			name, err := probe(o, schema, rv.Relname)
			if err != nil {
				rerr = err
			}
			rv.Schemaname, rv.Relname = "pg_temp", name
		})
		if rerr != nil {
			failed, ferr = o, rerr
			break
		}
		if is := st.GetIndexStmt(); is != nil {
			is.Concurrent = false
			is.Idxname = ""
		}
		// A foreign key needs a unique index on the referenced
		// columns; whether the real table has one is checked apart.
		for _, c := range st.GetAlterTableStmt().GetCmds() {
			con := c.GetAlterTableCmd().GetDef().GetConstraint()
			if con == nil || con.Contype != pgquery.ConstrType_CONSTR_FOREIGN || len(con.PkAttrs) == 0 {
				continue
			}
			cols := pgquery.StringList(con.PkAttrs)
			k := con.Pktable.Relname + "(" + strings.Join(cols, ",") + ")"
			if !uniq[k] {
				uniq[k] = true
				stmts = append(stmts, "CREATE UNIQUE INDEX ON pg_temp."+ident(con.Pktable.Relname)+" ("+identList(cols)+")")
				owner = append(owner, o)
			}
		}
		stmts = append(stmts, deparse(st))
		owner = append(owner, o)
	}
	i, err := p.pr.Try(ctx, stmts)
	if err != nil {
		if err = p.verdict(err); err == nil {
			return nil
		}
		failed, ferr = nil, err
		if i >= 0 && i < len(owner) {
			failed = owner[i]
		}
	}
	if ferr == nil {
		return nil
	}
	if failed == nil {
		return fmt.Errorf("engine: check indexes and constraints: %w", ferr)
	}
	err = ferr
	p.mig, p.idx = failed.Mig, failed.Idx
	if failed.Carried != nil {
		return p.errf(failed.Key, "cannot carry %s %q of table %q to the new column: %s", failed.Carried.Kind, failed.Carried.Name, failed.Carried.Table, pgDetail(err))
	}
	return p.errf(failed.Key, "%s: %s", failed.what(), pgDetail(err))
}

// probeColumns lists a table's physical columns as they are once start has
// run, as column definitions for a probe table.
func (p *planner) probeColumns(ctx context.Context, schema, table string) ([]string, error) {
	var cols []string
	if schema == p.schema {
		if pt := p.cat.Tables[table]; pt != nil {
			for _, c := range pt.Columns {
				cols = append(cols, ident(c.Name)+" "+c.Type)
			}
		}
		for _, a := range p.added[table] {
			cols = append(cols, ident(a.Name)+" "+a.Type)
		}
		if len(cols) > 0 {
			return cols, nil
		}
	}
	cols, err := p.pr.TableColumns(ctx, schema, table)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s.%s does not exist", schema, table)
	}
	return cols, nil
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
		return false, fmt.Errorf("engine: %w", err)
	}
	return found, nil
}
