package convert

// pgSchema is what the converter knows of the schema a pgroll chain builds:
// enough to pick the strata action for a drop_constraint and to give a
// column's type to an up/down that keeps it. Tables made by raw SQL are
// unknown (nil lookups); the converter then warns instead of guessing.
type pgSchema struct {
	tables map[string]*pgTable
}

type pgTable struct {
	cols []*pgCol
	// cons maps a constraint name to its kind: "check", "foreign_key",
	// "unique", "primary_key", "exclude".
	cons map[string]string
	pk   bool
}

type pgCol struct {
	name string
	typ  string
}

func newPgSchema() *pgSchema { return &pgSchema{tables: map[string]*pgTable{}} }

func (s *pgSchema) table(name string) *pgTable { return s.tables[name] }

func (s *pgSchema) addTable(name string) *pgTable {
	t := &pgTable{cons: map[string]string{}}
	s.tables[name] = t
	return t
}

func (t *pgTable) col(name string) *pgCol {
	if t == nil {
		return nil
	}
	for _, c := range t.cols {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (t *pgTable) addCol(name, typ string) {
	if t == nil {
		return
	}
	if c := t.col(name); c != nil {
		c.typ = typ
		return
	}
	t.cols = append(t.cols, &pgCol{name: name, typ: typ})
}

func (t *pgTable) dropCol(name string) {
	if t == nil {
		return
	}
	for i, c := range t.cols {
		if c.name == name {
			t.cols = append(t.cols[:i], t.cols[i+1:]...)
			return
		}
	}
}

func (t *pgTable) addCon(name, kind string) {
	if t == nil || name == "" {
		return
	}
	t.cons[name] = kind
}

// serialType maps serial pseudo-types to the column type they give, for
// the same-type replacement of a serial column.
func serialType(typ string) string {
	switch lower(typ) {
	case "serial", "serial4":
		return "integer"
	case "bigserial", "serial8":
		return "bigint"
	case "smallserial", "serial2":
		return "smallint"
	}
	return typ
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
