package pglock

import (
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// Catalog is what is known of column types: learnt from CREATE TABLE and
// ALTER TABLE statements applied to a State using it, and from
// Config.ColumnTypes. Several States may share one Catalog in turn, so that
// a script knows the columns earlier scripts declared.
type Catalog struct {
	cols map[string]map[string]*pgquery.TypeName // relKey -> column -> type
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{cols: map[string]map[string]*pgquery.TypeName{}} }

func (c *Catalog) set(table, column string, tn *pgquery.TypeName) {
	k := relKey(table)
	m := c.cols[k]
	if m == nil {
		m = map[string]*pgquery.TypeName{}
		c.cols[k] = m
	}
	if base, ok := pgquery.SerialType(pgquery.TypeBase(tn)); ok && len(tn.ArrayBounds) == 0 {
		tn = &pgquery.TypeName{Names: []*pgquery.Node{pgquery.StrNode("pg_catalog"), pgquery.StrNode(base)}}
	}
	m[column] = tn
}

func (c *Catalog) get(table, column string) *pgquery.TypeName {
	return c.cols[relKey(table)][column]
}

// AddColumnTypes parses Config.ColumnTypes entries ("table.column" or
// "schema.table.column" -> type).
func (c *Catalog) AddColumnTypes(types map[string]string) error {
	var firstErr error
	for key, typ := range types {
		if err := c.addColumnType(key, typ); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (c *Catalog) addColumnType(key, typ string) error {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 || i == len(key)-1 {
		return fmt.Errorf("column type key %q is not table.column", key)
	}
	f, err := pgquery.Parse("SELECT NULL::" + typ)
	if err != nil || len(f.Statements) != 1 {
		return fmt.Errorf("column type %q of %s does not parse", typ, key)
	}
	var tn *pgquery.TypeName
	pgquery.Walk(f.Statements[0].Node, func(n *pgquery.Node) bool {
		if tc := n.GetTypeCast(); tc != nil && tn == nil {
			tn = tc.TypeName
		}
		return tn == nil
	})
	if tn == nil {
		return fmt.Errorf("column type %q of %s does not parse", typ, key)
	}
	c.set(key[:i], key[i+1:], tn)
	return nil
}

// Constraint is a CHECK or FOREIGN KEY constraint an earlier statement
// added.
type Constraint struct {
	// Table is the table's name, without a "public." prefix.
	Table string
	// Name is the constraint's name, as written or as PostgreSQL makes it.
	Name string
	// Kind is CONSTR_CHECK or CONSTR_FOREIGN.
	Kind pgquery.ConstrType
	// Validated is false for a constraint added NOT VALID and not validated
	// since.
	Validated bool
	// NotNull are the columns a CHECK proves NOT NULL.
	NotNull []string
	// RefTable is the table a FOREIGN KEY references, as written.
	RefTable string
	// Offset is the byte offset where the constraint was added.
	Offset int
}

// State is what the statements applied so far (a file, in order) tell about
// the next one: relations, types and constraints they created, column types,
// the open transaction and the locks it holds, and the session's
// lock_timeout and time zone. Classify a statement with Classify, then
// record it with Apply.
type State struct {
	cfg Config
	cat *Catalog

	created     map[string]bool   // relKey of relations (tables, indexes, views, ...) created in this file
	typesMade   map[string]bool   // types and domains created in this file
	indexTable  map[string]string // index relKey -> its table, from CREATE INDEX in this file
	constraints map[string]*Constraint
	// byTable indexes constraints by the relKey of their table, so that the
	// checks per statement do not scan every constraint of the file.
	byTable map[string]map[string]*Constraint

	inTx  bool // a transaction is open before the next statement
	begin *pgquery.Statement
	// held is the strongest lock held so far in the open transaction, per
	// relKey of relations that existed before the file.
	held map[string]HeldLock

	sessionTimeout bool
	localTimeout   *bool
	sessionUTC     bool
	localUTC       *bool
}

// HeldLock is a lock held in the open transaction and the statement that
// took it.
type HeldLock struct {
	Lock
	// Stmt is the statement that took the lock.
	Stmt *pgquery.Statement
}

// NewState returns the state before the first statement. cfg.InTransaction
// tells that a transaction is open from the start; cfg.ColumnTypes is not
// read (add it to cat). cat collects the column types the statements
// declare; nil means a new, empty catalog.
func NewState(cfg Config, cat *Catalog) *State {
	if cat == nil {
		cat = NewCatalog()
	}
	return &State{
		cfg:         cfg.normalized(),
		cat:         cat,
		created:     map[string]bool{},
		typesMade:   map[string]bool{},
		indexTable:  map[string]string{},
		constraints: map[string]*Constraint{},
		byTable:     map[string]map[string]*Constraint{},
		held:        map[string]HeldLock{},
		inTx:        cfg.InTransaction,
	}
}

// IsNew reports whether the relation was created by an earlier statement: no
// other session uses it yet, so its locks block nobody and it holds (next to)
// no rows.
func (st *State) IsNew(rel string) bool { return rel != "" && st.created[relKey(rel)] }

// TypeCreated reports whether the type or domain name (as written,
// schema-qualified if it was) was created by an earlier statement.
func (st *State) TypeCreated(name string) bool { return st.typesMade[name] }

// ColumnType returns the known type of column of table, or nil.
func (st *State) ColumnType(table, column string) *pgquery.TypeName { return st.cat.get(table, column) }

// InTransaction reports whether a transaction block is open before the next
// statement (opened by BEGIN or by the runner, per Config.InTransaction).
func (st *State) InTransaction() bool { return st.inTx }

// Begin returns the BEGIN (or START TRANSACTION) statement that opened the
// transaction in progress, or nil when none did (no transaction, or the one
// the runner opened).
func (st *State) Begin() *pgquery.Statement { return st.begin }

// Held returns the strongest lock the transaction in progress holds on rel,
// a relation that existed before the first statement.
func (st *State) Held(rel string) (HeldLock, bool) {
	h, ok := st.held[relKey(rel)]
	return h, ok
}

// HeldLocks returns the locks the transaction in progress holds on relations
// that existed before the first statement, one per relation, in no
// particular order.
func (st *State) HeldLocks() []HeldLock {
	out := make([]HeldLock, 0, len(st.held))
	for _, h := range st.held {
		out = append(out, h)
	}
	return out
}

// LockTimeout reports whether a SET (or SET LOCAL, or set_config) of
// lock_timeout to a non-zero value is in effect.
func (st *State) LockTimeout() bool {
	if st.inTx && st.localTimeout != nil {
		return *st.localTimeout
	}
	return st.sessionTimeout
}

// utc reports whether the session time zone is known to be UTC.
func (st *State) utc() bool {
	if st.inTx && st.localUTC != nil {
		return *st.localUTC
	}
	return st.sessionUTC
}

func constraintKey(table, name string) string { return relKey(table) + "\x00" + name }

func (st *State) constraint(table, name string) *Constraint {
	return st.constraints[constraintKey(table, name)]
}

// Constraint returns the CHECK or FOREIGN KEY constraint name of table that
// an earlier statement added (and no later one dropped).
func (st *State) Constraint(table, name string) (Constraint, bool) {
	if c := st.constraint(table, name); c != nil {
		return *c, true
	}
	return Constraint{}, false
}

// ProvenNotNull reports whether a validated CHECK constraint added by an
// earlier statement proves column of table NOT NULL.
func (st *State) ProvenNotNull(table, column string) bool {
	for _, c := range st.byTable[relKey(table)] {
		if c.Kind != pgquery.ConstrType_CONSTR_CHECK || !c.Validated {
			continue
		}
		for _, col := range c.NotNull {
			if col == column {
				return true
			}
		}
	}
	return false
}

// HasValidatedCheck reports whether a validated CHECK constraint was added to
// table by an earlier statement.
func (st *State) HasValidatedCheck(table string) bool {
	for _, c := range st.byTable[relKey(table)] {
		if c.Kind == pgquery.ConstrType_CONSTR_CHECK && c.Validated {
			return true
		}
	}
	return false
}

// endTx closes the open transaction.
func (st *State) endTx() {
	st.inTx = false
	st.begin = nil
	st.localTimeout = nil
	st.localUTC = nil
	clear(st.held)
}

// Apply records what s, which takes locks (as Classify returned them),
// changes for the statements after it.
func (st *State) Apply(s *pgquery.Statement, locks []Lock) {
	n := s.Node
	switch {
	case n.GetTransactionStmt() != nil:
		switch n.GetTransactionStmt().Kind {
		case pgquery.TransactionStmtKind_TRANS_STMT_BEGIN, pgquery.TransactionStmtKind_TRANS_STMT_START:
			if st.begin == nil {
				st.begin = s
			}
			st.inTx = true
		case pgquery.TransactionStmtKind_TRANS_STMT_COMMIT, pgquery.TransactionStmtKind_TRANS_STMT_ROLLBACK,
			pgquery.TransactionStmtKind_TRANS_STMT_PREPARE:
			st.endTx()
		}
		return
	case n.GetVariableSetStmt() != nil:
		st.applySet(n.GetVariableSetStmt())
		return
	case n.GetSelectStmt() != nil:
		st.applySetConfig(n.GetSelectStmt())
	}
	if st.inTx {
		for _, l := range locks {
			k := relKey(l.Relation)
			if st.created[k] {
				continue
			}
			if h, ok := st.held[k]; !ok || l.Mode > h.Mode {
				st.held[k] = HeldLock{Lock: l, Stmt: s}
			}
		}
	}
	st.applySchema(s)
}

func (st *State) applySet(v *pgquery.VariableSetStmt) {
	var on bool
	switch v.Kind {
	case pgquery.VariableSetKind_VAR_SET_VALUE:
		if len(v.Args) == 1 {
			val, _ := pgquery.ConstString(v.Args[0])
			switch v.Name {
			case "lock_timeout":
				on = !isZeroDuration(val)
			case "timezone":
				on = utcZones[strings.ToLower(val)]
			}
		}
	case pgquery.VariableSetKind_VAR_SET_DEFAULT, pgquery.VariableSetKind_VAR_RESET:
	case pgquery.VariableSetKind_VAR_RESET_ALL:
		st.sessionTimeout, st.sessionUTC = false, false
		st.localTimeout, st.localUTC = nil, nil
		return
	default:
		return
	}
	st.setVar(v.Name, on, v.IsLocal)
}

func (st *State) setVar(name string, on, local bool) {
	var session *bool
	var loc **bool
	switch name {
	case "lock_timeout":
		session, loc = &st.sessionTimeout, &st.localTimeout
	case "timezone":
		session, loc = &st.sessionUTC, &st.localUTC
	default:
		return
	}
	switch {
	case local && st.inTx:
		*loc = &on
	case local:
		// SET LOCAL outside a transaction block has no effect.
	case st.inTx:
		// SET in a transaction lasts for the session (if the transaction
		// commits) and overrides an earlier SET LOCAL.
		*session = on
		*loc = nil
	default:
		*session = on
	}
}

// applySetConfig handles SELECT set_config('lock_timeout', '5s', is_local).
func (st *State) applySetConfig(sel *pgquery.SelectStmt) {
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil || rt.Val == nil {
			continue
		}
		fc := rt.Val.GetFuncCall()
		if fc == nil || pgquery.FuncName(fc) != "set_config" || len(fc.Args) != 3 {
			continue
		}
		name, ok1 := pgquery.ConstString(fc.Args[0])
		val, ok2 := pgquery.ConstString(fc.Args[1])
		local, ok3 := pgquery.ConstString(fc.Args[2])
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		name = strings.ToLower(name)
		on := !isZeroDuration(val)
		if name == "timezone" {
			on = utcZones[strings.ToLower(val)]
		}
		st.setVar(name, on, local == "true")
	}
}

// isZeroDuration reports whether a lock_timeout value disables the timeout.
func isZeroDuration(v string) bool {
	v = strings.TrimSpace(strings.ToLower(v))
	v = strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz ")
	for _, c := range v {
		if c != '0' && c != '.' {
			return false
		}
	}
	return true
}

// applySchema records created relations, constraints and column types.
func (st *State) applySchema(s *pgquery.Statement) {
	n := s.Node
	switch {
	case n.GetCreateStmt() != nil:
		cs := n.GetCreateStmt()
		table := pgquery.RelName(cs.Relation)
		st.created[relKey(table)] = true
		for _, e := range cs.TableElts {
			if cd := e.GetColumnDef(); cd != nil {
				st.cat.set(table, cd.Colname, cd.TypeName)
				for _, c := range cd.Constraints {
					if con := c.GetConstraint(); con != nil {
						st.addConstraint(s, table, con, []string{cd.Colname})
					}
				}
			}
			if con := e.GetConstraint(); con != nil {
				st.addConstraint(s, table, con, nil)
			}
		}
	case n.GetCreateTableAsStmt() != nil:
		if into := n.GetCreateTableAsStmt().Into; into != nil {
			st.created[relKey(pgquery.RelName(into.Rel))] = true
		}
	case n.GetViewStmt() != nil:
		st.created[relKey(pgquery.RelName(n.GetViewStmt().View))] = true
	case n.GetCreateSeqStmt() != nil:
		st.created[relKey(pgquery.RelName(n.GetCreateSeqStmt().Sequence))] = true
	case n.GetIndexStmt() != nil:
		is := n.GetIndexStmt()
		if is.Idxname != "" {
			name := is.Idxname
			if is.Relation.Schemaname != "" {
				name = is.Relation.Schemaname + "." + name
			}
			st.indexTable[relKey(name)] = pgquery.RelName(is.Relation)
			st.created[relKey(name)] = true
		}
	case n.GetCreateDomainStmt() != nil:
		st.typesMade[pgquery.Qualified(n.GetCreateDomainStmt().Domainname)] = true
	case n.GetCreateEnumStmt() != nil:
		st.typesMade[pgquery.Qualified(n.GetCreateEnumStmt().TypeName)] = true
	case n.GetCompositeTypeStmt() != nil:
		st.typesMade[pgquery.RelName(n.GetCompositeTypeStmt().Typevar)] = true
	case n.GetAlterTableStmt() != nil:
		at := n.GetAlterTableStmt()
		table := pgquery.RelName(at.Relation)
		for _, c := range at.Cmds {
			st.applyAlterCmd(s, table, c.GetAlterTableCmd())
		}
	case n.GetRenameStmt() != nil:
		rs := n.GetRenameStmt()
		switch rs.RenameType {
		case pgquery.ObjectType_OBJECT_TABLE, pgquery.ObjectType_OBJECT_INDEX, pgquery.ObjectType_OBJECT_VIEW,
			pgquery.ObjectType_OBJECT_MATVIEW, pgquery.ObjectType_OBJECT_SEQUENCE:
			old := pgquery.RelName(rs.Relation)
			nw := rs.Newname
			if rs.Relation.Schemaname != "" {
				nw = rs.Relation.Schemaname + "." + nw
			}
			if st.created[relKey(old)] {
				st.created[relKey(nw)] = true
			}
			if cols, ok := st.cat.cols[relKey(old)]; ok {
				st.cat.cols[relKey(nw)] = cols
				delete(st.cat.cols, relKey(old))
			}
		case pgquery.ObjectType_OBJECT_COLUMN:
			table := pgquery.RelName(rs.Relation)
			if tn := st.cat.get(table, rs.Subname); tn != nil {
				delete(st.cat.cols[relKey(table)], rs.Subname)
				st.cat.set(table, rs.Newname, tn)
			}
		}
	case n.GetDropStmt() != nil:
		ds := n.GetDropStmt()
		switch ds.RemoveType {
		case pgquery.ObjectType_OBJECT_TABLE, pgquery.ObjectType_OBJECT_INDEX, pgquery.ObjectType_OBJECT_VIEW,
			pgquery.ObjectType_OBJECT_MATVIEW, pgquery.ObjectType_OBJECT_SEQUENCE:
			for _, o := range ds.Objects {
				k := relKey(pgquery.Qualified(pgquery.ListItems(o)))
				delete(st.cat.cols, k)
			}
		}
	}
}

func (st *State) applyAlterCmd(s *pgquery.Statement, table string, cmd *pgquery.AlterTableCmd) {
	if cmd == nil {
		return
	}
	switch cmd.Subtype {
	case pgquery.AlterTableType_AT_AddColumn:
		if cd := cmd.Def.GetColumnDef(); cd != nil {
			st.cat.set(table, cd.Colname, cd.TypeName)
			for _, c := range cd.Constraints {
				if con := c.GetConstraint(); con != nil {
					st.addConstraint(s, table, con, []string{cd.Colname})
				}
			}
		}
	case pgquery.AlterTableType_AT_AlterColumnType:
		if cd := cmd.Def.GetColumnDef(); cd != nil {
			st.cat.set(table, cmd.Name, cd.TypeName)
		}
	case pgquery.AlterTableType_AT_DropColumn:
		delete(st.cat.cols[relKey(table)], cmd.Name)
	case pgquery.AlterTableType_AT_AddConstraint:
		if con := cmd.Def.GetConstraint(); con != nil {
			st.addConstraint(s, table, con, nil)
		}
	case pgquery.AlterTableType_AT_ValidateConstraint:
		if c := st.constraint(table, cmd.Name); c != nil {
			c.Validated = true
		}
	case pgquery.AlterTableType_AT_DropConstraint:
		key := constraintKey(table, cmd.Name)
		delete(st.constraints, key)
		delete(st.byTable[relKey(table)], key)
	}
}

// addConstraint records a CHECK or FOREIGN KEY constraint. columns is the
// column a column constraint is attached to.
func (st *State) addConstraint(s *pgquery.Statement, table string, con *pgquery.Constraint, columns []string) {
	if con.Contype != pgquery.ConstrType_CONSTR_CHECK && con.Contype != pgquery.ConstrType_CONSTR_FOREIGN {
		return
	}
	c := &Constraint{
		Table:     relKey(table),
		Name:      con.Conname,
		Kind:      con.Contype,
		Validated: !con.SkipValidation,
		Offset:    s.Offset(con.Location),
	}
	rel := table
	if i := strings.LastIndexByte(rel, '.'); i >= 0 {
		rel = rel[i+1:]
	}
	switch con.Contype {
	case pgquery.ConstrType_CONSTR_CHECK:
		c.NotNull = notNullColumns(con.RawExpr)
		if c.Name == "" {
			cols := columns
			if cols == nil {
				cols = referencedColumns(con.RawExpr)
			}
			if len(cols) == 1 {
				c.Name = rel + "_" + cols[0] + "_check"
			} else {
				c.Name = rel + "_check"
			}
		}
	case pgquery.ConstrType_CONSTR_FOREIGN:
		c.RefTable = pgquery.RelName(con.Pktable)
		if c.Name == "" {
			cols := pgquery.Strs(con.FkAttrs)
			if len(cols) == 0 {
				cols = columns
			}
			c.Name = rel + "_" + strings.Join(cols, "_") + "_fkey"
		}
	}
	key := constraintKey(table, c.Name)
	st.constraints[key] = c
	if st.byTable[c.Table] == nil {
		st.byTable[c.Table] = map[string]*Constraint{}
	}
	st.byTable[c.Table][key] = c
}

// notNullColumns returns the columns a CHECK expression proves NOT NULL:
// "col IS NOT NULL", possibly AND-ed with other conditions.
func notNullColumns(expr *pgquery.Node) []string {
	if expr == nil {
		return nil
	}
	if nt := expr.GetNullTest(); nt != nil {
		if nt.Nulltesttype == pgquery.NullTestType_IS_NOT_NULL {
			if name, ok := pgquery.ColumnRefName(nt.Arg); ok {
				return []string{name}
			}
		}
		return nil
	}
	if be := expr.GetBoolExpr(); be != nil && be.Boolop == pgquery.BoolExprType_AND_EXPR {
		var out []string
		for _, a := range be.Args {
			out = append(out, notNullColumns(a)...)
		}
		return out
	}
	return nil
}

// referencedColumns returns the distinct column names an expression uses.
func referencedColumns(expr *pgquery.Node) []string {
	var out []string
	seen := map[string]bool{}
	pgquery.Walk(expr, func(n *pgquery.Node) bool {
		if name, ok := pgquery.ColumnRefName(n); ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
		return true
	})
	return out
}
