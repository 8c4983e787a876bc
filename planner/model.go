package planner

import (
	"github.com/stratapg/strata/internal/suggest"
	"github.com/stratapg/strata/migration"
)

// vColumn is a column as one app version sees it: a logical name over a
// physical column.
type vColumn struct {
	Name    string  // name in this version
	Phys    string  // physical column behind it
	Type    string  // SQL type
	NotNull bool    // NOT NULL as this version sees it
	Default *string // default expression this version's inserts get
	Comment *string
	// Generated or identity columns cannot be written by value.
	Generated bool
	// Identity is the column's identity kind: "a" (always), "d" (by
	// default) or "".
	Identity string
	// IdentitySeq, set on a shadow column that replaces an identity column,
	// is the identity's sequence (schema-qualified, quoted): inserts of the
	// new version take their values from it until complete makes the shadow
	// the identity column.
	IdentitySeq string
}

// vTable is a table as one app version sees it.
type vTable struct {
	Name    string // name in this version
	Phys    string // physical table
	Columns []*vColumn
	Key     []string // physical key columns for batching
	Created bool     // created in this phase: only the new version sees it
	ACL     []Grant
}

func (t *vTable) col(name string) *vColumn {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (t *vTable) clone() *vTable {
	n := *t
	n.Columns = make([]*vColumn, len(t.Columns))
	for i, c := range t.Columns {
		cc := *c
		n.Columns[i] = &cc
	}
	n.Key = append([]string(nil), t.Key...)
	return &n
}

// vSchema is the shape of the managed schema for one version.
type vSchema struct {
	Tables []*vTable // ordered by name when rendered
}

func (s *vSchema) table(name string) *vTable {
	for _, t := range s.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (s *vSchema) clone() *vSchema {
	n := &vSchema{Tables: make([]*vTable, len(s.Tables))}
	for i, t := range s.Tables {
		n.Tables[i] = t.clone()
	}
	return n
}

func (s *vSchema) remove(name string) {
	for i, t := range s.Tables {
		if t.Name == name {
			s.Tables = append(s.Tables[:i], s.Tables[i+1:]...)
			return
		}
	}
}

func schemaFromCatalog(c *Catalog) *vSchema {
	s := &vSchema{}
	for _, name := range c.Names {
		pt := c.Tables[name]
		t := &vTable{Name: pt.Name, Phys: pt.Name, Key: pt.Key, ACL: pt.ACL}
		for _, pc := range pt.Columns {
			t.Columns = append(t.Columns, &vColumn{
				Name: pc.Name, Phys: pc.Name, Type: pc.Type, NotNull: pc.NotNull,
				Default: pc.defaultExpr(), Comment: pc.Comment, Generated: pc.Generated != "" || pc.Identity == "a",
				Identity: pc.Identity,
			})
		}
		s.Tables = append(s.Tables, t)
	}
	return s
}

func colByPhys(t *vTable, phys string) *vColumn {
	for _, c := range t.Columns {
		if c.Phys == phys {
			return c
		}
	}
	return nil
}

// fragment assigns one physical column of the row being written from an
// expression over the row as one version sees it.
type fragment struct {
	Target string  // physical column assigned
	Expr   string  // user SQL expression
	View   *vTable // the table just before (up) or after (down) the action
	Phys   string  // physical table
	Schema string  // managed schema
	Type   string  // type of the target column
	// Where the expression was written, for errors.
	Mig *migration.Migration
	Idx int
	Key string
}

// tableSync collects what the sync trigger of one table must do.
type tableSync struct {
	Phys     string
	Up       []fragment // old version wrote: compute new columns, in order
	Down     []fragment // new version wrote: compute old columns, applied in reverse
	Backfill bool
	Set      []string // extra SET items of the backfill
}

type addedCol struct {
	Name     string
	Type     string
	Default  *string // physical default after start
	Comment  *string // physical comment after start
	NotNull  bool
	ActionNo int
	// Identity is set on an identity column added to an existing table:
	// a plain column until complete makes it the identity column.
	Identity *identityAdd
}

// colHint is " (did you mean "x"?)" for the column of t nearest to name.
func (t *vTable) colHint(name string) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return suggest.Hint(name, names)
}

// tableHint is " (did you mean "x"?)" for the table of s nearest to name.
func (s *vSchema) tableHint(name string) string {
	names := make([]string, len(s.Tables))
	for i, t := range s.Tables {
		names[i] = t.Name
	}
	return suggest.Hint(name, names)
}
