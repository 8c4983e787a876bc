package planner

import "context"

// Prober answers every question the planner asks the database server. It is
// the planner's only way to the server: TxProber implements it over the
// scratch transaction the engine plans in (and always rolls back); a test
// may implement it over recorded answers.
//
// Every method takes the context first, and every argument and result is
// plain data (strings, numbers, booleans, slices and structs of them, and
// errors), so that the questions and answers can be recorded and replayed.
//
// A few methods are checks: they run their statements inside a savepoint
// that is always rolled back, and their error is PostgreSQL's verdict
// (Try, FastDefault, ResolveTypes, Collatable). The planner judges these
// errors itself (a lock timeout gives no verdict and makes the engine
// retry planning; an enum value added earlier in the phase cannot be used
// before it commits, which gives no verdict either). An error of any other
// method is a failure to read the catalog.
type Prober interface {
	// Catalog reads the tables of the managed schema (with search_path =
	// pg_catalog, so that names outside pg_catalog come qualified), the
	// names of all schemas and the server's major version.
	Catalog(ctx context.Context, schema string) (*Catalog, error)
	// SetSearchPath sets the search_path of the rest of planning (the
	// path is SQL, quoted as needed).
	SetSearchPath(ctx context.Context, path string) error
	// Apply runs a statement for the rest of planning, so that later
	// checks see what it creates (CREATE TYPE, ALTER TYPE ... ADD VALUE,
	// ...). Nothing of it survives planning.
	Apply(ctx context.Context, stmt string) error

	// Try runs stmts in order inside a savepoint that is always rolled
	// back, and returns the index and error of the first one that fails
	// (-1 and the error when the savepoint itself fails; 0 and nil when
	// all succeed).
	Try(ctx context.Context, stmts []string) (int, error)
	// FastDefault reports whether adding a column of type typ with default
	// def fills existing rows without a rewrite (the default is computed
	// once and stored: atthasmissing). It adds such a column to a
	// temporary table inside a rolled-back savepoint.
	FastDefault(ctx context.Context, typ, def string) (bool, error)
	// ResolveTypes returns the OID each type name resolves to (0 for
	// none), inside a rolled-back savepoint.
	ResolveTypes(ctx context.Context, types []string) ([]uint32, error)
	// Collatable reports whether type typ is collatable, inside a
	// rolled-back savepoint.
	Collatable(ctx context.Context, typ string) (bool, error)

	// RelationExists reports whether a relation (table, index, view,
	// sequence, ...) called name exists in schema.
	RelationExists(ctx context.Context, schema, name string) (bool, error)
	// TypeExists reports whether a type called name exists in schema.
	TypeExists(ctx context.Context, schema, name string) (bool, error)
	// ConstraintType returns the pg_constraint.contype of the constraint
	// called name on schema.table, "" when there is none.
	ConstraintType(ctx context.Context, schema, table, name string) (string, error)
	// PrimaryKey returns the name of the primary key of schema.table, ""
	// when it has none.
	PrimaryKey(ctx context.Context, schema, table string) (string, error)
	// NameOwner describes (pg_describe_object) the object of a kind
	// called name: "function" (any arguments) in schema, or "trigger",
	// "constraint" or "column" on schema.table; "" when there is none.
	NameOwner(ctx context.Context, kind, schema, table, name string) (string, error)
	// Index describes the index called name in schema; nil when none.
	Index(ctx context.Context, schema, name string) (*IndexInfo, error)
	// HasUnique reports whether a unique, immediate, non-partial index
	// without expressions covers exactly cols (sorted) of schema.table.
	HasUnique(ctx context.Context, schema, table string, cols []string) (bool, error)
	// TableColumns lists the columns of schema.table as column
	// definitions (quoted name and type), in order; none when there is
	// no such table.
	TableColumns(ctx context.Context, schema, table string) ([]string, error)

	// EnumLabels returns the labels of the enum type schema.name in
	// order; nil when there is no such enum.
	EnumLabels(ctx context.Context, schema, name string) ([]string, error)
	// TypeOIDs returns the OIDs of the type schema.name and of its array
	// type.
	TypeOIDs(ctx context.Context, schema, name string) (TypeOIDs, error)
	// TypeDependents lists the objects that depend on the type oid or its
	// array type (normal dependencies), leaving out views in schema
	// skipViews (when not empty). It runs with search_path = pg_catalog.
	TypeDependents(ctx context.Context, oid, array uint32, skipViews string) ([]TypeDependent, error)

	// ColumnDependents lists the objects, other than the column's default
	// and the table's own rules, that depend on a column of schema.table.
	ColumnDependents(ctx context.Context, schema, table, column string) ([]ColumnDependent, error)
	// TableDependents lists the views (outside schema skipViews) and the
	// other tables' foreign keys that depend on schema.table.
	TableDependents(ctx context.Context, schema, table, skipViews string) ([]string, error)

	// Dependents lists the pg_depend rows on column attnum of the table
	// tableOID (what a column replacement must carry).
	Dependents(ctx context.Context, tableOID uint32, attnum int) ([]Dependent, error)
	// RelKind returns the relkind of a pg_class entry.
	RelKind(ctx context.Context, oid uint32) (string, error)
	// IndexConstraint returns the primary-key, unique or exclusion
	// constraint of table tableOID that the index indexOID backs; 0 when
	// none.
	IndexConstraint(ctx context.Context, indexOID, tableOID uint32) (uint32, error)
	// ColumnDefault describes a pg_attrdef entry.
	ColumnDefault(ctx context.Context, oid uint32) (ColumnDefault, error)
	// Rule describes the relation of a pg_rewrite entry.
	Rule(ctx context.Context, oid, tableOID uint32) (Rule, error)
	// IndexDef reads an index's definition.
	IndexDef(ctx context.Context, oid uint32) (IndexDef, error)
	// ConstraintDef reads a constraint's definition.
	ConstraintDef(ctx context.Context, oid uint32) (ConstraintDef, error)
	// PolicyDef reads a row-level-security policy.
	PolicyDef(ctx context.Context, oid uint32) (PolicyDef, error)
	// StatisticsDef reads an extended statistics object.
	StatisticsDef(ctx context.Context, oid uint32) (StatisticsDef, error)
	// SequenceDef reads a sequence's settings.
	SequenceDef(ctx context.Context, oid uint32) (SequenceDef, error)
	// ColumnAttrs reads the attributes of column attnum of table tableOID
	// that a replacing column must get: statistics target, options,
	// collation and column grants.
	ColumnAttrs(ctx context.Context, tableOID uint32, attnum int) (ColumnAttrs, error)
}

