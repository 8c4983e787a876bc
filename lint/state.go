package lint

import (
	"strings"

	"github.com/strata-db/strata/internal/pgquery"
)

// catalog is what the linter knows of column types: learnt from CREATE TABLE
// and ALTER TABLE statements (of the file, and of earlier files in one
// LintPaths call) and from Config.ColumnTypes.
type catalog struct {
	cols map[string]map[string]*pgquery.TypeName // relKey -> column -> type
}

func newCatalog() *catalog { return &catalog{cols: map[string]map[string]*pgquery.TypeName{}} }

func (c *catalog) set(table, column string, tn *pgquery.TypeName) {
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

func (c *catalog) get(table, column string) *pgquery.TypeName {
	return c.cols[relKey(table)][column]
}

// addColumnTypes parses Config.ColumnTypes entries ("table.column" or
// "schema.table.column" -> type).
func (c *catalog) addColumnTypes(types map[string]string) error {
	var firstErr error
	for key, typ := range types {
		if err := c.addColumnType(key, typ); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (c *catalog) addColumnType(key, typ string) error {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 || i == len(key)-1 {
		return errorf("column type key %q is not table.column", key)
	}
	f, err := pgquery.Parse("SELECT NULL::" + typ)
	if err != nil || len(f.Statements) != 1 {
		return errorf("column type %q of %s does not parse", typ, key)
	}
	var tn *pgquery.TypeName
	pgquery.Walk(f.Statements[0].Node, func(n *pgquery.Node) bool {
		if tc := n.GetTypeCast(); tc != nil && tn == nil {
			tn = tc.TypeName
		}
		return tn == nil
	})
	if tn == nil {
		return errorf("column type %q of %s does not parse", typ, key)
	}
	c.set(key[:i], key[i+1:], tn)
	return nil
}

// constraintInfo is a table constraint the file added.
type constraintInfo struct {
	table     string // relKey of the table
	name      string
	kind      pgquery.ConstrType
	validated bool
	notNull   []string // columns a CHECK proves NOT NULL
	refTable  string   // referenced table of a FOREIGN KEY, as written
	offset    int      // where it was added, for messages
}

// state is what the statements seen so far in a file tell about the next one.
type state struct {
	cfg *Config
	cat *catalog

	created     map[string]bool   // relKey of relations (tables, indexes, views, ...) created in this file
	typesMade   map[string]bool   // types and domains created in this file
	indexTable  map[string]string // index relKey -> its table, from CREATE INDEX in this file
	constraints map[string]*constraintInfo

	fileTx bool // the runner wraps the file in a transaction
	inTx   bool // a transaction is open before the next statement
	begin  *pgquery.Statement
	// held is the strongest lock held so far in the open transaction, per
	// relKey of relations that existed before the file.
	held map[string]heldLock

	sessionTimeout bool
	localTimeout   *bool
	sessionUTC     bool
	localUTC       *bool
}

// heldLock is a lock held in the open transaction and the statement that
// took it.
type heldLock struct {
	Lock
	stmt *pgquery.Statement
}

func newState(cfg *Config, cat *catalog, fileTx bool) *state {
	if cat == nil {
		cat = newCatalog()
	}
	return &state{
		cfg:         cfg,
		cat:         cat,
		created:     map[string]bool{},
		typesMade:   map[string]bool{},
		indexTable:  map[string]string{},
		constraints: map[string]*constraintInfo{},
		held:        map[string]heldLock{},
		fileTx:      fileTx,
		inTx:        fileTx,
	}
}

// isNew reports whether the relation was created earlier in this file: no
// other session uses it yet, so its locks block nobody and it holds (next to)
// no rows.
func (st *state) isNew(rel string) bool { return rel != "" && st.created[relKey(rel)] }

// lockTimeout reports whether a lock_timeout is in effect.
func (st *state) lockTimeout() bool {
	if st.cfg.AssumeLockTimeout {
		return true
	}
	if st.inTx && st.localTimeout != nil {
		return *st.localTimeout
	}
	return st.sessionTimeout
}

// utc reports whether the session time zone is known to be UTC.
func (st *state) utc() bool {
	if st.inTx && st.localUTC != nil {
		return *st.localUTC
	}
	return st.sessionUTC
}

func constraintKey(table, name string) string { return relKey(table) + "\x00" + name }

func (st *state) constraint(table, name string) *constraintInfo {
	return st.constraints[constraintKey(table, name)]
}

// provenNotNull reports whether a validated CHECK constraint added earlier in
// the file proves column of table NOT NULL.
func (st *state) provenNotNull(table, column string) bool {
	k := relKey(table)
	for _, c := range st.constraints {
		if c.table != k || c.kind != pgquery.ConstrType_CONSTR_CHECK || !c.validated {
			continue
		}
		for _, col := range c.notNull {
			if col == column {
				return true
			}
		}
	}
	return false
}

// hasValidatedCheck reports whether a validated CHECK constraint was added to
// table earlier in the file.
func (st *state) hasValidatedCheck(table string) bool {
	k := relKey(table)
	for _, c := range st.constraints {
		if c.table == k && c.kind == pgquery.ConstrType_CONSTR_CHECK && c.validated {
			return true
		}
	}
	return false
}

// endTx closes the open transaction.
func (st *state) endTx() {
	st.inTx = false
	st.begin = nil
	st.localTimeout = nil
	st.localUTC = nil
	clear(st.held)
}

// apply records what stmt, which takes locks, changes for the statements
// after it.
func (st *state) apply(s *pgquery.Statement, locks []Lock) {
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
				st.held[k] = heldLock{Lock: l, stmt: s}
			}
		}
	}
	st.applySchema(s)
}

