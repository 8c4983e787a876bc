package scenario

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgquery"
)

// DiffOptions narrow a diff.
type DiffOptions struct {
	Against string // another scenario ("" = the base)
	Table   string // one table ("" = all)
	Limit   int    // at most this many changes listed (0 = all); counts are always complete
	SQL     bool   // also render Diff.Statements
}

// Diff is what changed in a scenario against the base (restricted to the
// scenario's filters) or against another scenario.
type Diff struct {
	Scenario  string         `json:"scenario"`
	Against   string         `json:"against"` // "base" or the other scenario
	Tables    []TableSummary `json:"tables"`
	Changes   []Change       `json:"changes"`
	Truncated bool           `json:"truncated"`
	// Statements make the old side equal to the new one (format sql).
	Statements []string `json:"-"`
}

// TableSummary counts one table's changes.
type TableSummary struct {
	Table    string `json:"table"`
	Inserted int    `json:"inserted"`
	Updated  int    `json:"updated"`
	Deleted  int    `json:"deleted"`
}

// Change is one row added, removed or changed. Values are PostgreSQL's
// text form; nil is NULL.
type Change struct {
	Table   string            `json:"table"`
	Op      string            `json:"op"` // insert, update or delete
	Key     map[string]string `json:"key"`
	Columns []ColumnChange    `json:"columns"`
}

// ColumnChange is one column's old and new value.
type ColumnChange struct {
	Column string  `json:"column"`
	Old    *string `json:"old"`
	New    *string `json:"new"`
}

// Total is the number of changes.
func (d *Diff) Total() int {
	n := 0
	for _, t := range d.Tables {
		n += t.Inserted + t.Updated + t.Deleted
	}
	return n
}

// side is where one side of a diff reads a table: a relation and, for a
// copy, its change log.
type side struct {
	rel    string // SQL relation
	target string // the table statements write (format sql)
	log    string // qualified change log, "" for the base
}

func baseSide(sc *Scenario, t Table) side {
	rel := pgquery.Qual(sc.BaseSchema, t.Name)
	target := rel
	if t.Filter != nil {
		rel = "(SELECT * FROM " + rel + " WHERE (" + *t.Filter + "))"
	}
	return side{rel: rel, target: target}
}

func copySide(sc *Scenario, t Table) side {
	q := pgquery.Qual(sc.Schema, t.Name)
	return side{rel: q, target: q, log: pgquery.Qual(sc.Schema, t.logTable)}
}

