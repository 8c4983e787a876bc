package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

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
		return fmt.Errorf("check indexes and constraints: %w", ferr)
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

// checkType verifies that typ names a type.
func (p *planner) checkType(ctx context.Context, key, typ string) error {
	if err := p.try(ctx, "SELECT NULL::"+typ); err != nil {
		return p.errf(key, "invalid type %q: %s", typ, pgMessage(err))
	}
	return nil
}

// checkExpr verifies that expr is valid over the row of t (as one version
// sees it) and can be converted to typ. Columns that do not exist yet are
// stood in for by typed NULLs. Nothing is executed: only planned.
func (p *planner) checkExpr(ctx context.Context, key string, t *vTable, expr, typ string) error {
	var cols []string
	have := p.physCols(t.Phys)
	existing := map[string]bool{}
	if pt := p.cat.Tables[t.Phys]; pt != nil {
		for _, c := range pt.Columns {
			existing[c.Name] = true
		}
	}
	_ = have
	for _, c := range t.Columns {
		if existing[c.Phys] {
			cols = append(cols, ident(c.Phys)+"::"+c.Type+" AS "+ident(c.Name))
		} else {
			cols = append(cols, "NULL::"+c.Type+" AS "+ident(c.Name))
		}
	}
	from := "(SELECT 1) AS " + ident(t.Name)
	if len(cols) > 0 {
		src := "(SELECT 1) AS s"
		if existing != nil && p.cat.Tables[t.Phys] != nil {
			src = qual(p.schema, t.Phys)
		}
		from = "(SELECT " + strings.Join(cols, ", ") + " FROM " + src + ") AS " + ident(t.Name)
	}
	q := "EXPLAIN SELECT (" + expr + ")::" + typ + " FROM " + from
	if err := p.try(ctx, q); err != nil {
		return p.errf(key, "invalid expression %q: %s", expr, pgMessage(err))
	}
	return nil
}

// fastDefault reports whether adding a column with this default fills
// existing rows without a table rewrite (the default is not volatile). It
// asks the server on a throwaway temporary table inside a rolled-back
// savepoint.
func (p *planner) fastDefault(ctx context.Context, key, typ, def string) (bool, error) {
	fast, err := p.pr.FastDefault(ctx, typ, def)
	if err = p.verdict(err); err != nil {
		return false, p.errf(key, "invalid default %q for type %s: %s", def, typ, pgMessage(err))
	}
	return fast, nil
}

// scope widens a fragment's view with the columns of the version its value
// comes from (the old version for up, the new version for down), so an
// expression may name a column as that version does even when an earlier
// action of the phase renamed it; names as of the action itself win. Then it
// checks the expression against that scope.
func (p *planner) scope(ctx context.Context, f *fragment, version *vSchema) error {
	view := f.View.clone()
	if vt := version.table(physName(version, f.Phys)); vt != nil {
		for _, c := range vt.Columns {
			if view.col(c.Name) == nil {
				cc := *c
				view.Columns = append(view.Columns, &cc)
			}
		}
	}
	f.View = view
	p.mig, p.idx = f.Mig, f.Idx
	return p.checkExpr(ctx, f.Key, view, f.Expr, f.Type)
}

// explain checks that sql plans, inside a rolled-back savepoint after the
// setup statements.
func (p *planner) explain(ctx context.Context, key string, setup []string, sql string) error {
	err := p.try(ctx, append(append([]string(nil), setup...), "EXPLAIN "+sql)...)
	if err != nil {
		return p.errf(key, "%s", pgMessage(err))
	}
	return nil
}
