package planner

// Catalog is what the planner knows of the managed schema before the
// phase: its tables as the server's catalog describes them, the names of
// all schemas and the server's major version. Prober.Catalog reads it;
// every field is plain data.
type Catalog struct {
	Schema    string
	SchemaACL []Grant
	Tables    map[string]*Table
	Names     []string // table names in order
	Schemas   map[string]bool
	PGMajor   int
}

// Table is a table of the managed schema.
type Table struct {
	OID     uint32
	Name    string
	Kind    string
	Columns []*Column
	// Key is the primary key (or, failing that, a unique index over NOT NULL
	// columns) used to batch backfills; nil when the table has neither.
	Key []string
	ACL []Grant
	// RowSecurity is true when row-level security is enabled on the table.
	RowSecurity bool
}

// Column is a column of a table as the catalog describes it. Types and
// default expressions are read with search_path = pg_catalog, so every name
// outside pg_catalog comes schema-qualified.
type Column struct {
	Name      string
	Type      string
	NotNull   bool
	Default   *string
	Identity  string // "", "a" (always) or "d" (by default)
	Generated string // "" or "s"
	Comment   *string
	Num       int
}

// Grant is a privilege granted on a schema or a table.
type Grant struct {
	Grantee   string // "" for PUBLIC
	Privilege string
}

// defaultExpr is the column's default; a generated column's expression is
// not a default.
func (c *Column) defaultExpr() *string {
	if c.Generated != "" {
		return nil
	}
	return c.Default
}

func (c *Catalog) column(table, col string) *Column {
	t := c.Tables[table]
	if t == nil {
		return nil
	}
	for _, pc := range t.Columns {
		if pc.Name == col {
			return pc
		}
	}
	return nil
}
