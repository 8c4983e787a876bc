// Package catalog is strata's one reader of the PostgreSQL catalog for the
// structure of a managed schema: Read returns a Schema, a list of objects in
// dependency order, each with the SQL that creates and drops it and the
// attributes that drift compares. It reads with a constant number of
// queries, whatever the number of objects, and leaves out strata's own
// objects (names starting with _strata_).
package catalog

import (
	"container/heap"
	"sort"
	"strings"
)

// Object kinds.
const (
	KindSchema     = "schema"
	KindExtension  = "extension"
	KindEnum       = "enum"
	KindDomain     = "domain"
	KindComposite  = "composite type"
	KindSequence   = "sequence"
	KindFunction   = "function"
	KindProcedure  = "procedure"
	KindTable      = "table"
	KindColumn     = "column"
	KindView       = "view"
	KindMatView    = "materialized view"
	KindConstraint = "constraint"
	KindIndex      = "index"
	KindTrigger    = "trigger"
	KindPolicy     = "policy"
)

// rank orders the kinds where dependencies do not decide.
var rank = map[string]int{
	KindSchema: 0, KindExtension: 1, KindEnum: 2, KindDomain: 3, KindComposite: 4, KindSequence: 5,
	KindFunction: 6, KindProcedure: 6, KindTable: 7, KindColumn: 7, KindView: 8, KindMatView: 9,
	KindConstraint: 10, KindIndex: 11, KindTrigger: 12, KindPolicy: 13,
}

// Attr is one compared property of an object.
type Attr struct {
	Name, Value string
}

// Object is one object of the managed schema.
type Object struct {
	Kind string
	// Name is the object's display name: qualified for schema objects
	// (public.users), table-qualified for the parts of a table
	// (public.users.email, public.users.users_pkey).
	Name string
	// Create creates the object with its comment, owner and grants; Drop
	// drops it. A column's Create adds it to its table.
	Create, Drop string
	// Replace changes an existing object to this definition without
	// dropping it (views, functions, sequences); empty: drop and create.
	Replace string
	// Later holds statements that must wait for all objects (a sequence's
	// OWNED BY).
	Later string
	// Attrs are what drift compares, in a fixed order.
	Attrs []Attr
	// InTable: a column, written inside its table's CREATE TABLE by dump.
	InTable bool
	// Meta: the comment, owner and grants statements alone (drift --write
	// uses them when only those differ).
	Meta string
	// CommentOn is "COMMENT ON <kind> <name>".
	CommentOn string
	// Revoke takes back the object's grants (but the owner's).
	Revoke string
	// Alter, for columns: attribute name -> statement that sets it.
	Alter map[string]string

	labels     []string // an enum's values
	domainCons []string // a domain's constraints
	id         string   // class/oid
	deps       []string // ids it depends on
}

// Labels returns an enum's values in order.
func (o *Object) Labels() []string { return o.labels }

// Key identifies an object across databases.
func (o *Object) Key() string { return o.Kind + " " + o.Name }

// Attr returns the value of the attribute name.
func (o *Object) Attr(name string) string {
	for _, a := range o.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Schema is the structure of one managed schema.
type Schema struct {
	Name    string
	Objects []*Object
	// Queries is the number of catalog queries Read ran.
	Queries int
}

// Lookup returns the object with key, or nil.
func (s *Schema) Lookup(key string) *Object {
	for _, o := range s.Objects {
		if o.Key() == key {
			return o
		}
	}
	return nil
}

// order sorts objects by dependencies, ties broken by kind rank then name;
// a cycle (which PostgreSQL records only through bodies strata does not
// check) is broken in the same order.
func order(objs []*Object) []*Object {
	less := func(a, b *Object) bool {
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Kind < b.Kind
	}
	sort.SliceStable(objs, func(i, j int) bool { return less(objs[i], objs[j]) })
	byID := map[string]*Object{}
	for _, o := range objs {
		if o.id != "" {
			byID[o.id] = o
		}
	}
	indeg := map[*Object]int{}
	users := map[*Object][]*Object{}
	for _, o := range objs {
		seen := map[*Object]bool{}
		for _, d := range o.deps {
			p := byID[d]
			if p == nil || p == o || seen[p] {
				continue
			}
			seen[p] = true
			indeg[o]++
			users[p] = append(users[p], o)
		}
	}
	// Kahn's algorithm, always taking the ready object that sorts first.
	pos := make(map[*Object]int, len(objs))
	for i, o := range objs {
		pos[o] = i
	}
	ready := &intHeap{}
	for i, o := range objs {
		if indeg[o] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]*Object, 0, len(objs))
	done := make([]bool, len(objs))
	next := 0 // the first object not done, for breaking cycles
	for len(out) < len(objs) {
		var i int
		if ready.Len() > 0 {
			i = heap.Pop(ready).(int)
			if done[i] {
				continue
			}
		} else { // a cycle: take the first left
			for done[next] {
				next++
			}
			i = next
		}
		done[i] = true
		o := objs[i]
		out = append(out, o)
		for _, u := range users[o] {
			indeg[u]--
			if indeg[u] == 0 && !done[pos[u]] {
				heap.Push(ready, pos[u])
			}
		}
	}
	return out
}

// Literal quotes a string literal.
func Literal(s string) string {
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
