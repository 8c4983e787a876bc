package migration

import (
	"slices"
	"strings"
)

// MaxIdentifierLen is PostgreSQL's identifier length limit in bytes
// (NAMEDATALEN - 1).
const MaxIdentifierLen = 63

// ReservedPrefix starts the names of strata's own objects; user identifiers
// must not start with it (compared case-insensitively).
const ReservedPrefix = "_strata"

// indexMethods are the valid add_index `type` values.
var indexMethods = []string{"btree", "hash", "gist", "gin", "spgist", "brin"}

// refActions are the valid on_delete / on_update values, in canonical form.
var refActions = []string{"NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"}

// Version schema styles: the project setting version_schema_style.
const (
	// StyleStrata names a version schema <managed schema>_<name> and
	// gives it views only of the tables whose shape differs (the default).
	StyleStrata = "strata"
	// StyleReshape names it migration_<name>, as Reshape does, and gives it
	// a view of every table, so that a client with only the version schema
	// on its search_path (Reshape's helper libraries) sees every table.
	StyleReshape = "reshape"
)

// Styles lists the version schema styles.
var Styles = []string{StyleStrata, StyleReshape}

// ReshapePrefix starts the names of Reshape-style version schemas.
const ReshapePrefix = "migration_"

// VersionSchema returns the name of the version schema of migration name
// under schema in strata's style: "<schema>_<name>".
func VersionSchema(schema, name string) string {
	return schema + "_" + name
}

// VersionSchemaFor returns the version schema of a phase whose latest
// migration is m: m's version_schema key when set, else the name style
// gives (StyleReshape: "migration_<name>"; anything else: strata's
// "<schema>_<name>").
func VersionSchemaFor(m *Migration, schema, style string) string {
	switch {
	case m.VersionSchema != "":
		return m.VersionSchema
	case style == StyleReshape:
		return ReshapePrefix + m.Name
	}
	return VersionSchema(schema, m.Name)
}

// ValidateOptions are what ValidateWith checks a migration for.
type ValidateOptions struct {
	Schema      string // managed schema
	StateSchema string // strata's own schema ("" skips that comparison)
	Style       string // version schema style ("" is StyleStrata)
}

// Validate is ValidateWith for the managed schema alone, in strata's style.
func (m *Migration) Validate(schema string) error {
	return m.ValidateWith(ValidateOptions{Schema: schema})
}

// ValidateWith checks m statically (no database): the migration name, that
// its version schema (VersionSchemaFor with o's schema and style) fits
// PostgreSQL's 63-byte identifier limit and is neither the managed nor the
// state schema, identifiers, the rules of each action, and that every SQL
// fragment (up, down, defaults, types, checks, index columns and where,
// custom SQL) parses with PostgreSQL's grammar. Parse and Load already run
// every check except the version-schema name and the SQL parsing (so that
// strata lint can report SQL problems as findings), so for migrations they
// returned, ValidateWith only adds those; it is also usable on migrations
// built in Go (Lines may then be nil: errors carry no line). The error, if
// any, is a ValidationErrors.
func (m *Migration) ValidateWith(o ValidateOptions) error {
	l := &errList{file: m.File, lines: m.Lines}
	if m.Kind == KindSQL {
		// A .sql file has no version schema; ParseSQL checked its SQL.
		return nil
	}
	v := newValidator(l)
	v.migration(m)
	for i, a := range m.Actions {
		v.sqlFragments(joinIndex("actions", i), a)
	}
	vs := VersionSchemaFor(m, o.Schema, o.Style)
	switch {
	case m.VersionSchema != "":
		switch vs {
		case o.Schema:
			v.add("version_schema", "%q is the managed schema; a version schema must be a schema of its own", vs)
		case o.StateSchema:
			v.add("version_schema", "%q is strata's state schema; a version schema must be a schema of its own", vs)
		}
	case len(vs) > MaxIdentifierLen:
		l.add("name", "version schema name %q is %d bytes; PostgreSQL allows at most %d: shorten the migration name", vs, len(vs), MaxIdentifierLen)
	}
	return l.err()
}

