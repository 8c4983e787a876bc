package migration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Both formats are first turned into the same tree, which the decoder then
// walks: *object (keys in written order), []any, string, bool, and whatever
// else the format has (int64, float64, time.Time, json.Number, nil), which the
// decoder only ever reports as a wrong type.

// object is a table (TOML) or object (JSON) with its keys in written order.
type object struct {
	keys []string
	vals map[string]any
}

// maxJSONDepth bounds the nesting of JSON arrays and objects.
const maxJSONDepth = 64

// maxKeyPathBytes bounds what the key paths of one file may cost: every key
// and array element costs the length of its path ("actions[0].column.name")
// plus keyPathCost. Paths are built for every key (for the line of each
// error), so without a bound a long table name or chain of JSON keys followed
// by many short keys would cost the square of the file's size. A migration
// needs a few kilobytes.
const (
	maxKeyPathBytes = 16 << 20
	keyPathCost     = 64
)

// keyPathBudget counts what key paths cost against maxKeyPathBytes.
type keyPathBudget int

// spend charges for path and reports whether the budget still holds.
func (b *keyPathBudget) spend(path string) bool {
	*b += keyPathBudget(len(path) + keyPathCost)
	return *b <= maxKeyPathBytes
}

// tooManyKeys is the message for a file over maxKeyPathBytes.
var tooManyKeys = fmt.Sprintf("too many keys: the paths of the file's keys and array elements exceed %d MiB", maxKeyPathBytes>>20)

// syntaxError is an *Error for a file that cannot be parsed at all.
func syntaxError(file string, line int, msg string) *Error {
	return &Error{File: file, Line: line, Msg: "syntax error: " + msg}
}

// treeFromTOML parses TOML text. fatal is a syntax error; otherwise root is
// the document and lines holds the line of every key path.
func treeFromTOML(file string, data []byte) (root *object, lines map[string]int, fatal *Error) {
	text := string(data)
	lines, order, deep, full := tomlIndex(text)
	if deep > 0 {
		return nil, nil, syntaxError(file, deep, fmt.Sprintf("nesting too deep (more than %d levels)", maxTOMLDepth))
	}
	if full > 0 {
		return nil, nil, syntaxError(file, full, tooManyKeys)
	}
	var m map[string]any
	if err := decodeTOML(text, &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, syntaxError(file, pe.Position.Line, pe.Message)
		}
		return nil, nil, syntaxError(file, 0, err.Error())
	}
	return tomlObject(m, "", order), lines, nil
}

// decodeTOML runs the TOML parser, turning a panic (a parser bug) into an
// error so that Parse never panics.
func decodeTOML(text string, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("toml parser failed: %v", r)
		}
	}()
	_, err = toml.Decode(text, v)
	return err
}

func tomlObject(m map[string]any, path string, order map[string]int) *object {
	o := &object{vals: make(map[string]any, len(m))}
	pos := make(map[string]int, len(m)) // key -> written position, if known
	for k, v := range m {
		kp := joinKey(path, k)
		o.keys = append(o.keys, k)
		o.vals[k] = tomlValue(v, kp, order)
		if i, ok := order[kp]; ok {
			pos[k] = i
		}
	}
	// Written order; keys the indexer missed (it should not miss any) go
	// last, alphabetically.
	slices.SortFunc(o.keys, func(a, b string) int {
		ia, oka := pos[a]
		ib, okb := pos[b]
		switch {
		case oka && okb:
			return ia - ib
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return o
}

func tomlValue(v any, path string, order map[string]int) any {
	switch v := v.(type) {
	case map[string]any:
		return tomlObject(v, path, order)
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = tomlObject(e, joinIndex(path, i), order)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = tomlValue(e, joinIndex(path, i), order)
		}
		return out
	}
	return v
}

// treeFromJSON parses JSON text with encoding/json's tokenizer, recording the
// line of every key and array element. Duplicate keys are not fatal: they are
// returned in dups (the last value wins in the tree).
func treeFromJSON(file string, data []byte) (root *object, lines map[string]int, dups []*Error, fatal *Error) {
	w := &jsonWalker{
		file:  file,
		data:  data,
		dec:   json.NewDecoder(bytes.NewReader(data)),
		lines: make(map[string]int),
	}
	w.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			w.nl = append(w.nl, int64(i))
		}
	}
	tok, err := w.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, nil, nil, syntaxError(file, 1, "empty file: expected a JSON object")
		}
		return nil, nil, nil, w.syntax(err)
	}
	v, fatal := w.value("", tok)
	if fatal != nil {
		return nil, nil, nil, fatal
	}
	o, ok := v.(*object)
	if !ok {
		return nil, nil, nil, syntaxError(file, 1, fmt.Sprintf("expected a JSON object at the top level, got %s", typeName(v, true)))
	}
	// Only blanks may follow the object.
	end := w.dec.InputOffset()
	for i := end; i < int64(len(data)); i++ {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return nil, nil, nil, syntaxError(file, w.lineAt(i), "unexpected data after the top-level object")
	}
	return o, w.lines, w.dups, nil
}

