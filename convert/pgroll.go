package convert

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/stratapg/strata/migration"
)

// pgroll migrations (https://github.com/xataio/pgroll) are JSON or YAML
// files of the form {name?, version_schema?, operations: [{<op>: {...}}]}.
// fromPgroll converts each to one strata file, in the order of the
// folder's .ledger when one is given (else the order of the inputs), and
// follows the schema the chain builds (tables, columns, types, constraint
// kinds), which some mappings need: a drop_constraint becomes remove_check
// or remove_foreign_key when the kind is known, and an up/down that only
// fixes data before a constraint is added needs the column's type.
//
// The mapping is documented in docs/migrations.md ("pgroll files").

// LedgerName is the file pgroll keeps a migrations folder's order in. The
// CLI passes it as an input when the folder has one.
const LedgerName = ".ledger"

func fromPgroll(inputs []Input) (*Result, error) {
	files, ledgerWarns, err := pgrollOrder(inputs)
	if err != nil {
		return nil, err
	}
	res := &Result{Warnings: ledgerWarns}
	sch := newPgSchema()
	var errs []error
	names := map[string]string{}
	for i, in := range files {
		c := &pgConv{file: in.Name, schema: sch}
		doc, err := c.convertFile(in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sort.SliceStable(c.warns, func(i, j int) bool { return c.warns[i].Line < c.warns[j].Line })
		out := OutputName(in.Name)
		if len(files) > 1 && !pgrollNaturalOrder(files) {
			// strata runs files in the natural order of their names; keep
			// the ledger's order by numbering them.
			out = fmt.Sprintf("%03d_%s", i+1, out)
		}
		stem := strings.TrimSuffix(out, ".toml")
		if !validMigrationName(stem) && (doc.Top == nil || doc.Top.Len() == 0 || !doc.Top.has("name")) {
			clean := sanitizeMigrationName(stem)
			c.warn(0, "", fmt.Sprintf("check: the file name %q is not a valid strata migration name (a-z, 0-9 and _ only): written as %s.toml", stem, clean))
			out = clean + ".toml"
		}
		if prev, ok := names[out]; ok {
			errs = append(errs, fmt.Errorf("%w: %s and %s both convert to %s", ErrNotConvertible, prev, in.Name, out))
			continue
		}
		names[out] = in.Name
		doc.Comments = append([]string{"converted from pgroll " + path.Base(strings.ReplaceAll(in.Name, "\\", "/")) + " by strata convert"}, c.warnComments()...)
		res.Files = append(res.Files, File{Name: out, Data: doc.Bytes()})
		res.Warnings = append(res.Warnings, c.warns...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return res, nil
}

// pgrollOrder returns the migration inputs in the order to convert them:
// the .ledger's order when a .ledger is among the inputs (files it does not
// list come after, with a warning; an entry without a file is an error),
// else the order given.
func pgrollOrder(inputs []Input) ([]Input, []Warning, error) {
	var ledger *Input
	var files []Input
	for i := range inputs {
		if path.Base(strings.ReplaceAll(inputs[i].Name, "\\", "/")) == LedgerName {
			ledger = &inputs[i]
			continue
		}
		files = append(files, inputs[i])
	}
	if ledger == nil {
		return files, nil, nil
	}
	byName := map[string]int{}
	for i, f := range files {
		base := path.Base(strings.ReplaceAll(f.Name, "\\", "/"))
		byName[base] = i
		byName[strings.TrimSuffix(base, path.Ext(base))] = i
	}
	var ordered []Input
	used := map[int]bool{}
	var warns []Warning
	for n, line := range strings.Split(string(ledger.Data), "\n") {
		entry := strings.TrimSpace(line)
		if entry == "" || strings.HasPrefix(entry, "#") {
			continue
		}
		i, ok := byName[entry]
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s:%d: the ledger lists %q, which is not among the files", ErrNotConvertible, ledger.Name, n+1, entry)
		}
		if used[i] {
			return nil, nil, fmt.Errorf("%w: %s:%d: the ledger lists %q twice", ErrNotConvertible, ledger.Name, n+1, entry)
		}
		used[i] = true
		ordered = append(ordered, files[i])
	}
	for i, f := range files {
		if !used[i] {
			warns = append(warns, Warning{File: f.Name, Msg: "check: not listed in " + ledger.Name + " (pgroll would not run it): converted after the listed files"})
			ordered = append(ordered, f)
		}
	}
	return ordered, warns, nil
}

// pgrollNaturalOrder reports whether the output names sort (naturally) in
// the order of files.
func pgrollNaturalOrder(files []Input) bool {
	for i := 1; i < len(files); i++ {
		a, b := OutputName(files[i-1].Name), OutputName(files[i].Name)
		if !migration.NaturalLess(a, b) {
			return false
		}
	}
	return true
}

var migrationNameRe = regexp.MustCompile(`^[a-z0-9_]+$`)

func validMigrationName(s string) bool { return migrationNameRe.MatchString(s) }

func sanitizeMigrationName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "migration"
	}
	return b.String()
}

