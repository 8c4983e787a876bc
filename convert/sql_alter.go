package convert

// ALTER TABLE and renames, and the merging of consecutive alter_column
// actions.

import (
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

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
