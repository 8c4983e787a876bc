// Package migration defines strata's migration file format: the Go types of a
// migration and its actions, strict decoding of TOML and JSON files with
// file/line/key error positions, static validation and loading from an fs.FS.
package migration

// Migration is one decoded migration file.
type Migration struct {
	// Name is the migration's name: the top-level `name` key if set, else the
	// file name without its extension.
	Name        string
	Description string
	// VersionSchema is the top-level `version_schema` key: the name of the
	// version schema of a phase whose latest migration this is, instead of
	// the one the project's style gives ("" when the key is absent).
	VersionSchema string
	// File is the path of the file as it was loaded (relative to the fs.FS).
	File string
	// Checksum is the lowercase hex SHA-256 of the file's bytes.
	Checksum string
	Actions  []Action
	// Kind is KindSQL, KindTOML or KindJSON, after the file's extension.
	Kind string
	// SQL is the runnable part of a plain .sql migration (Kind KindSQL);
	// nil for TOML and JSON migrations, which have Actions instead.
	SQL *SQL
	// Lines maps a key path to the 1-based line it was written on, e.g.
	// "actions[0].column.name" -> 12. Missing entries mean "unknown line".
	Lines map[string]int
}

// Action is one step of a migration. The concrete types below implement it.
type Action interface {
	// Type is the `type` string of the action, e.g. "add_column".
	Type() string
}

// Column is a column definition as used by create_table and add_column.
type Column struct {
	Name      string
	Type      string
	Nullable  bool    // default true when the key is absent
	Default   *string // SQL expression; nil when absent
	Generated string  // e.g. "ALWAYS AS IDENTITY" or "ALWAYS AS (a+b) STORED"; "" when absent
	Comment   *string
}

// Value is where a value comes from in add_column.up and remove_column.down:
// either a plain SQL expression over the row (Expr, with Table empty), or the
// multi-table form {table, value, where} (Table and Where set, Expr holds `value`).
type Value struct {
	Expr  string
	Table string
	Where string
}

// MultiTable reports whether v uses the {table, value, where} form.
func (v *Value) MultiTable() bool { return v != nil && v.Table != "" }

type ForeignKey struct {
	Name              string
	Columns           []string
	ReferencedTable   string
	ReferencedColumns []string
	OnDelete          string
	OnUpdate          string
	// Match is "FULL", "SIMPLE" or "" (PostgreSQL's default, SIMPLE).
	Match             string
	Deferrable        bool
	InitiallyDeferred bool
}

type Check struct {
	Name       string
	Expression string
	NoInherit  bool
}

// Param is one storage parameter (or operator class parameter): a name and
// its value as SQL, a bare number or boolean, or a string to quote (Quoted).
type Param struct {
	Name   string
	Value  string
	Quoted bool
}

// Unique is a unique constraint: create_table.unique and add_unique.unique.
type Unique struct {
	Name              string
	Columns           []string
	Include           []string
	NullsNotDistinct  bool
	Deferrable        bool
	InitiallyDeferred bool
	StorageParameters []Param
}

// PrimaryKey is add_primary_key.primary_key.
type PrimaryKey struct {
	Name              string
	Columns           []string
	Include           []string
	StorageParameters []Param
}

// IndexColumn is one key column of an index, or one element of an
// exclusion constraint: a column or an expression, with its options.
type IndexColumn struct {
	// Column is a column name as the new version names it; "" for an
	// expression.
	Column string
	// Expression is an SQL expression; "" for a column. The string form
	// "(lower(email))" keeps its parentheses.
	Expression        string
	Opclass           string
	OpclassParameters []Param
	Collate           string
	Sort              string // "asc", "desc" or ""
	Nulls             string // "first", "last" or ""
}

// ExcludeElement is one element of an exclusion constraint: an index
// column and its operator, or the element written as SQL in one string
// (Raw, e.g. "room WITH =").
type ExcludeElement struct {
	IndexColumn
	Operator string
	Raw      string
}

// Exclude is an exclusion constraint of create_table.
type Exclude struct {
	Name              string
	Method            string // "" = btree, as in PostgreSQL
	Elements          []ExcludeElement
	Where             string
	Include           []string
	StorageParameters []Param
	Deferrable        bool
	InitiallyDeferred bool
}

