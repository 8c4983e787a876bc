package pgquery

// RenameColumns renames the column references of table schema.table in stmt
// through m. quals are the names an expression may qualify a column of the
// table with (besides the table's physical name). It returns how many
// references were renamed and, when strict, the names referenced that m
// does not hold.
func RenameColumns(stmt *Node, schema, table string, quals []string, m map[string]string, strict bool) (int, []string) {
	r := &renamer{m: m, quals: append([]string{table}, quals...), strict: strict}
	match := func(rv *RangeVar) bool {
		return rv != nil && rv.Relname == table && (rv.Schemaname == schema || rv.Schemaname == "")
	}
	switch {
	case stmt.GetIndexStmt() != nil:
		is := stmt.GetIndexStmt()
		if match(is.Relation) {
			r.elems(is.IndexParams)
			r.elems(is.IndexIncludingParams)
			r.expr(is.WhereClause)
		}
	case stmt.GetAlterTableStmt() != nil:
		at := stmt.GetAlterTableStmt()
		own := match(at.Relation)
		for _, c := range at.Cmds {
			con := c.GetAlterTableCmd().GetDef().GetConstraint()
			if con == nil {
				continue
			}
			if own {
				r.names(con.Keys)
				r.names(con.Including)
				r.names(con.FkAttrs)
				r.expr(con.RawExpr)
				r.expr(con.WhereClause)
				for _, ex := range con.Exclusions {
					if l := ex.GetList(); l != nil && len(l.Items) > 0 {
						r.elems(l.Items[:1])
					}
				}
			}
			if match(con.Pktable) {
				r.names(con.PkAttrs)
			}
		}
	case stmt.GetCreateStatsStmt() != nil:
		cs := stmt.GetCreateStatsStmt()
		if len(cs.Relations) == 1 && match(cs.Relations[0].GetRangeVar()) {
			for _, e := range cs.Exprs {
				if se := e.GetStatsElem(); se != nil {
					if se.Name != "" {
						se.Name = r.name(se.Name)
					}
					r.expr(se.Expr)
				}
			}
		}
	case stmt.GetAlterPolicyStmt() != nil:
		ap := stmt.GetAlterPolicyStmt()
		if match(ap.Table) {
			r.expr(ap.Qual)
			r.expr(ap.WithCheck)
		}
	}
	return r.n, r.unknown
}

type renamer struct {
	m       map[string]string
	quals   []string
	strict  bool
	n       int
	unknown []string
}

func (r *renamer) name(s string) string {
	if to, ok := r.m[s]; ok {
		if to != s {
			r.n++
		}
		return to
	}
	if r.strict {
		r.unknown = append(r.unknown, s)
	}
	return s
}

func (r *renamer) names(list []*Node) {
	for _, x := range list {
		if s := x.GetString_(); s != nil {
			s.Sval = r.name(s.Sval)
		}
	}
}

func (r *renamer) elems(list []*Node) {
	for _, x := range list {
		if ie := x.GetIndexElem(); ie != nil {
			if ie.Name != "" {
				ie.Name = r.name(ie.Name)
			}
			r.expr(ie.Expr)
		}
	}
}

// expr renames column references in an expression. References inside
// sub-selects are left alone unless qualified with the table's name: an
// unqualified name there may be a column of the sub-select's own tables.
func (r *renamer) expr(e *Node) {
	if e == nil {
		return
	}
	var visit func(n *Node, inSub bool)
	visit = func(n *Node, inSub bool) {
		Walk(n, func(x *Node) bool {
			if sl := x.GetSubLink(); sl != nil && !inSub {
				if sl.Testexpr != nil {
					visit(sl.Testexpr, false)
				}
				if sl.Subselect != nil {
					visit(sl.Subselect, true)
				}
				return false
			}
			cr := x.GetColumnRef()
			if cr == nil {
				return true
			}
			switch f := cr.Fields; len(f) {
			case 1:
				if s := f[0].GetString_(); s != nil && !inSub {
					s.Sval = r.name(s.Sval)
				}
			case 2:
				q, s := f[0].GetString_(), f[1].GetString_()
				if q != nil && s != nil && contains(r.quals, q.Sval) {
					s.Sval = r.name(s.Sval)
					if !inSub {
						// Unqualified, so the expression survives a table rename.
						cr.Fields = f[1:]
					}
				}
			}
			return false
		})
	}
	visit(e, false)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// EachRangeVar calls fn for every relation a statement of the kinds
// RenameColumns handles names (an index, a constraint, its referenced table,
// a statistics object).
func EachRangeVar(st *Node, fn func(*RangeVar)) {
	switch {
	case st.GetIndexStmt() != nil:
		fn(st.GetIndexStmt().Relation)
	case st.GetAlterTableStmt() != nil:
		at := st.GetAlterTableStmt()
		fn(at.Relation)
		for _, c := range at.Cmds {
			if con := c.GetAlterTableCmd().GetDef().GetConstraint(); con != nil && con.Pktable != nil {
				fn(con.Pktable)
			}
		}
	case st.GetCreateStatsStmt() != nil:
		for _, r := range st.GetCreateStatsStmt().Relations {
			fn(r.GetRangeVar())
		}
	}
}

// StringList returns the values of the String nodes of list.
func StringList(list []*Node) []string {
	var out []string
	for _, x := range list {
		if s := x.GetString_(); s != nil {
			out = append(out, s.Sval)
		}
	}
	return out
}

// QualifyColumns returns expr with every unqualified column reference
// qualified by qual (a table name or alias), so that the expression keeps
// its meaning where another table's columns are in scope too. References
// inside subqueries are left alone: they may name the subquery's own
// columns.
func QualifyColumns(expr, qual string) (string, error) {
	n, err := ParseExpr(expr)
	if err != nil {
		return "", err
	}
	Walk(n, func(x *Node) bool {
		if x.GetSubLink() != nil {
			return false
		}
		if cr := x.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
			cr.Fields = append([]*Node{StrNode(qual)}, cr.Fields...)
		}
		return true
	})
	return DeparseExpr(n)
}

// RenameExprColumns renames, through m, the column references of table in
// an SQL expression (unqualified, or qualified with table) and returns the
// expression deparsed, with how many references it renamed.
func RenameExprColumns(expr, table string, m map[string]string) (string, int, error) {
	n, err := ParseExpr(expr)
	if err != nil {
		return "", 0, err
	}
	r := &renamer{m: m, quals: []string{table}}
	r.expr(n)
	out, err := DeparseExpr(n)
	return out, r.n, err
}