// TypeOIDs are the OIDs of a type and of its array type.
type TypeOIDs struct {
	OID   uint32
	Array uint32
}

// IndexInfo is an index of the managed schema as the catalog has it.
type IndexInfo struct {
	Table      string
	Constraint string // the constraint it backs, if any
	// Unique, Partial (a WHERE), Exprs (an expression column) and
	// Deferrable describe it; Columns are its key columns.
	Unique, Partial, Exprs, Deferrable bool
	Columns                            []string
}

// TypeDependent is an object that depends on a type. Schema, Relation,
// RelKind and Column are set for a column (or a column's default) of a
// relation.
type TypeDependent struct {
	Desc     string // pg_describe_object
	Schema   string
	Relation string
	RelKind  string
	Column   string
}

// ColumnDependent is an object that depends on a column; ViewSchema is
// the schema of the view when it is a view's rule.
type ColumnDependent struct {
	What       string
	ViewSchema string
}

// Dependent is one pg_depend row on a column.
type Dependent struct {
	Class   string // catalog of the dependent object, e.g. pg_constraint
	OID     uint32
	SubID   int32
	DepType string
	Desc    string
}

// ColumnDefault is a column default (pg_attrdef) and its column.
type ColumnDefault struct {
	Num    int
	Column string
}

// Rule is the relation a rewrite rule (a view's) belongs to; Self is set
// when it is the table asked about.
type Rule struct {
	Schema   string
	Relation string
	Self     bool
}

// IndexDef is an index's definition and flags.
type IndexDef struct {
	Name      string
	Def       string // pg_get_indexdef
	Valid     bool
	ReplIdent bool
	Clustered bool
	Comment   *string
}

// ConstraintDef is a constraint's definition and flags.
type ConstraintDef struct {
	Name       string
	Type       string // contype
	Def        string // pg_get_constraintdef
	Validated  bool
	Deferrable bool
	Deferred   bool
	Schema     string
	Table      string
	IndexDef   string // the index of a primary key or unique constraint
	ReplIdent  bool
	Clustered  bool
	Comment    *string
}

// PolicyDef is a row-level-security policy.
type PolicyDef struct {
	Name     string
	Schema   string
	Table    string
	TableOID uint32
	Using    *string
	Check    *string
}

// StatisticsDef is an extended statistics object.
type StatisticsDef struct {
	Name    string
	Schema  string
	Def     string // pg_get_statisticsobjdef
	Comment *string
}

// SequenceDef is a sequence's name and settings.
type SequenceDef struct {
	Qualified string // schema-qualified, quoted
	Name      string
	Increment int64
	Min       int64
	Max       int64
	Cache     int64
	Cycle     bool
	Type      string
}

// ColumnAttrs are the attributes of a column a replacing column gets.
type ColumnAttrs struct {
	StatTarget int      // -1 for the default
	Options    []string // attribute options
	Collation  *string  // quoted, when not the type's default
	Grants     []ColumnGrant
}

// ColumnGrant is a column privilege.
type ColumnGrant struct {
	Privilege string
	Grantee   string // "" for PUBLIC
	Grantable bool
}