func (t *Table) has(k string) bool { _, ok := t.vals[k]; return ok }

// pgConv converts one pgroll file.
type pgConv struct {
	file   string
	schema *pgSchema
	warns  []Warning
	errs   []string
	// actions of the file so far (create_table folding looks back at them)
	actions []*Table
	// tables created by this file, by name -> their create_table action
	created map[string]*Table
}

func (c *pgConv) warn(line int, key, msg string) {
	c.warns = append(c.warns, Warning{File: c.file, Line: line, Key: key, Msg: msg})
}

func (c *pgConv) fail(line int, key, msg string) {
	var b strings.Builder
	b.WriteString(c.file)
	if line > 0 {
		fmt.Fprintf(&b, ":%d", line)
	}
	if key != "" {
		b.WriteString(": " + key)
	}
	b.WriteString(": " + msg)
	c.errs = append(c.errs, b.String())
}

func (c *pgConv) warnComments() []string {
	var out []string
	for _, w := range c.warns {
		s := "warning"
		if w.Line > 0 {
			s += fmt.Sprintf(" (line %d)", w.Line)
		}
		if w.Key != "" {
			s += " " + w.Key
		}
		out = append(out, s+": "+w.Msg)
	}
	return out
}

func (c *pgConv) convertFile(in Input) (*Doc, error) {
	var root *pnode
	var err error
	switch strings.ToLower(path.Ext(in.Name)) {
	case ".json":
		root, err = parsePgrollJSON(in.Data)
	default:
		root, err = parsePgrollYAML(in.Data)
	}
	if err != nil {
		msg := err.Error()
		if m := lineMsgRe.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%w:\n%s:%s: %s\n%s", ErrNotConvertible, in.Name, m[1], m[2], pgrollHint)
		}
		return nil, fmt.Errorf("%w:\n%s: %s\n%s", ErrNotConvertible, in.Name, msg, pgrollHint)
	}
	doc := &Doc{Top: NewTable()}
	c.created = map[string]*Table{}
	top := c.obj(root, "")
	if top == nil {
		return nil, c.err()
	}
	if name, ok := top.str("name", false); ok {
		if validMigrationName(name) {
			doc.Top.Set("name", name)
		} else {
			clean := sanitizeMigrationName(name)
			doc.Top.Set("name", clean)
			c.warn(top.line("name"), "name", fmt.Sprintf("check: %q is not a valid strata migration name (a-z, 0-9 and _ only): written as %q", name, clean))
		}
	}
	if vs, ok := top.str("version_schema", false); ok {
		doc.Top.Set("version_schema", vs)
	}
	ops := top.list("operations", true)
	for i, op := range ops {
		c.operation(op, fmt.Sprintf("operations[%d]", i))
	}
	top.done()
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	doc.Actions = c.actions
	return doc, nil
}

func (c *pgConv) err() error {
	return fmt.Errorf("%w:\n%s\n%s", ErrNotConvertible, strings.Join(c.errs, "\n"), pgrollHint)
}

var lineMsgRe = regexp.MustCompile(`^line (\d+): (.*)$`)

const pgrollHint = "hint: a pgroll migration is {name?, version_schema?, operations: [{<operation>: {...}}]}; see pgroll's schema.json for the fields of each operation"

func (c *pgConv) emit(t *Table) { c.actions = append(c.actions, t) }

// pobj reads one pgroll object: every key it is asked for is marked used,
// and done() warns about the keys nobody asked for.
type pobj struct {
	c    *pgConv
	n    *pnode
	path string
	used map[string]bool
}

func (c *pgConv) obj(n *pnode, p string) *pobj {
	if n == nil {
		return nil
	}
	if n.kind != pmap {
		c.fail(n.line, p, "expected an object, got "+n.kind.String())
		return nil
	}
	return &pobj{c: c, n: n, path: p, used: map[string]bool{}}
}

func (o *pobj) key(k string) string {
	if o.path == "" {
		return k
	}
	return o.path + "." + k
}

func (o *pobj) line(k string) int {
	if v := o.n.get(k); v != nil {
		return v.line
	}
	return o.n.line
}

func (o *pobj) raw(k string) *pnode {
	o.used[k] = true
	return o.n.get(k)
}