type validator struct {
	l *errList
}

// newValidator returns a validator that adds to l; l must hold the decoding
// errors, if any, already.
func newValidator(l *errList) *validator {
	l.frozen = true
	return &validator{l: l}
}

// add records a validation error, unless decoding already reported a
// problem at or below key: a check on a whole table or list (such as
// "must not be empty") would then only repeat it.
func (v *validator) add(key, format string, args ...any) {
	if v.l.has(key) {
		return
	}
	v.l.add(key, format, args...)
}

// validName reports whether s is a valid migration name: [a-z0-9_]+.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (v *validator) migration(m *Migration) {
	if !validName(m.Name) {
		from := ""
		if _, ok := m.Lines["name"]; !ok {
			from = " (taken from the file name; rename the file or set a top-level name)"
		}
		v.add("name", "invalid migration name %q%s: use only a-z, 0-9 and _", m.Name, from)
	}
	if len(m.Actions) == 0 {
		v.add("actions", "must not be empty: a migration needs at least one action")
	}
	if _, set := m.Lines["version_schema"]; set || m.VersionSchema != "" {
		v.versionSchema(m.VersionSchema)
	}
	for i, a := range m.Actions {
		p := joinIndex("actions", i)
		if a == nil {
			continue // not decoded; already reported
		}
		if at := lookupActionType(a.Type()); at != nil {
			at.validate(v, p, a)
		} else {
			v.add(p, "unsupported action type %T", a)
		}
	}
}

// ident checks an identifier: non-empty, at most 63 bytes, not reserved.
func (v *validator) ident(key, s string) {
	switch {
	case s == "":
		v.add(key, "must not be empty")
	case len(s) > MaxIdentifierLen:
		v.add(key, "%q is %d bytes; PostgreSQL identifiers are at most %d bytes", s, len(s), MaxIdentifierLen)
	case strings.HasPrefix(strings.ToLower(s), ReservedPrefix):
		v.add(key, "%q starts with %s: names starting with %s are reserved for strata's own objects", s, ReservedPrefix, ReservedPrefix)
	case strings.IndexByte(s, 0) >= 0:
		v.add(key, "%q contains a NUL byte", s)
	}
}

// versionSchema checks a version_schema key: an identifier (see ident) that
// PostgreSQL accepts as a new schema's name (not pg_...).
func (v *validator) versionSchema(s string) {
	v.ident("version_schema", s)
	if strings.HasPrefix(strings.ToLower(s), "pg_") {
		v.add("version_schema", "%q starts with pg_: PostgreSQL reserves those names for system schemas", s)
	}
}

func (v *validator) nonEmpty(key, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(key, "must not be empty")
	}
}

func (v *validator) enumLabel(key, s string) {
	switch {
	case s == "":
		v.add(key, "must not be empty")
	case len(s) > MaxIdentifierLen:
		v.add(key, "enum value %q is %d bytes; PostgreSQL allows at most %d", s, len(s), MaxIdentifierLen)
	}
}

func (v *validator) column(p string, c *Column) {
	v.ident(p+".name", c.Name)
	v.nonEmpty(p+".type", c.Type)
	if _, serial := SerialType(c.Type); serial {
		switch {
		case c.Default != nil:
			v.add(p+".default", "a %s column takes its default from its sequence", c.Type)
		case c.Generated != "":
			v.add(p+".generated", "a %s column takes its default from its sequence; use an integer type for an identity column", c.Type)
		}
	}
	if c.Default != nil {
		v.nonEmpty(p+".default", *c.Default)
		if c.Generated != "" {
			v.add(p+".default", "a generated column cannot also have a default")
		}
	}
}