func findTable(sc *Scenario, name string) (Table, bool) {
	for _, t := range sc.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Diff compares a scenario with the base or another scenario. Only keys in
// the change logs are compared: rows untouched since the copy are skipped.
func (m *Manager) Diff(ctx context.Context, name string, o DiffOptions) (*Diff, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	// One round trip: the read-only transaction and its settings, the
	// metadata of the scenario (and of --against's) and the catalog of
	// their tables; then one query per table. Nothing is written: closing
	// the connection ends the transaction.
	names := []string{name}
	if o.Against != "" && o.Against != name {
		names = append(names, o.Against)
	}
	b := &pgx.Batch{}
	m.queueReadTx(b)
	m.queueDiffLoad(b, names)
	m.queueDiffCatalog(b, "(SELECT array_agg(table_name::text) FROM "+m.st("scenario_table")+" WHERE scenario = ANY ($2::text[]))::text[]", names)
	scs, cat, err := m.readDiffBatch(ctx, conn, b)
	if err != nil {
		return nil, err
	}
	var sc, other *Scenario
	for _, s := range scs {
		if s.Name == name {
			sc = s
		}
		if o.Against != "" && s.Name == o.Against {
			other = s
		}
	}
	if sc == nil {
		return nil, fmt.Errorf("%w %q\nhint: strata scenario list shows the scenarios", ErrNotFound, name)
	}
	if err := ready(sc); err != nil {
		return nil, err
	}
	d := &Diff{Scenario: name, Against: "base", Changes: []Change{}, Tables: []TableSummary{}}
	if o.Against != "" {
		if other == nil {
			return nil, &InputError{Flag: "--against", Msg: fmt.Sprintf("no scenario %q", o.Against), Hint: "strata scenario list shows the scenarios"}
		}
		if err := ready(other); err != nil {
			return nil, err
		}
		d.Against = o.Against
	}
	err = func() error {
		// The tables: the scenario's, and with --against the other's too.
		names := []string{}
		seen := map[string]bool{}
		for _, s := range []*Scenario{sc, other} {
			if s == nil {
				continue
			}
			for _, t := range s.Tables {
				if !seen[t.Name] {
					seen[t.Name] = true
					names = append(names, t.Name)
				}
			}
		}
		if o.Table != "" {
			if !seen[o.Table] {
				return &InputError{Flag: "--table", Msg: fmt.Sprintf("scenario %s holds no copy of table %q", name, o.Table), Hint: "strata scenario show " + name + " lists its tables"}
			}
			names = []string{o.Table}
		}
		var all []Change
		for _, n := range fkOrder(names, cat) {
			info := cat.tables[n]
			if info == nil {
				return fmt.Errorf("scenario %s: table %q is gone from schema %s", name, n, sc.BaseSchema)
			}
			var newS, oldS side
			t, inNew := findTable(sc, n)
			switch {
			case other == nil:
				newS, oldS = copySide(sc, t), baseSide(sc, t)
			default:
				ot, inOld := findTable(other, n)
				switch {
				case inNew && inOld:
					newS, oldS = copySide(sc, t), copySide(other, ot)
				case inNew:
					newS, oldS = copySide(sc, t), baseSide(sc, t)
				default:
					newS, oldS = baseSide(other, ot), copySide(other, ot)
				}
			}
			var changes []Change
			if other == nil {
				changes, err = diffLog(ctx, conn, info, newS.log)
			} else {
				changes, err = diffTable(ctx, conn, info, oldS, newS)
			}
			if err != nil {
				return fmt.Errorf("scenario diff %s: table %s: %w", name, n, err)
			}
			sum := TableSummary{Table: n}
			for _, c := range changes {
				switch c.Op {
				case "insert":
					sum.Inserted++
				case "update":
					sum.Updated++
				case "delete":
					sum.Deleted++
				}
			}
			d.Tables = append(d.Tables, sum)
			all = append(all, changes...)
			if o.SQL {
				d.Statements = append(d.Statements, statements(info, oldS.target, changes)...)
			}
		}
		d.Statements = orderStatements(d.Statements)
		if o.Limit > 0 && len(all) > o.Limit {
			all, d.Truncated = all[:o.Limit], true
		}
		if all != nil {
			d.Changes = all
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return d, nil
}

// readDiffBatch sends b (queueReadTx, queueLoad, queueCatalog) and reads
// the scenarios and the catalog. Without the metadata tables there is no
// scenario: no error, no scenarios.
func (m *Manager) readDiffBatch(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) ([]*Scenario, *catalog, error) {
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range readTxStatements {
		if _, err := br.Exec(); err != nil {
			return nil, nil, err
		}
	}
	scs, err := m.readDiffLoad(br)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never installed
			return nil, nil, nil
		}
		return nil, nil, err
	}
	cat, err := m.readDiffCatalog(br)
	if err != nil {
		return nil, nil, err
	}
	if err := br.Close(); err != nil {
		return nil, nil, err
	}
	return scs, cat, nil
}

// queueDiffLoad queues the one query of the metadata diff reads, for the
// scenarios named: each one's names and state and its tables with their
// filters and change logs (not its members, sizes or counts).
func (m *Manager) queueDiffLoad(b *pgx.Batch, names []string) {
	b.Queue(`SELECT s.name, s.schema_name, s.base_schema, s.state, t.table_name, t.filter, t.log_table
		FROM `+m.st("scenario")+` s LEFT JOIN `+m.st("scenario_table")+` t ON t.scenario = s.name
		WHERE s.name = ANY ($1::text[]) ORDER BY s.name, t.position`, names)
}

// readDiffLoad reads the result of queueDiffLoad's query.
func (m *Manager) readDiffLoad(br pgx.BatchResults) ([]*Scenario, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("scenario: read metadata: %w", err)
	}
	defer rows.Close()
	var out []*Scenario
	for rows.Next() {
		var s Scenario
		var table, logTable *string
		var filter *string
		if err := rows.Scan(&s.Name, &s.Schema, &s.BaseSchema, &s.State, &table, &filter, &logTable); err != nil {
			return nil, fmt.Errorf("scenario: read metadata: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Name != s.Name {
			out = append(out, &s)
		}
		if table != nil && logTable != nil {
			last := out[len(out)-1]
			last.Tables = append(last.Tables, Table{Name: *table, Filter: filter, logTable: *logTable})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scenario: read metadata: %w", err)
	}
	return out, nil
}

// queueDiffCatalog queues the one query of the catalog diff reads, for
// the tables whose names the SQL expression only gives (over the
// parameter $2 = arg): per table, its columns (name, type, generated or
// not), its primary key, and the tables of the same schema it references
// (to order the tables, parents first). One query, no index or
// constraint definitions and no sequences: on the command's fresh server
// backend, each catalog a query touches and each join it plans costs more
// than the rows it reads.
func (m *Manager) queueDiffCatalog(b *pgx.Batch, only string, arg any) {
	cols := func(expr string) string {
		return `array(SELECT ` + expr + ` FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)`
	}
	b.Queue(`SELECT c.relname::text, `+cols("a.attname::text")+`, `+cols("format_type(a.atttypid, a.atttypmod)")+`, `+cols("a.attgenerated <> ''")+`,
			coalesce((SELECT array_agg(a.attname::text ORDER BY k.i) FROM pg_index x CROSS JOIN unnest(x.indkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n WHERE x.indrelid = c.oid AND x.indisprimary), '{}'),
			array(SELECT DISTINCT p.relname::text FROM pg_constraint con JOIN pg_class p ON p.oid = con.confrelid
				WHERE con.conrelid = c.oid AND con.contype = 'f' AND p.relnamespace = c.relnamespace)
		FROM pg_class c
		WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1::text) AND c.relkind IN ('r', 'p')
			AND c.relname = ANY (`+only+`)`, m.opts.Schema, arg)
}

// readDiffCatalog reads the result of queueDiffCatalog's query.
func (m *Manager) readDiffCatalog(br pgx.BatchResults) (*catalog, error) {
	cat := &catalog{tables: map[string]*tableInfo{}, byParent: map[string][]fk{}, byChild: map[string][]fk{}}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("scenario: read the catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t := &tableInfo{}
		var names, types, parents []string
		var gen []bool
		if err := rows.Scan(&t.Name, &names, &types, &gen, &t.Key, &parents); err != nil {
			return nil, fmt.Errorf("scenario: read the catalog: %w", err)
		}
		if len(types) != len(names) || len(gen) != len(names) {
			return nil, fmt.Errorf("scenario: read the catalog: table %s: %d columns, %d types", t.Name, len(names), len(types))
		}
		for i, n := range names {
			t.Cols = append(t.Cols, column{Name: n, Type: types[i], Generated: gen[i]})
		}
		cat.tables[t.Name] = t
		for _, p := range parents {
			f := fk{Child: t.Name, Parent: p}
			cat.byChild[t.Name] = append(cat.byChild[t.Name], f)
			cat.byParent[p] = append(cat.byParent[p], f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scenario: read the catalog: %w", err)
	}
	return cat, nil
}

func ready(sc *Scenario) error {
	if sc.State != StateReady {
		return fmt.Errorf("scenario %s was not created completely (state %s)\nhint: run strata scenario drop %s, then create it again", sc.Name, sc.State, sc.Name)
	}
	return nil
}

// diffLog reads a scenario's changes against the base from its change log
// alone: for each key changed in the scenario, the row as it was copied
// (the base, restricted to the filter, at the copy's snapshot) and the row
// now. Nothing else is read: the rows untouched since the copy are not
// compared. (A base row changed since the copy is a conflict for promote.)
func diffLog(ctx context.Context, conn *pgx.Conn, t *tableInfo, log string) ([]Change, error) {
	keyText, keyCols := make([]string, len(t.Key)), make([]string, len(t.Key))
	for i, k := range t.Key {
		keyText[i] = "l." + pgquery.Ident(k) + "::text"
		keyCols[i] = "l." + pgquery.Ident(k) // the key, not its text (an output column of that name)
	}
	// The two rows come as whole arrays in binary form (no subscripts, no
	// quoting), read straight off the wire.
	nk := len(t.Key)
	formats := make([]int16, nk+4)
	formats[nk+2], formats[nk+3] = 1, 1
	// A row changed and changed back is no difference: its two arrays are
	// equal byte for byte (compared here rather than by the server, which
	// would copy both arrays of every row to compare them).
	rr := conn.PgConn().ExecParams(ctx, `SELECT `+strings.Join(keyText, ", ")+`, _strata_orig IS NOT NULL, _strata_new IS NOT NULL, _strata_orig, _strata_new
		FROM `+log+` l ORDER BY `+strings.Join(keyCols, ", "), nil, nil, nil, formats)
	var out []Change
	var oldV, newV [][]byte
	var a arena
	for rr.NextRow() {
		v := rr.Values()
		if len(v) != nk+4 {
			rr.Close()
			return nil, fmt.Errorf("diff: %d columns, want %d", len(v), nk+4)
		}
		if (v[nk+2] == nil) == (v[nk+3] == nil) && bytes.Equal(v[nk+2], v[nk+3]) {
			continue
		}
		var err error
		if oldV, err = textArray(v[nk+2], oldV[:0]); err == nil {
			newV, err = textArray(v[nk+3], newV[:0])
		}
		if err != nil {
			rr.Close()
			return nil, fmt.Errorf("diff: %w", err)
		}
		c, err := a.change(t, v[:nk], string(v[nk]) == "t", string(v[nk+1]) == "t", oldV, newV)
		if err != nil {
			rr.Close()
			return nil, err
		}
		out = append(out, c)
	}
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// textArray splits a one-dimensional text[] in binary form into its
// elements (nil: NULL), appended to dst; a NULL array gives no elements.
func textArray(b []byte, dst [][]byte) ([][]byte, error) {
	if b == nil {
		return dst, nil
	}
	// The error is made only when needed: this runs twice per changed row.
	bad := func() error { return fmt.Errorf("malformed text[] of %d bytes", len(b)) }
	if len(b) < 12 {
		return nil, bad()
	}
	ndim := int(binary.BigEndian.Uint32(b))
	if ndim == 0 {
		return dst, nil
	}
	if ndim != 1 || len(b) < 20 {
		return nil, bad()
	}
	n := int(int32(binary.BigEndian.Uint32(b[12:])))
	p := 20
	for range n {
		if p+4 > len(b) {
			return nil, bad()
		}
		l := int(int32(binary.BigEndian.Uint32(b[p:])))
		p += 4
		if l < 0 {
			dst = append(dst, nil)
			continue
		}
		if p+l > len(b) {
			return nil, bad()
		}
		dst = append(dst, b[p:p+l:p+l])
		p += l
	}
	return dst, nil
}

// diffTable compares the rows of the keys in either side's change log.
// Each key looks its rows up through the primary keys (LATERAL ... LIMIT 1
// keeps the planner from hashing whole tables): the rows untouched since
// the copy are never read.
func diffTable(ctx context.Context, conn *pgx.Conn, t *tableInfo, oldS, newS side) ([]Change, error) {
	rows, err := conn.Query(ctx, diffQuery(t, oldS, newS))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanChanges(rows, t)
}

func diffQuery(t *tableInfo, oldS, newS side) string {
	keys := pgquery.IdentList(t.Key)
	var logs []string
	for _, s := range []side{oldS, newS} {
		if s.log != "" {
			logs = append(logs, "SELECT "+keys+" FROM "+s.log)
		}
	}
	keyText, keyCols := make([]string, len(t.Key)), make([]string, len(t.Key))
	for i, k := range t.Key {
		keyText[i] = "k." + pgquery.Ident(k) + "::text"
		keyCols[i] = "k." + pgquery.Ident(k)
	}
	k0 := pgquery.Ident(t.Key[0])
	q := `WITH k AS (` + strings.Join(logs, " UNION ") + `)
		SELECT ` + strings.Join(keyText, ", ") + `, o.` + k0 + ` IS NOT NULL, n.` + k0 + ` IS NOT NULL, ` + t.textCols("o") + `, ` + t.textCols("n") + `
		FROM k LEFT JOIN LATERAL (SELECT o.* FROM ` + oldS.rel + ` o WHERE ` + t.keyEq("o", "k") + ` LIMIT 1) o ON true
		LEFT JOIN LATERAL (SELECT n.* FROM ` + newS.rel + ` n WHERE ` + t.keyEq("n", "k") + ` LIMIT 1) n ON true
		WHERE ` + t.textArray("o") + ` IS DISTINCT FROM ` + t.textArray("n") + `
		ORDER BY ` + strings.Join(keyCols, ", ")
	return q
}

// scanChanges reads rows of the key columns, whether the old and the new
// row exist, then the old row's and the new row's columns, all as text.
func scanChanges(rows pgx.Rows, t *tableInfo) ([]Change, error) {
	nk, nc := len(t.Key), len(t.Cols)
	var out []Change
	var a arena
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != nk+2+2*nc {
			return nil, fmt.Errorf("diff: %d columns, want %d", len(v), nk+2+2*nc)
		}
		c, err := a.change(t, v[:nk], string(v[nk]) == "t", string(v[nk+1]) == "t", v[nk+2:nk+2+nc], v[nk+2+nc:])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// change makes one Change of raw text values (nil: NULL; oldV and newV
// may be empty when that row does not exist). Of an update only the
// columns that changed are kept. The strings of one change share one
// allocation.
//
// A diff makes one Change per changed row (10,000 for 1% of a 1M-row
// table): the arena hands out their column slices and value strings from
// shared blocks, so that a change costs a few allocations, not one per
// column (the garbage collector's work was a large part of diff's time).
func (a *arena) change(t *tableInfo, key [][]byte, hasOld, hasNew bool, oldV, newV [][]byte) (Change, error) {
	nc := len(t.Cols)
	if hasOld && len(oldV) != nc || hasNew && len(newV) != nc {
		return Change{}, fmt.Errorf("diff of %s: a row of %d/%d values, want %d", t.Name, len(oldV), len(newV), nc)
	}
	c := Change{Table: t.Name, Key: make(map[string]string, len(t.Key))}
	switch {
	case hasOld && hasNew:
		c.Op = "update"
	case hasNew:
		c.Op = "insert"
	default:
		c.Op = "delete"
	}
	if !hasOld {
		oldV = nil
	}
	if !hasNew {
		newV = nil
	}
	at := func(vs [][]byte, i int) []byte {
		if vs == nil {
			return nil
		}
		return vs[i]
	}
	// The columns kept, and the bytes of every string.
	keep := a.keep[:0]
	defer func() { a.keep = keep[:0] }()
	size, vals := 0, 0
	for _, k := range key {
		size += len(k)
	}
	for i := range nc {
		ob, nb := at(oldV, i), at(newV, i)
		if c.Op == "update" && (ob == nil) == (nb == nil) && bytes.Equal(ob, nb) {
			continue
		}
		keep = append(keep, i)
		for _, b := range [][]byte{ob, nb} {
			if b != nil {
				size += len(b)
				vals++
			}
		}
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, k := range key {
		sb.Write(k)
	}
	for _, i := range keep {
		sb.Write(at(oldV, i))
		sb.Write(at(newV, i))
	}
	all := sb.String()
	strs := a.strings(vals)
	p := 0
	next := func(b []byte) *string {
		if b == nil {
			return nil
		}
		strs = append(strs, all[p:p+len(b)])
		p += len(b)
		return &strs[len(strs)-1]
	}
	for i, k := range t.Key {
		c.Key[k] = all[p : p+len(key[i])]
		p += len(key[i])
	}
	c.Columns = a.columns(len(keep))
	for _, i := range keep {
		o := next(at(oldV, i))
		n := next(at(newV, i))
		c.Columns = append(c.Columns, ColumnChange{Column: t.Cols[i].Name, Old: o, New: n})
	}
	return c, nil
}

// arena allocates the parts of many Changes in blocks. Its zero value is
// ready; it is not safe for concurrent use.
type arena struct {
	keep []int          // scratch: the columns a change keeps
	strs []string       // the unused part of the current block of values
	cols []ColumnChange // the unused part of the current block of columns
}

// arenaBlock is the number of values or columns in one block.
const arenaBlock = 4096

// strings returns an empty slice with room for n values (appending up to
// n never reallocates, so pointers to its elements stay valid).
func (a *arena) strings(n int) []string { return carve(&a.strs, n) }

// columns returns an empty slice with room for exactly n columns.
func (a *arena) columns(n int) []ColumnChange { return carve(&a.cols, n) }

// carve takes an empty slice with room for exactly n elements from the
// front of *block, starting a new block of arenaBlock elements when it is
// too short (a request larger than a block gets its own slice).
func carve[T any](block *[]T, n int) []T {
	if n > arenaBlock {
		return make([]T, 0, n)
	}
	if len(*block) < n {
		*block = make([]T, arenaBlock)
	}
	out := (*block)[:0:n]
	*block = (*block)[n:]
	return out
}

func lit(t *tableInfo, col string, v *string) string {
	if v == nil {
		return "NULL"
	}
	for _, c := range t.Cols {
		if c.Name == col {
			return pgquery.Literal(*v) + "::" + c.Type
		}
	}
	return pgquery.Literal(*v)
}

func keyWhere(t *tableInfo, key map[string]string) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		v := key[k]
		parts[i] = pgquery.Ident(k) + " = " + lit(t, k, &v)
	}
	return strings.Join(parts, " AND ")
}

// statements renders changes as SQL on target, tagged for ordering: "1"
// deletes (run in reverse), "2" inserts and updates.
func statements(t *tableInfo, target string, changes []Change) []string {
	var out []string
	gen := map[string]bool{}
	for _, c := range t.Cols {
		gen[c.Name] = c.Generated
	}
	for _, c := range changes {
		switch c.Op {
		case "delete":
			out = append(out, "1DELETE FROM "+target+" WHERE "+keyWhere(t, c.Key)+";")
		case "insert":
			var cols, vals []string
			for _, cc := range c.Columns {
				if gen[cc.Column] {
					continue
				}
				cols = append(cols, pgquery.Ident(cc.Column))
				vals = append(vals, lit(t, cc.Column, cc.New))
			}
			out = append(out, "2INSERT INTO "+target+" ("+strings.Join(cols, ", ")+") OVERRIDING SYSTEM VALUE VALUES ("+strings.Join(vals, ", ")+");")
		case "update":
			var sets []string
			for _, cc := range c.Columns {
				if gen[cc.Column] {
					continue
				}
				sets = append(sets, pgquery.Ident(cc.Column)+" = "+lit(t, cc.Column, cc.New))
			}
			if len(sets) > 0 {
				out = append(out, "2UPDATE "+target+" SET "+strings.Join(sets, ", ")+" WHERE "+keyWhere(t, c.Key)+";")
			}
		}
	}
	return out
}

// orderStatements puts the deletes first, children before parents (the
// tables were visited parents first), then inserts and updates in
// parent-first order, and strips the tags.
func orderStatements(tagged []string) []string {
	var dels, rest []string
	for _, s := range tagged {
		if s[0] == '1' {
			dels = append(dels, s[1:])
		} else {
			rest = append(rest, s[1:])
		}
	}
	out := make([]string, 0, len(tagged))
	for i := len(dels) - 1; i >= 0; i-- {
		out = append(out, dels[i])
	}
	return append(out, rest...)
}