// TableUp fills a new table from another table: create_table.up.
type TableUp struct {
	Table string
	// Values maps new-table column -> expression over the source table's row,
	// in the order the keys were written.
	Values []ColumnValue
	Where  string
}

type ColumnValue struct {
	Column string
	Expr   string
}

type CreateTable struct {
	Name           string
	Comment        *string
	Columns        []Column
	PrimaryKey     []string
	PrimaryKeyName string
	ForeignKeys    []ForeignKey
	Checks         []Check
	Unique         []Unique
	Exclude        []Exclude
	Up             *TableUp
}

type AddColumn struct {
	Table  string
	Column Column
	Up     *Value
}

// ColumnChanges is the `changes` table of alter_column; nil fields are absent.
type ColumnChanges struct {
	Name     *string
	Type     *string
	Nullable *bool
	Default  *string // SQL expression; "NULL" removes the default
	Comment  *string
}

type AlterColumn struct {
	Table   string
	Column  string
	Changes ColumnChanges
	Up      string // old -> new value expression; "" when absent
	Down    string // new -> old value expression; "" when absent
}

type RemoveColumn struct {
	Table  string
	Column string
	Down   *Value
}

type RenameTable struct {
	Table   string
	NewName string
}

type RemoveTable struct {
	Table string
}

type Index struct {
	Name              string
	Columns           []IndexColumn
	Unique            bool
	NullsNotDistinct  bool
	Method            string // btree, hash, gist, gin, spgist, brin; "" = btree
	Where             string
	Include           []string
	StorageParameters []Param
}

type AddIndex struct {
	Table string
	Index Index
}

type RemoveIndex struct {
	Index string
}

type AddForeignKey struct {
	Table      string
	ForeignKey ForeignKey
}

type RemoveForeignKey struct {
	Table      string
	ForeignKey string
}

type AddCheck struct {
	Table string
	Check Check
}

type RemoveCheck struct {
	Table string
	Check string
}

type AddUnique struct {
	Table  string
	Unique Unique
}

type AddPrimaryKey struct {
	Table      string
	PrimaryKey PrimaryKey
}

type RenameConstraint struct {
	Table      string
	Constraint string
	NewName    string
}

type RemoveConstraint struct {
	Table      string
	Constraint string
}

// SetReplicaIdentity sets a table's replica identity: Identity is
// "default", "full", "nothing" or "index" (then Index names the index).
type SetReplicaIdentity struct {
	Table    string
	Identity string
	Index    string
}

type CreateEnum struct {
	Name   string
	Values []string
}

type EnumValueAdd struct {
	Value  string
	Before string
	After  string
}

type EnumRename struct {
	From string
	To   string
}

type AlterEnum struct {
	Name   string
	Add    []EnumValueAdd
	Rename []EnumRename
}

type RemoveEnum struct {
	Enum string
}

type Custom struct {
	Start    string
	Complete string
	Abort    string
}

func (*CreateTable) Type() string        { return "create_table" }
func (*AddColumn) Type() string          { return "add_column" }
func (*AlterColumn) Type() string        { return "alter_column" }
func (*RemoveColumn) Type() string       { return "remove_column" }
func (*RenameTable) Type() string        { return "rename_table" }
func (*RemoveTable) Type() string        { return "remove_table" }
func (*AddIndex) Type() string           { return "add_index" }
func (*RemoveIndex) Type() string        { return "remove_index" }
func (*AddForeignKey) Type() string      { return "add_foreign_key" }
func (*RemoveForeignKey) Type() string   { return "remove_foreign_key" }
func (*AddCheck) Type() string           { return "add_check" }
func (*RemoveCheck) Type() string        { return "remove_check" }
func (*AddUnique) Type() string          { return "add_unique" }
func (*AddPrimaryKey) Type() string      { return "add_primary_key" }
func (*RenameConstraint) Type() string   { return "rename_constraint" }
func (*RemoveConstraint) Type() string   { return "remove_constraint" }
func (*SetReplicaIdentity) Type() string { return "set_replica_identity" }
func (*CreateEnum) Type() string         { return "create_enum" }
func (*AlterEnum) Type() string          { return "alter_enum" }
func (*RemoveEnum) Type() string         { return "remove_enum" }
func (*Custom) Type() string             { return "custom" }
