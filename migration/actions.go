package migration

import (
	"fmt"
	"slices"
	"strings"
)

// actionType is everything this package knows about one type of action:
// its name and keys, how to decode it, how to validate it and which of its
// fields are SQL fragments. Adding an action type is one entry in
// actionTypes, plus its Go type (types.go) and its planner file.
type actionType struct {
	// name is the `type` string, equal to the Type() of the decoded action.
	name string
	// keys lists the action's keys besides `type`, in the order of the docs
	// (docs/migrations.md). Strict decoding rejects every key that decode
	// does not read; keys also explains a key that belongs to another type.
	keys []string
	// decode reads every key in keys from t; it reports problems through t
	// and always returns a non-nil action.
	decode func(d *decoder, t *table) Action
	// validate runs the static checks of an action at key path p.
	validate func(v *validator, p string, a Action)
	// sql parses the action's SQL fragments (only Migration.Validate does).
	sql func(v *validator, p string, a Action)
}

// actionSpec is an actionType written against its action's Go type A, so
// that the funcs of a table entry take an A; newType turns it into the
// actionType the decoder and validator use.
type actionSpec[A Action] struct {
	name     string
	keys     []string
	decode   func(d *decoder, t *table) A
	validate func(v *validator, p string, a A)
	sql      func(v *validator, p string, a A) // nil: no SQL fragments
}

// newType returns s as an actionType. An action of another Go type than A
// (a type built in Go that claims s.name) fails validation as unsupported.
func (s actionSpec[A]) newType() actionType {
	return actionType{
		name:   s.name,
		keys:   s.keys,
		decode: func(d *decoder, t *table) Action { return s.decode(d, t) },
		validate: func(v *validator, p string, a Action) {
			x, ok := a.(A)
			if !ok {
				v.add(p, "unsupported action type %T", a)
				return
			}
			s.validate(v, p, x)
		},
		sql: func(v *validator, p string, a Action) {
			if x, ok := a.(A); ok && s.sql != nil {
				s.sql(v, p, x)
			}
		},
	}
}

