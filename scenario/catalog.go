package scenario

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

// column is one column of a base table.
type column struct {
	Name      string
	Type      string // format_type
	Generated bool
	Identity  bool   // GENERATED ... AS IDENTITY
	SerialSeq string // the base sequence (qualified) of a serial column, "" otherwise
	SeqName   string // its unqualified name
}

// fk is one foreign key in the managed schema.
type fk struct {
	Name       string
	Child      string // referencing table
	Parent     string // referenced table
	Cols       []string
	ParentCols []string
	OnUpdate   string
	OnDelete   string
	Match      string
	Deferrable bool
	Deferred   bool
}

// tableInfo is what a copy needs to know about a base table.
type tableInfo struct {
	Name    string
	Cols    []column
	Key     []string
	Indexes []string // statements that rebuild the indexes and their constraints on the copy, with %s for the copy's qualified name
}

// catalog is the managed schema's tables and foreign keys.
type catalog struct {
	tables   map[string]*tableInfo
	byParent map[string][]fk // foreign keys by referenced table
	byChild  map[string][]fk // foreign keys by referencing table
}

func fkAction(c string) string {
	switch c {
	case "r":
		return "RESTRICT"
	case "c":
		return "CASCADE"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

// readCatalog loads the ordinary and partitioned tables of the managed
// schema with their columns, keys, indexes and foreign keys.
func (m *Manager) readCatalog(ctx context.Context, q querier) (*catalog, error) {
	return m.readCatalogOf(ctx, q, nil)
}

// readCatalogOf is readCatalog for the tables named only (nil: all), and
// the foreign keys of those tables.
func (m *Manager) readCatalogOf(ctx context.Context, q querier, only []string) (*catalog, error) {
	// The columns, the indexes and the foreign keys: three queries in one
	// round trip.
	b := &pgx.Batch{}
	m.queueCatalog(b, "$2::text[]", only, true)
	br := q.SendBatch(ctx, b)
	cat, err := m.readCatalogResults(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read the catalog: %w", cerr)
	}
	return cat, err
}

// queueCatalog queues readCatalogResults's three queries, for the tables
// whose names the SQL expression only (a text[] over the parameter $2 =
// arg; NULL: every table) gives. Without indexes only the primary keys
// are read, not the other indexes and constraints a copy rebuilds (what
// diff needs: no index definitions to render and retarget).
func (m *Manager) queueCatalog(b *pgx.Batch, only string, arg any, indexes bool) {
	defs, which := "coalesce(con.conname, ''), coalesce(pg_get_constraintdef(con.oid), ''), pg_get_indexdef(x.indexrelid)", ""
	if !indexes {
		defs, which = "'', '', ''", " AND x.indisprimary"
	}
	b.Queue(`SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', a.attidentity <> '',
			coalesce((SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
				WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.refobjsubid = a.attnum
					AND d.classid = 'pg_class'::regclass AND s.relkind = 'S' AND d.deptype IN ('a', 'i') LIMIT 1), '')
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')
			AND a.attnum > 0 AND NOT a.attisdropped AND ((`+only+`) IS NULL OR c.relname = ANY (`+only+`))
		ORDER BY c.relname, a.attnum`, m.opts.Schema, arg)
	b.Queue(`SELECT t.relname, i.relname, x.indisprimary, `+defs+`,
			coalesce((SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(x.indkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n), '{}')
		FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x')
		WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND t.relkind IN ('r', 'p')`+which+`
			AND ((`+only+`) IS NULL OR t.relname = ANY (`+only+`))
		ORDER BY t.relname, x.indisprimary DESC, i.relname`, m.opts.Schema, arg)
	b.Queue(`SELECT con.conname, c.relname, p.relname,
			(SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n),
			(SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n),
			con.confupdtype::text, con.confdeltype::text, con.confmatchtype::text, con.condeferrable, con.condeferred
		FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class p ON p.oid = con.confrelid
		WHERE con.contype = 'f' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
			AND p.relnamespace = c.relnamespace AND ((`+only+`) IS NULL OR c.relname = ANY (`+only+`))
		ORDER BY c.relname, con.conname`, m.opts.Schema, arg)
}

// readCatalogResults reads the results of queueCatalog's queries.
func (m *Manager) readCatalogResults(br pgx.BatchResults) (*catalog, error) {
	cat := &catalog{tables: map[string]*tableInfo{}, byParent: map[string][]fk{}, byChild: map[string][]fk{}}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	for rows.Next() {
		var tname string
		var col column
		if err := rows.Scan(&tname, &col.Name, &col.Type, &col.Generated, &col.Identity, &col.SeqName); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the catalog: %w", err)
		}
		if col.SeqName != "" && !col.Identity {
			col.SerialSeq = pgquery.Qual(m.opts.Schema, col.SeqName)
		}
		t := cat.tables[tname]
		if t == nil {
			t = &tableInfo{Name: tname}
			cat.tables[tname] = t
		}
		t.Cols = append(t.Cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	// Keys, and the indexes with the constraints they back.
	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	for rows.Next() {
		var tname, iname, conname, condef, idxdef string
		var primary bool
		var cols []string
		if err := rows.Scan(&tname, &iname, &primary, &conname, &condef, &idxdef, &cols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the catalog: %w", err)
		}
		t := cat.tables[tname]
		if t == nil {
			continue
		}
		if primary {
			t.Key = cols
		}
		if idxdef == "" {
			continue // not read (queueCatalog without indexes)
		}
		if conname != "" {
			t.Indexes = append(t.Indexes, "ALTER TABLE %s ADD CONSTRAINT "+strings.ReplaceAll(pgquery.Ident(conname)+" "+condef, "%", "%%"))
			continue
		}
		stmt, err := retargetIndex(idxdef)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("index %s of %s: %w", iname, tname, err)
		}
		t.Indexes = append(t.Indexes, stmt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f fk
		var upd, del, match string
		if err := rows.Scan(&f.Name, &f.Child, &f.Parent, &f.Cols, &f.ParentCols, &upd, &del, &match, &f.Deferrable, &f.Deferred); err != nil {
			return nil, fmt.Errorf("read the catalog: %w", err)
		}
		f.OnUpdate, f.OnDelete = fkAction(upd), fkAction(del)
		f.Match = map[string]string{"f": "FULL", "p": "PARTIAL"}[match]
		cat.byParent[f.Parent] = append(cat.byParent[f.Parent], f)
		cat.byChild[f.Child] = append(cat.byChild[f.Child], f)
	}
	return cat, rows.Err()
}

// retargetIndex turns pg_get_indexdef's CREATE INDEX into a format string
// whose %s is the copy's qualified name (the index keeps its name: index
// names are per schema).
func retargetIndex(def string) (string, error) {
	n, err := pgquery.ParseOne(def)
	if err != nil {
		return "", err
	}
	is := n.GetIndexStmt()
	if is == nil || is.Relation == nil {
		return "", fmt.Errorf("not a CREATE INDEX: %s", def)
	}
	is.Relation.Schemaname = "strata_scn_schema_placeholder"
	is.Relation.Relname = "strata_scn_table_placeholder"
	out, err := pgquery.Deparse(n)
	if err != nil {
		return "", err
	}
	out = strings.ReplaceAll(out, "%", "%%")
	return strings.Replace(out, "strata_scn_schema_placeholder.strata_scn_table_placeholder", "%s", 1), nil
}

// fkSQL is the ALTER TABLE that adds f to the copy of f.Child, pointing at
// the copy of the parent when it is copied, else at the base table. Foreign
// keys are added NOT VALID: enforced for every row written in the scenario,
// not checked for the copied rows (a filter may keep a row whose parent it
// left out).
func fkSQL(f fk, childQual, parentQual string) string {
	s := "ALTER TABLE " + childQual + " ADD CONSTRAINT " + pgquery.Ident(f.Name) + " FOREIGN KEY (" + pgquery.IdentList(f.Cols) +
		") REFERENCES " + parentQual + " (" + pgquery.IdentList(f.ParentCols) + ")"
	if f.Match != "" {
		s += " MATCH " + f.Match
	}
	s += " ON UPDATE " + f.OnUpdate + " ON DELETE " + f.OnDelete
	if f.Deferrable {
		s += " DEFERRABLE"
		if f.Deferred {
			s += " INITIALLY DEFERRED"
		}
	}
	return s + " NOT VALID"
}

// writable are the columns a copy or a promote writes (all but generated
// ones).
func (t *tableInfo) writable() []string {
	var out []string
	for _, c := range t.Cols {
		if !c.Generated {
			out = append(out, c.Name)
		}
	}
	return out
}

func (t *tableInfo) isKey(col string) bool {
	for _, k := range t.Key {
		if k == col {
			return true
		}
	}
	return false
}

// textArray renders ARRAY[alias.col::text, ...] over all columns: the form
// rows are compared and shown in (every type has a text form; not every
// type has equality).
func (t *tableInfo) textArray(alias string) string {
	parts := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		parts[i] = alias + "." + pgquery.Ident(c.Name) + "::text"
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::text[]"
}

// textCols renders alias.col::text, ... over all columns.
func (t *tableInfo) textCols(alias string) string {
	parts := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		parts[i] = alias + "." + pgquery.Ident(c.Name) + "::text"
	}
	return strings.Join(parts, ", ")
}

// keyEq is "a.k1 = b.k1 AND ...".
func (t *tableInfo) keyEq(a, b string) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = a + "." + pgquery.Ident(k) + " = " + b + "." + pgquery.Ident(k)
	}
	return strings.Join(parts, " AND ")
}

// fkOrder sorts tables so that referenced tables come before the tables
// that reference them (cycles are cut in name order).
func fkOrder(names []string, cat *catalog) []string {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	var out []string
	state := map[string]int{}
	var visit func(n string)
	visit = func(n string) {
		if state[n] != 0 {
			return
		}
		state[n] = 1
		for _, f := range cat.byChild[n] {
			if in[f.Parent] && f.Parent != n {
				visit(f.Parent)
			}
		}
		state[n] = 2
		out = append(out, n)
	}
	for _, n := range sorted {
		visit(n)
	}
	return out
}
