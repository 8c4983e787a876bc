package foreign

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Column is a column of a remote table or of a foreign table, its type
// rendered with search_path = pg_catalog (user types schema-qualified).
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Table is a relation and its columns in order.
type Table struct {
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	// types are the user-defined types (by OID on the source) its columns
	// use; unsupported is why the table cannot be imported ("" if it can).
	types       []uint32
	unsupported string
}

// UserType is a remote enum or domain used by an imported column.
type UserType struct {
	OID    uint32
	Schema string
	Name   string
	Kind   byte     // 'e' enum, 'd' domain
	Labels []string // enum
	Base   string   // domain: base type
	// Constraints of a domain (CHECK ...), NotNull.
	Constraints []string
	NotNull     bool
}

// Qualified is the type's schema-qualified, quoted name.
func (u *UserType) Qualified() string { return pgx.Identifier{u.Schema, u.Name}.Sanitize() }

// remote is what sync reads from the migrated database.
type remote struct {
	tables []Table
	types  map[uint32]*UserType
	// extensions installed there (but plpgsql).
	extensions []string
	version    string
}

const remoteColumnsSQL = `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN et.typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
            THEN et.oid END,
       et.typtype
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_type et ON et.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
   AND c.relkind IN ('r', 'v', 'f', 'm', 'p') AND NOT c.relispartition
 ORDER BY c.relname COLLATE "C", a.attnum`

// readRemote reads the tables of the declaration's remote schema (those it
// imports) and the user-defined types their columns use.
func (d *Decl) readRemote(ctx context.Context, conn *pgx.Conn, o *Options) (*remote, error) {
	r := &remote{types: map[uint32]*UserType{}}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&r.version); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, remoteColumnsSQL, d.remoteSchema(o))
		if err != nil {
			return err
		}
		byName := map[string]*Table{}
		var order []string
		for rows.Next() {
			var rel, col, typ string
			var udt *uint32
			var typtype *string
			if err := rows.Scan(&rel, &col, &typ, &udt, &typtype); err != nil {
				return err
			}
			if !d.imports(rel) {
				continue
			}
			t := byName[rel]
			if t == nil {
				t = &Table{Name: rel}
				byName[rel] = t
				order = append(order, rel)
			}
			t.Columns = append(t.Columns, Column{Name: col, Type: typ})
			if udt != nil {
				switch {
				case typtype != nil && (*typtype == "e" || *typtype == "d"):
					if !slices.Contains(t.types, *udt) {
						t.types = append(t.types, *udt)
					}
				default:
					t.unsupported = fmt.Sprintf("column %q has type %s, which strata cannot create in the target (only enums and domains)", col, typ)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range order {
			r.tables = append(r.tables, *byName[n])
		}
		for _, t := range r.tables {
			for _, oid := range t.types {
				if _, ok := r.types[oid]; ok {
					continue
				}
				u, err := readType(ctx, tx, oid)
				if err != nil {
					return err
				}
				r.types[oid] = u
			}
		}
		exts, err := stringsOf(ctx, tx, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
		r.extensions = exts
		return err
	})
	if err != nil {
		return nil, err
	}
	// A domain over a user type is not created: its tables are skipped.
	for i := range r.tables {
		for _, oid := range r.tables[i].types {
			if u := r.types[oid]; u.Kind == 'd' && u.Base == "" {
				r.tables[i].unsupported = fmt.Sprintf("domain %s is over a user-defined type", u.Qualified())
			}
		}
	}
	return r, nil
}

func readType(ctx context.Context, tx pgx.Tx, oid uint32) (*UserType, error) {
	u := &UserType{OID: oid}
	var kind string
	var baseUser bool
	err := tx.QueryRow(ctx, `
SELECT n.nspname, t.typname, t.typtype, t.typnotnull,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END,
       t.typtype = 'd' AND bt.typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
 WHERE t.oid = $1`, oid).Scan(&u.Schema, &u.Name, &kind, &u.NotNull, &u.Base, &baseUser)
	if err != nil {
		return nil, err
	}
	u.Kind = kind[0]
	if baseUser {
		u.Base = ""
	}
	switch u.Kind {
	case 'e':
		u.Labels, err = stringsOf(ctx, tx, "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder", oid)
	case 'd':
		u.Constraints, err = stringsOf(ctx, tx, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contypid = $1 AND contype = 'c' ORDER BY conname", oid)
	}
	return u, err
}

func stringsOf(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// imports reports whether the declaration imports the remote relation.
func (d *Decl) imports(rel string) bool {
	if len(d.Tables) > 0 {
		return slices.Contains(d.Tables, rel)
	}
	return !slices.Contains(d.Except, rel)
}

// readLocal reads the foreign tables of the target schema.
func readLocal(ctx context.Context, conn *pgx.Conn, schema string) (out []Table, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
			return err
		}
		out, err = readLocalTx(ctx, tx, schema)
		return err
	})
	return out, err
}