func (st *state) applySet(v *pgquery.VariableSetStmt) {
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

func (st *state) setVar(name string, on, local bool) {
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
func (st *state) applySetConfig(sel *pgquery.SelectStmt) {
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
func (st *state) applySchema(s *pgquery.Statement) {
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

func (st *state) applyAlterCmd(s *pgquery.Statement, table string, cmd *pgquery.AlterTableCmd) {
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
			c.validated = true
		}
	case pgquery.AlterTableType_AT_DropConstraint:
		delete(st.constraints, constraintKey(table, cmd.Name))
	}
}

// addConstraint records a CHECK or FOREIGN KEY constraint. columns is the
// column a column constraint is attached to.
func (st *state) addConstraint(s *pgquery.Statement, table string, con *pgquery.Constraint, columns []string) {
	if con.Contype != pgquery.ConstrType_CONSTR_CHECK && con.Contype != pgquery.ConstrType_CONSTR_FOREIGN {
		return
	}
	c := &constraintInfo{
		table:     relKey(table),
		name:      con.Conname,
		kind:      con.Contype,
		validated: !con.SkipValidation,
		offset:    s.Offset(con.Location),
	}
	rel := table
	if i := strings.LastIndexByte(rel, '.'); i >= 0 {
		rel = rel[i+1:]
	}
	switch con.Contype {
	case pgquery.ConstrType_CONSTR_CHECK:
		c.notNull = notNullColumns(con.RawExpr)
		if c.name == "" {
			cols := columns
			if cols == nil {
				cols = referencedColumns(con.RawExpr)
			}
			if len(cols) == 1 {
				c.name = rel + "_" + cols[0] + "_check"
			} else {
				c.name = rel + "_check"
			}
		}
	case pgquery.ConstrType_CONSTR_FOREIGN:
		c.refTable = pgquery.RelName(con.Pktable)
		if c.name == "" {
			cols := pgquery.Strs(con.FkAttrs)
			if len(cols) == 0 {
				cols = columns
			}
			c.name = rel + "_" + strings.Join(cols, "_") + "_fkey"
		}
	}
	st.constraints[constraintKey(table, c.name)] = c
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