type jsonWalker struct {
	file  string
	data  []byte
	dec   *json.Decoder
	nl    []int64 // offsets of the newlines in data
	lines map[string]int
	dups  []*Error
	depth int
	paths keyPathBudget
}

// record records the line of the key or element at path, or returns the
// error for a file over maxKeyPathBytes.
func (w *jsonWalker) record(path string) *Error {
	if !w.paths.spend(path) {
		return syntaxError(w.file, w.tokenLine(), tooManyKeys)
	}
	w.lines[path] = w.tokenLine()
	return nil
}

// lineAt returns the 1-based line of the byte at offset off.
func (w *jsonWalker) lineAt(off int64) int {
	return sort.Search(len(w.nl), func(i int) bool { return w.nl[i] >= off }) + 1
}

// tokenLine returns the line of the token just read.
func (w *jsonWalker) tokenLine() int {
	return w.lineAt(max(w.dec.InputOffset()-1, 0))
}

func (w *jsonWalker) syntax(err error) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return syntaxError(w.file, w.lineAt(max(se.Offset-1, 0)), se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return syntaxError(w.file, w.lineAt(max(int64(len(w.data))-1, 0)), "unexpected end of JSON input")
	}
	return syntaxError(w.file, w.lineAt(w.dec.InputOffset()), err.Error())
}

func (w *jsonWalker) next() (json.Token, *Error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, w.syntax(err)
	}
	return tok, nil
}

// value converts the value that starts with tok (already read) at path.
func (w *jsonWalker) value(path string, tok json.Token) (any, *Error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if w.depth >= maxJSONDepth {
		return nil, syntaxError(w.file, w.tokenLine(), fmt.Sprintf("nesting too deep (more than %d levels)", maxJSONDepth))
	}
	w.depth++
	defer func() { w.depth-- }()
	switch d {
	case '{':
		o := &object{vals: make(map[string]any)}
		dups := false
		for w.dec.More() {
			kt, e := w.next()
			if e != nil {
				return nil, e
			}
			key, ok := kt.(string)
			if !ok { // cannot happen: the tokenizer checks object keys
				return nil, syntaxError(w.file, w.tokenLine(), "expected an object key")
			}
			kp := joinKey(path, key)
			if _, dup := o.vals[key]; dup {
				if !w.paths.spend(kp) {
					return nil, syntaxError(w.file, w.tokenLine(), tooManyKeys)
				}
				w.dups = append(w.dups, &Error{File: w.file, Line: w.tokenLine(), Key: kp, Msg: "duplicate key"})
				dups = true
			} else if e := w.record(kp); e != nil {
				return nil, e
			}
			vt, e := w.next()
			if e != nil {
				return nil, e
			}
			v, e := w.value(kp, vt)
			if e != nil {
				return nil, e
			}
			o.keys = append(o.keys, key)
			o.vals[key] = v
		}
		if _, e := w.next(); e != nil { // '}'
			return nil, e
		}
		if dups {
			o.keys = lastOccurrences(o.keys)
		}
		return o, nil
	case '[':
		arr := []any{}
		for w.dec.More() {
			vt, e := w.next()
			if e != nil {
				return nil, e
			}
			ep := joinIndex(path, len(arr))
			if e := w.record(ep); e != nil {
				return nil, e
			}
			v, e := w.value(ep, vt)
			if e != nil {
				return nil, e
			}
			arr = append(arr, v)
		}
		if _, e := w.next(); e != nil { // ']'
			return nil, e
		}
		return arr, nil
	}
	return nil, syntaxError(w.file, w.tokenLine(), fmt.Sprintf("unexpected %q", rune(d)))
}

// lastOccurrences returns keys without duplicates, each where it last
// occurs (the value that wins is the last one written).
func lastOccurrences(keys []string) []string {
	last := make(map[string]int, len(keys))
	for i, k := range keys {
		last[k] = i
	}
	out := make([]string, 0, len(last))
	for i, k := range keys {
		if last[k] == i {
			out = append(out, k)
		}
	}
	return out
}

// typeName names the type of a tree value the way the format calls it.
func typeName(v any, isJSON bool) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case json.Number:
		return "number"
	case nil:
		return "null"
	case []any:
		return "array"
	case *object:
		return tableWord(isJSON)
	}
	return "datetime" // the only other TOML type
}

func tableWord(isJSON bool) string {
	if isJSON {
		return "object"
	}
	return "table"
}
