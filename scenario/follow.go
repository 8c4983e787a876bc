package scenario

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// follow adds, recursively, every table that references a planned table
// by a foreign key, filtered to the rows that reference copied rows. The
// search is depth-first; an edge back to a table on the current path closes
// a cycle, which is reported and not followed. The remaining edges form a
// DAG, and each followed table's filter is the OR, over its edges from
// copied tables, of "its columns IN (the parent's key columns of the
// parent's rows)" with the parent's own filter inside.
func follow(roots []*planned, cat *catalog, schema string) ([]*planned, [][]string, error) {
	const white, gray, black = 0, 1, 2
	color := map[string]int{}
	isRoot := map[string]bool{}
	for _, r := range roots {
		isRoot[r.info.Name] = true
	}
	in := map[string][]fk{}
	var order []string // discovery order of followed tables
	var post []string
	var cycles [][]string
	var path []string
	var visit func(p string)
	visit = func(p string) {
		color[p] = gray
		path = append(path, p)
		edges := append([]fk(nil), cat.byParent[p]...)
		sort.SliceStable(edges, func(i, j int) bool { return edges[i].Child < edges[j].Child })
		for _, f := range edges {
			c := f.Child
			switch {
			case c == p || color[c] == gray:
				i := len(path) - 1
				for i > 0 && path[i] != c {
					i--
				}
				cyc := append([]string{}, path[i:]...)
				cycles = append(cycles, append(cyc, c))
			case isRoot[c]:
				// A --table table keeps its own filter.
			case color[c] == black:
				in[c] = append(in[c], f)
			default:
				in[c] = append(in[c], f)
				order = append(order, c)
				visit(c)
			}
		}
		path = path[:len(path)-1]
		color[p] = black
		post = append(post, p)
	}
	for _, r := range roots {
		if color[r.info.Name] == white {
			visit(r.info.Name)
		}
	}
	filters := map[string]*string{}
	for _, r := range roots {
		filters[r.info.Name] = r.filter
	}
	// Reverse post-order: parents before the tables that reference them.
	var out []*planned
	byName := map[string]*planned{}
	for i := len(post) - 1; i >= 0; i-- {
		c := post[i]
		if isRoot[c] {
			continue
		}
		t := cat.tables[c]
		if len(t.Key) == 0 {
			return nil, nil, &InputError{Flag: "--follow", Msg: fmt.Sprintf("table %q (which references a copied table) has no primary key", c), Hint: "add a primary key, or copy without --follow"}
		}
		var ors, via []string
		for _, f := range in[c] {
			sub := "SELECT " + pgquery.IdentList(f.ParentCols) + " FROM " + pgquery.Qual(schema, f.Parent)
			if pf := filters[f.Parent]; pf != nil {
				sub += " WHERE (" + *pf + ")"
			}
			ors = append(ors, "("+pgquery.IdentList(f.Cols)+") IN ("+sub+")")
			via = append(via, c+"("+strings.Join(f.Cols, ", ")+") -> "+f.Parent)
		}
		expr := strings.Join(ors, " OR ")
		filters[c] = &expr
		p := &planned{info: t, filter: &expr, via: strings.Join(via, "; ")}
		byName[c] = p
	}
	for _, c := range order {
		out = append(out, byName[c])
	}
	return out, cycles, nil
}