// str reads a string; numbers and booleans are accepted as their text
// (YAML writes `default: 0` for "0"). ok is false when the key is absent
// or null.
func (o *pobj) str(k string, required bool) (string, bool) {
	v := o.raw(k)
	if v == nil || v.kind == pnull {
		if required {
			o.c.fail(o.n.line, o.key(k), "missing (required by pgroll)")
		}
		return "", false
	}
	switch v.kind {
	case pstring, pnumber, pbool:
		return v.str, true
	}
	o.c.fail(v.line, o.key(k), "expected a string, got "+v.kind.String())
	return "", false
}

// nullable reads a key whose null means "remove" (alter_column default and
// comment): set is whether the key is present, null whether it is null.
func (o *pobj) nullable(k string) (s string, set, null bool) {
	v := o.raw(k)
	if v == nil {
		return "", false, false
	}
	if v.kind == pnull {
		return "", true, true
	}
	s, ok := o.str(k, false)
	return s, ok, false
}

func (o *pobj) boolean(k string) (val, ok bool) {
	v := o.raw(k)
	if v == nil || v.kind == pnull {
		return false, false
	}
	if v.kind != pbool {
		o.c.fail(v.line, o.key(k), "expected a boolean, got "+v.kind.String())
		return false, false
	}
	return v.str == "true", true
}

func (o *pobj) sub(k string, required bool) *pobj {
	v := o.raw(k)
	if v == nil || v.kind == pnull {
		if required {
			o.c.fail(o.n.line, o.key(k), "missing (required by pgroll)")
		}
		return nil
	}
	return o.c.obj(v, o.key(k))
}

func (o *pobj) list(k string, required bool) []*pnode {
	v := o.raw(k)
	if v == nil || v.kind == pnull {
		if required {
			o.c.fail(o.n.line, o.key(k), "missing (required by pgroll)")
		}
		return nil
	}
	if v.kind != pseq {
		o.c.fail(v.line, o.key(k), "expected a list, got "+v.kind.String())
		return nil
	}
	return v.vals
}

func (o *pobj) strs(k string, required bool) []string {
	var out []string
	for i, v := range o.list(k, required) {
		switch v.kind {
		case pstring, pnumber:
			out = append(out, v.str)
		default:
			o.c.fail(v.line, fmt.Sprintf("%s[%d]", o.key(k), i), "expected a string, got "+v.kind.String())
		}
	}
	return out
}

// strMap reads pgroll's column -> SQL maps (create_constraint up/down), in
// the order written.
func (o *pobj) strMap(k string) (keys, vals []string, lines []int) {
	v := o.raw(k)
	if v == nil || v.kind == pnull {
		return nil, nil, nil
	}
	if v.kind == pstring {
		// a single expression: pgroll's older drop_constraint form
		return []string{""}, []string{v.str}, []int{v.line}
	}
	if v.kind != pmap {
		o.c.fail(v.line, o.key(k), "expected an object of column: SQL expression, got "+v.kind.String())
		return nil, nil, nil
	}
	for i, key := range v.keys {
		e := v.vals[i]
		if e.kind != pstring && e.kind != pnumber && e.kind != pbool {
			o.c.fail(e.line, o.key(k)+"."+key, "expected an SQL expression (string), got "+e.kind.String())
			continue
		}
		keys = append(keys, key)
		vals = append(vals, e.str)
		lines = append(lines, e.line)
	}
	return keys, vals, lines
}

// done warns about every key of the object that was not read: pgroll keys
// this converter does not know (a newer pgroll, or a typo pgroll itself
// would refuse).
func (o *pobj) done() {
	for i, k := range o.n.keys {
		if !o.used[k] {
			o.c.warn(o.n.vals[i].line, o.key(k), "dropped: unknown pgroll key, not converted; check the pgroll documentation and add its effect by hand")
		}
	}
}

// dropIfTrue warns when a boolean option strata has no form for is true.
func (o *pobj) dropIfTrue(k, what string) {
	if v, ok := o.boolean(k); ok && v {
		o.c.warn(o.line(k), o.key(k), "dropped: "+what)
	}
}

var pgIdentRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

// wrapSelect turns pgroll's `SELECT ...` form of an up/down expression into
// a scalar sub-query, which is what pgroll makes of it.
func wrapSelect(e string) string {
	t := strings.TrimSpace(e)
	if len(t) > 6 && strings.EqualFold(t[:6], "select") && (t[6] == ' ' || t[6] == '\n' || t[6] == '\t' || t[6] == '(') {
		return "(" + t + ")"
	}
	return e
}

// identity reports whether expr is just the column (pgroll's way of saying
// "copy the value").
func identity(expr, col string) bool {
	t := strings.TrimSpace(expr)
	return t == "" || t == col || t == `"`+strings.ReplaceAll(col, `"`, `""`)+`"` ||
		(pgIdentRe.MatchString(t) && strings.EqualFold(t, col) && strings.ToLower(col) == col)
}
