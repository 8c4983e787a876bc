package convert

// CREATE TABLE: columns and constraints.

import (
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

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
	t.SetTables("foreign_keys", fks)
	t.SetTables("checks", checks)
	t.SetTables("unique", uniques)
	t.SetTables("exclude", excludes)
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
