package planner

import (
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/plan"
)

// completeSteps renders complete: the custom actions' complete SQL, SET NOT
// NULL on new columns (their checks validated at start), the contract
// transaction, and the removed indexes dropped concurrently after it.
func (p *planner) completeSteps() []plan.Step {
	var out []plan.Step
	out = append(out, p.completeCustom...)
	for _, x := range p.notNulls() {
		if p.notNullConstraints() {
			break // validated at start: the contract names them (notNullNamesSQL)
		}
		out = append(out, plan.Step{
			ID: "set-not-null:" + x.table + "." + x.col, Kind: plan.KindSQL, Tx: true,
			Desc: p.notNullDesc("SET NOT NULL on %s.%s using the validated check", "give the validated NOT NULL constraint on %s.%s its usual name", x),
			SQL:  p.finishNotNullSQL(x.table, x.col, x.check),
		})
	}
	out = append(out, p.identitySteps()...)
	desc := "contract to the new shape, drop the old version schema and the new one's views that became identical to their table (one transaction)"
	if p.reshape() {
		desc = "contract to the new shape, drop the old version schema; the new one keeps a view of every table (reshape style; one transaction)"
	}
	out = append(out, plan.Step{
		ID: "contract", Kind: plan.KindSQL, Tx: true,
		Desc: desc,
		SQL:  p.contractSQL(),
	})
	return append(out, p.objectCompleteSteps()...)
}

// contractSQL renders complete's single contract transaction: the old version
// schema and the sync triggers go, then every physical difference between
// the final model and the tables is applied. All of it commits together.
func (p *planner) contractSQL() []string {
	var out []string
	if p.prev != "" {
		out = append(out, p.dropVersionSchemaSQL(p.prev, "complete")...)
	}
	// The new version's clients lock its views before the tables behind
	// them: lock the views before any table, or the views dropped at the
	// end close a cycle with a client.
	if views := p.newViewNames(); len(views) > 0 {
		out = append(out, lockAllOrNone(p.version, views))
	}
	out = append(out, p.dropTombstonesSQL()...)
	out = append(out, p.crossDrop()...)
	for _, phys := range p.order {
		if p.cat.Tables[phys] != nil {
			out = append(out, "DROP TRIGGER IF EXISTS _strata_sync ON "+qual(p.schema, phys))
		}
		out = append(out, "DROP FUNCTION IF EXISTS "+p.syncFunc(phys)+"()")
	}
	final := map[string]*vTable{}
	for _, t := range p.cur.Tables {
		final[t.Phys] = t
	}
	out = append(out, p.contractPre(final)...)
	// Removed tables.
	for _, name := range p.cat.Names {
		if final[name] == nil {
			out = append(out, "DROP TABLE "+qual(p.schema, name))
		}
	}
	var renames, tail, tableRenames []string
	for _, t := range p.cur.Tables {
		tq := qual(p.schema, t.Phys)
		// Columns no version needs any more.
		used := map[string]bool{}
		for _, c := range t.Columns {
			used[c.Phys] = true
		}
		var physOrder []string
		if pt := p.cat.Tables[t.Phys]; pt != nil {
			for _, c := range pt.Columns {
				physOrder = append(physOrder, c.Name)
			}
		}
		for _, a := range p.added[t.Phys] {
			physOrder = append(physOrder, a.Name)
		}
		for _, pc := range physOrder {
			if !used[pc] {
				out = append(out, "ALTER TABLE "+tq+" DROP COLUMN "+ident(pc))
			}
		}
		// Physical state of each column after start.
		for _, c := range t.Columns {
			phDefault, phNotNull, phComment := p.physAttrs(t.Phys, c.Phys)
			if c.IdentitySeq != "" {
				// An identity column replaced by a shadow: the shadow
				// becomes the identity column (contractPre), no default.
				phDefault = c.Default
			}
			if !sameExpr(phDefault, c.Default) {
				if c.Default == nil {
					tail = append(tail, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" DROP DEFAULT")
				} else {
					tail = append(tail, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" SET DEFAULT "+*c.Default)
				}
			}
			if phNotNull && !c.NotNull {
				tail = append(tail, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(c.Phys)+" DROP NOT NULL")
			}
			if !sameExpr(phComment, c.Comment) {
				v := "NULL"
				if c.Comment != nil {
					v = literal(*c.Comment)
				}
				tail = append(tail, "COMMENT ON COLUMN "+tq+"."+ident(c.Phys)+" IS "+v)
			}
			if c.Name != c.Phys {
				renames = append(renames, "ALTER TABLE "+tq+" RENAME COLUMN "+ident(c.Phys)+" TO "+ident(c.Name))
			}
		}
		if t.Name != t.Phys {
			tableRenames = append(tableRenames, "ALTER TABLE "+tq+" RENAME TO "+ident(t.Name))
		}
	}
	// Defaults and comments refer to physical names, so they come before the renames.
	out = append(out, tail...)
	out = append(out, renames...)
	out = append(out, p.notNullNamesSQL(final)...)
	// Carried objects take their names back; they name tables by their
	// physical names, so they come before the table renames.
	out = append(out, p.contractPost()...)
	out = append(out, tableRenames...)
	return append(out, p.thinSQL()...)
}