// value checks add_column.up / remove_column.down.
func (v *validator) value(p string, val *Value) {
	switch {
	case val == nil:
	case val.MultiTable():
		v.ident(p+".table", val.Table)
		v.nonEmpty(p+".value", val.Expr)
		v.nonEmpty(p+".where", val.Where)
	default:
		v.nonEmpty(p, val.Expr)
		if val.Where != "" {
			v.add(p+".where", "where needs table")
		}
	}
}

// columnList checks a list of column names of the table being created (cols;
// nil when the columns are unknown). why, if set, explains why the list is
// required.
func (v *validator) columnList(p string, names []string, cols map[string]*Column, why string) {
	if len(names) == 0 {
		if why != "" {
			if names == nil {
				v.add(p, "missing required key: %s", why)
			} else {
				v.add(p, "must not be empty: %s", why)
			}
		} else {
			v.add(p, "must not be empty")
		}
		return
	}
	seen := map[string]bool{}
	for j, n := range names {
		k := joinIndex(p, j)
		v.ident(k, n)
		if n == "" {
			continue
		}
		if cols != nil && cols[n] == nil {
			v.add(k, "no column %q in columns", n)
		}
		if seen[n] {
			v.add(k, "duplicate column %q", n)
		}
		seen[n] = true
	}
}

func (v *validator) foreignKey(p string, fk *ForeignKey, cols map[string]*Column) {
	v.columnList(p+".columns", fk.Columns, cols, "")
	v.ident(p+".referenced_table", fk.ReferencedTable)
	v.columnList(p+".referenced_columns", fk.ReferencedColumns, nil, "")
	if len(fk.Columns) > 0 && len(fk.ReferencedColumns) > 0 && len(fk.Columns) != len(fk.ReferencedColumns) {
		v.add(p+".referenced_columns", "has %d columns, columns has %d: they must match", len(fk.ReferencedColumns), len(fk.Columns))
	}
	v.refAction(p+".on_delete", fk.OnDelete)
	v.refAction(p+".on_update", fk.OnUpdate)
	if fk.Match != "" && fk.Match != "FULL" && fk.Match != "SIMPLE" {
		v.add(p+".match", "invalid value %q: use full or simple", fk.Match)
	}
	v.deferrable(p, fk.Deferrable, fk.InitiallyDeferred)
}

func (v *validator) refAction(key, s string) {
	if s == "" {
		return
	}
	if slices.Contains(refActions, normalizeRefAction(s)) {
		return
	}
	v.add(key, "invalid value %q: use one of %s", s, strings.Join(refActions, ", "))
}

func (v *validator) index(p string, x *Index) {
	v.ident(p+".name", x.Name)
	if x.Columns != nil && len(x.Columns) == 0 {
		v.add(p+".columns", "must not be empty")
	}
	for j := range x.Columns {
		v.indexColumn(joinIndex(p+".columns", j), &x.Columns[j], nil)
	}
	v.includeList(p+".include", x.Include, nil)
	if x.Method != "" && !slices.Contains(indexMethods, normalizeMethod(x.Method)) {
		v.add(p+".type", "invalid index type %q: use one of %s", x.Method, strings.Join(indexMethods, ", "))
	}
	if x.NullsNotDistinct && !x.Unique {
		v.add(p+".nulls_not_distinct", "only for a unique index (unique = true)")
	}
	v.params(p+".storage_parameters", x.StorageParameters)
}

// normalizeMethod lowercases a valid index method; other values are
// returned unchanged.
func normalizeMethod(s string) string {
	if l := strings.ToLower(s); slices.Contains(indexMethods, l) {
		return l
	}
	return s
}

// normalizeRefAction returns the canonical form ("SET NULL") of a valid
// on_delete / on_update value, written in any case and spacing; other values
// are returned unchanged.
func normalizeRefAction(s string) string {
	if n := strings.ToUpper(strings.Join(strings.Fields(s), " ")); slices.Contains(refActions, n) {
		return n
	}
	return s
}