func readLocalTx(ctx context.Context, tx pgx.Tx, schema string) ([]Table, error) {
	rows, err := tx.Query(ctx, `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'f'
 ORDER BY c.relname COLLATE "C", a.attnum`, schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Table
	for rows.Next() {
		var rel string
		var c Column
		if err := rows.Scan(&rel, &c.Name, &c.Type); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != rel {
			out = append(out, Table{Name: rel})
		}
		out[len(out)-1].Columns = append(out[len(out)-1].Columns, c)
	}
	return out, rows.Err()
}

// Change is one difference between the foreign tables and the remote
// tables.
type Change struct {
	Table  string `json:"table"`
	Column string `json:"column,omitempty"`
	// Kind: "table added", "table dropped", "column added", "column
	// dropped", "column retyped", "table skipped", "grant dropped" (a
	// column-level grant on a dropped column, in Reason).
	Kind string `json:"kind"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Severity is "silent" for additions, "breaking" for the rest.
	Severity string `json:"severity"`
	// Reason says why a table is skipped.
	Reason string `json:"reason,omitempty"`
}

func (c Change) String() string {
	switch c.Kind {
	case "table added", "table dropped":
		return fmt.Sprintf("%s %s (%s)", c.Kind, c.Table, c.Severity)
	case "column added":
		return fmt.Sprintf("column added %s.%s %s (%s)", c.Table, c.Column, c.To, c.Severity)
	case "column dropped":
		return fmt.Sprintf("column dropped %s.%s %s (%s)", c.Table, c.Column, c.From, c.Severity)
	case "column retyped":
		return fmt.Sprintf("column retyped %s.%s %s -> %s (%s)", c.Table, c.Column, c.From, c.To, c.Severity)
	case "table skipped":
		return fmt.Sprintf("table skipped %s: %s", c.Table, c.Reason)
	case "grant dropped":
		return fmt.Sprintf("grant dropped %s.%s: %s (the column is gone)", c.Table, c.Column, c.Reason)
	}
	return c.Kind + " " + c.Table
}

// diff returns the changes from the foreign tables have to the remote ones
// (want), in table then column order.
func diff(have, want []Table) []Change {
	var out []Change
	h := map[string]Table{}
	for _, t := range have {
		h[t.Name] = t
	}
	w := map[string]bool{}
	for _, t := range want {
		w[t.Name] = true
		old, ok := h[t.Name]
		if !ok {
			out = append(out, Change{Table: t.Name, Kind: "table added", Severity: "silent"})
			continue
		}
		oc := map[string]string{}
		for _, c := range old.Columns {
			oc[c.Name] = c.Type
		}
		nc := map[string]bool{}
		for _, c := range t.Columns {
			nc[c.Name] = true
			typ, ok := oc[c.Name]
			switch {
			case !ok:
				out = append(out, Change{Table: t.Name, Column: c.Name, Kind: "column added", To: c.Type, Severity: "silent"})
			case typ != c.Type:
				out = append(out, Change{Table: t.Name, Column: c.Name, Kind: "column retyped", From: typ, To: c.Type, Severity: "breaking"})
			}
		}
		for _, c := range old.Columns {
			if !nc[c.Name] {
				out = append(out, Change{Table: t.Name, Column: c.Name, Kind: "column dropped", From: c.Type, Severity: "breaking"})
			}
		}
	}
	for _, t := range have {
		if !w[t.Name] {
			out = append(out, Change{Table: t.Name, Kind: "table dropped", Severity: "breaking"})
		}
	}
	slices.SortStableFunc(out, func(a, b Change) int {
		if a.Table < b.Table {
			return -1
		}
		if a.Table > b.Table {
			return 1
		}
		return 0
	})
	return out
}