// physAttrs reports default, NOT NULL and comment of a physical column as
// they are once start has run.
func (p *planner) physAttrs(table, col string) (*string, bool, *string) {
	for _, a := range p.added[table] {
		if a.Name == col {
			// NOT NULL of added columns is set by its own complete step.
			return a.Default, false, a.Comment
		}
	}
	if pc := p.cat.column(table, col); pc != nil {
		return pc.defaultExpr(), pc.NotNull, pc.Comment
	}
	return nil, false, nil
}

func sameExpr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// objectCompleteSteps drop the indexes remove_index removed, concurrently,
// once the contract has committed.
func (p *planner) objectCompleteSteps() []plan.Step {
	if len(p.objs.removedIdx) == 0 {
		return nil
	}
	var sqls []string
	for _, name := range p.objs.removedIdx {
		sqls = append(sqls, "DROP INDEX CONCURRENTLY IF EXISTS "+qual(p.schema, name))
	}
	return []plan.Step{{ID: "drop-removed-indexes", Kind: plan.KindSQL,
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
		if c == nil && (o.Kind == kUnique || o.Kind == kPKey) {
			// A new unique constraint or primary key (add_unique,
			// add_primary_key): its index was built at start.
			out = append(out, attachSQL(o, o.Deferrable, o.Deferred))
			continue
		}
		if c == nil || (o.Schema == p.schema && p.cat.Tables[o.Table] != nil && physName(p.cur, o.Table) == "") {
			continue
		}
		tq := qual(o.Schema, o.Table)
		switch o.Kind {
		case kIndex:
			out = append(out, "ALTER INDEX "+qual(o.Schema, o.Temp)+" RENAME TO "+ident(o.Name))
		case kUnique, kPKey:
			out = append(out, attachSQL(o, c.Deferrable, c.Deferred))
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
	for _, r := range p.objs.renamedCons {
		out = append(out, "ALTER TABLE "+qual(p.schema, r.Table)+" RENAME CONSTRAINT "+ident(r.From)+" TO "+ident(r.To))
	}
	out = append(out, p.objs.replIdent...)
	out = append(out, p.objs.enumPost...)
	return out
}

// attachSQL makes the unique index of o the unique constraint or primary
// key it backs (brief ACCESS EXCLUSIVE, no scan: the index is built).
func attachSQL(o *pendObj, deferrable, deferred bool) string {
	kind := "UNIQUE"
	if o.Kind == kPKey {
		kind = "PRIMARY KEY"
	}
	return "ALTER TABLE " + qual(o.Schema, o.Table) + " ADD CONSTRAINT " + ident(o.Name) + " " + kind + " USING INDEX " + ident(o.Temp) +
		deferrableSQL(deferrable, deferred)
}

// notNullNamesSQL renders, on PostgreSQL 18, the renames that give the NOT
// NULL constraints start added (validated, so already the columns' NOT
// NULL) the names PostgreSQL gives those it names itself,
// table_column_not_null of the final table and column names, so that the
// result matches a table made in one go. They run after the column renames,
// when the old column of a shadow, and its NOT NULL constraint, are gone.
func (p *planner) notNullNamesSQL(final map[string]*vTable) []string {
	if !p.notNullConstraints() {
		return nil
	}
	var out []string
	for _, x := range p.notNulls() {
		table := x.table
		if t := final[x.table]; t != nil {
			table = t.Name
		}
		out = append(out, "ALTER TABLE "+qual(p.schema, x.table)+" RENAME CONSTRAINT "+ident(x.check)+" TO "+ident(pgquery.ObjectName(table, x.final, "not_null")))
	}
	return out
}