// actionTypes lists the action types in the spec's order, the order in which
// an unknown type's message lists the valid ones.
var actionTypes = []actionType{
	actionSpec[*CreateTable]{
		name:     "create_table",
		keys:     []string{"name", "comment", "columns", "primary_key", "primary_key_name", "foreign_keys", "checks", "unique", "exclude", "up"},
		decode:   (*decoder).createTable,
		validate: (*validator).createTable,
		sql:      (*validator).createTableSQL,
	}.newType(),
	actionSpec[*AddColumn]{
		name: "add_column",
		keys: []string{"table", "column", "up"},
		decode: func(d *decoder, t *table) *AddColumn {
			return &AddColumn{Table: t.str("table", true), Column: d.column(t.sub("column", true)), Up: d.value(t, "up")}
		},
		validate: func(v *validator, p string, a *AddColumn) {
			v.ident(p+".table", a.Table)
			v.column(p+".column", &a.Column)
			switch {
			case a.Column.Generated != "" && a.Up != nil:
				v.add(p+".up", "a generated column takes no up: its value is computed")
			case !a.Column.Nullable && a.Column.Default == nil && a.Column.Generated == "" && a.Up == nil && !serial(a.Column.Type):
				v.add(p+".column.nullable", "a NOT NULL column without a default needs up: existing rows need a value")
			}
			v.value(p+".up", a.Up)
		},
		sql: func(v *validator, p string, a *AddColumn) {
			v.columnSQL(p+".column", &a.Column)
			v.valueSQL(p+".up", a.Up)
		},
	}.newType(),
	actionSpec[*AlterColumn]{
		name:     "alter_column",
		keys:     []string{"table", "column", "changes", "up", "down"},
		decode:   (*decoder).alterColumn,
		validate: (*validator).alterColumn,
		sql:      (*validator).alterColumnSQL,
	}.newType(),
	actionSpec[*RemoveColumn]{
		name: "remove_column",
		keys: []string{"table", "column", "down"},
		decode: func(d *decoder, t *table) *RemoveColumn {
			return &RemoveColumn{Table: t.str("table", true), Column: t.str("column", true), Down: d.value(t, "down")}
		},
		validate: func(v *validator, p string, a *RemoveColumn) {
			v.ident(p+".table", a.Table)
			v.ident(p+".column", a.Column)
			v.value(p+".down", a.Down)
		},
		sql: func(v *validator, p string, a *RemoveColumn) {
			v.valueSQL(p+".down", a.Down)
		},
	}.newType(),
	actionSpec[*RenameTable]{
		name: "rename_table",
		keys: []string{"table", "new_name"},
		decode: func(d *decoder, t *table) *RenameTable {
			return &RenameTable{Table: t.str("table", true), NewName: t.str("new_name", true)}
		},
		validate: func(v *validator, p string, a *RenameTable) {
			v.ident(p+".table", a.Table)
			v.ident(p+".new_name", a.NewName)
			if a.NewName != "" && a.NewName == a.Table {
				v.add(p+".new_name", "is the same as table")
			}
		},
	}.newType(),
	actionSpec[*RemoveTable]{
		name: "remove_table",
		keys: []string{"table"},
		decode: func(d *decoder, t *table) *RemoveTable {
			return &RemoveTable{Table: t.str("table", true)}
		},
		validate: func(v *validator, p string, a *RemoveTable) {
			v.ident(p+".table", a.Table)
		},
	}.newType(),
	actionSpec[*AddIndex]{
		name: "add_index",
		keys: []string{"table", "index"},
		decode: func(d *decoder, t *table) *AddIndex {
			return &AddIndex{Table: t.str("table", true), Index: d.index(t.sub("index", true))}
		},
		validate: func(v *validator, p string, a *AddIndex) {
			v.ident(p+".table", a.Table)
			v.index(p+".index", &a.Index)
		},
		sql: func(v *validator, p string, a *AddIndex) {
			v.indexSQL(p+".index", &a.Index)
		},
	}.newType(),
	actionSpec[*RemoveIndex]{
		name: "remove_index",
		keys: []string{"index"},
		decode: func(d *decoder, t *table) *RemoveIndex {
			return &RemoveIndex{Index: t.str("index", true)}
		},
		validate: func(v *validator, p string, a *RemoveIndex) {
			v.ident(p+".index", a.Index)
		},
	}.newType(),
	actionSpec[*AddForeignKey]{
		name: "add_foreign_key",
		keys: []string{"table", "foreign_key"},
		decode: func(d *decoder, t *table) *AddForeignKey {
			return &AddForeignKey{Table: t.str("table", true), ForeignKey: d.foreignKey(t.sub("foreign_key", true), true)}
		},
		validate: func(v *validator, p string, a *AddForeignKey) {
			v.ident(p+".table", a.Table)
			v.ident(p+".foreign_key.name", a.ForeignKey.Name)
			v.foreignKey(p+".foreign_key", &a.ForeignKey, nil)
		},
	}.newType(),
	actionSpec[*RemoveForeignKey]{
		name: "remove_foreign_key",
		keys: []string{"table", "foreign_key"},
		decode: func(d *decoder, t *table) *RemoveForeignKey {
			return &RemoveForeignKey{Table: t.str("table", true), ForeignKey: t.str("foreign_key", true)}
		},
		validate: func(v *validator, p string, a *RemoveForeignKey) {
			v.ident(p+".table", a.Table)
			v.ident(p+".foreign_key", a.ForeignKey)
		},
	}.newType(),
	actionSpec[*AddCheck]{
		name: "add_check",
		keys: []string{"table", "check"},
		decode: func(d *decoder, t *table) *AddCheck {
			return &AddCheck{Table: t.str("table", true), Check: d.check(t.sub("check", true), true)}
		},
		validate: func(v *validator, p string, a *AddCheck) {
			v.ident(p+".table", a.Table)
			v.ident(p+".check.name", a.Check.Name)
			v.nonEmpty(p+".check.expression", a.Check.Expression)
		},
		sql: func(v *validator, p string, a *AddCheck) {
			v.expr(p+".check.expression", a.Check.Expression)
		},
	}.newType(),
	actionSpec[*RemoveCheck]{
		name: "remove_check",
		keys: []string{"table", "check"},
		decode: func(d *decoder, t *table) *RemoveCheck {
			return &RemoveCheck{Table: t.str("table", true), Check: t.str("check", true)}
		},
		validate: func(v *validator, p string, a *RemoveCheck) {
			v.ident(p+".table", a.Table)
			v.ident(p+".check", a.Check)
		},
	}.newType(),
	actionSpec[*AddUnique]{
		name: "add_unique",
		keys: []string{"table", "unique"},
		decode: func(d *decoder, t *table) *AddUnique {
			return &AddUnique{Table: t.str("table", true), Unique: d.unique(t.sub("unique", true), true)}
		},
		validate: func(v *validator, p string, a *AddUnique) {
			v.ident(p+".table", a.Table)
			v.unique(p+".unique", &a.Unique, nil, true)
		},
	}.newType(),
	actionSpec[*AddPrimaryKey]{
		name: "add_primary_key",
		keys: []string{"table", "primary_key"},
		decode: func(d *decoder, t *table) *AddPrimaryKey {
			return &AddPrimaryKey{Table: t.str("table", true), PrimaryKey: d.primaryKey(t.sub("primary_key", true))}
		},
		validate: func(v *validator, p string, a *AddPrimaryKey) {
			v.ident(p+".table", a.Table)
			v.primaryKey(p+".primary_key", &a.PrimaryKey)
		},
	}.newType(),
	actionSpec[*RenameConstraint]{
		name: "rename_constraint",
		keys: []string{"table", "constraint", "new_name"},
		decode: func(d *decoder, t *table) *RenameConstraint {
			return &RenameConstraint{Table: t.str("table", true), Constraint: t.str("constraint", true), NewName: t.str("new_name", true)}
		},
		validate: func(v *validator, p string, a *RenameConstraint) {
			v.ident(p+".table", a.Table)
			v.ident(p+".constraint", a.Constraint)
			v.ident(p+".new_name", a.NewName)
			if a.NewName != "" && a.NewName == a.Constraint {
				v.add(p+".new_name", "is the same as constraint")
			}
		},
	}.newType(),
	actionSpec[*RemoveConstraint]{
		name: "remove_constraint",
		keys: []string{"table", "constraint"},
		decode: func(d *decoder, t *table) *RemoveConstraint {
			return &RemoveConstraint{Table: t.str("table", true), Constraint: t.str("constraint", true)}
		},
		validate: func(v *validator, p string, a *RemoveConstraint) {
			v.ident(p+".table", a.Table)
			v.ident(p+".constraint", a.Constraint)
		},
	}.newType(),
	actionSpec[*SetReplicaIdentity]{
		name: "set_replica_identity",
		keys: []string{"table", "identity", "index"},
		decode: func(d *decoder, t *table) *SetReplicaIdentity {
			return &SetReplicaIdentity{Table: t.str("table", true), Identity: strings.ToLower(t.str("identity", true)), Index: t.str("index", false)}
		},
		validate: (*validator).setReplicaIdentity,
	}.newType(),
	actionSpec[*CreateEnum]{
		name: "create_enum",
		keys: []string{"name", "values"},
		decode: func(d *decoder, t *table) *CreateEnum {
			return &CreateEnum{Name: t.str("name", true), Values: t.strs("values", true)}
		},
		validate: (*validator).createEnum,
	}.newType(),
	actionSpec[*AlterEnum]{
		name:     "alter_enum",
		keys:     []string{"name", "add", "rename"},
		decode:   (*decoder).alterEnum,
		validate: (*validator).alterEnum,
	}.newType(),
	actionSpec[*RemoveEnum]{
		name: "remove_enum",
		keys: []string{"enum"},
		decode: func(d *decoder, t *table) *RemoveEnum {
			return &RemoveEnum{Enum: t.str("enum", true)}
		},
		validate: func(v *validator, p string, a *RemoveEnum) {
			v.ident(p+".enum", a.Enum)
		},
	}.newType(),
	actionSpec[*Custom]{
		name: "custom",
		keys: []string{"start", "complete", "abort"},
		decode: func(d *decoder, t *table) *Custom {
			return &Custom{Start: t.str("start", false), Complete: t.str("complete", false), Abort: t.str("abort", false)}
		},
		validate: func(v *validator, p string, a *Custom) {
			if a.Start == "" && a.Complete == "" && a.Abort == "" {
				v.add(p, "custom needs at least one of start, complete, abort")
			}
		},
		sql: func(v *validator, p string, a *Custom) {
			v.statements(p+".start", a.Start)
			v.statements(p+".complete", a.Complete)
			v.statements(p+".abort", a.Abort)
		},
	}.newType(),
}

// ActionTypes returns the `type` strings of every action type, in the order
// of the file format's spec (the order error messages list them in).
func ActionTypes() []string {
	names := make([]string, len(actionTypes))
	for i, at := range actionTypes {
		names[i] = at.name
	}
	return names
}

// lookupActionType returns the action type called name, nil if there is none.
func lookupActionType(name string) *actionType {
	for i := range actionTypes {
		if actionTypes[i].name == name {
			return &actionTypes[i]
		}
	}
	return nil
}

// otherKeyOwners explains an unknown key k of an action of type typ that is
// a key of other action types; "" when it is a key of none.
func otherKeyOwners(typ, k string) string {
	var others []string
	for _, at := range actionTypes {
		if at.name != typ && slices.Contains(at.keys, k) {
			others = append(others, at.name)
		}
	}
	if len(others) == 0 {
		return ""
	}
	return fmt.Sprintf("for %s (it is a key of %s)", typ, strings.Join(others, ", "))
}

func serial(typ string) bool {
	_, ok := SerialType(typ)
	return ok
}
