package migration

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *Error and by ValidationErrors:
// it means a migration file is malformed or fails static validation, as
// opposed to an I/O error.
var ErrInvalid = errors.New("invalid migration")

// Error is one problem in a migration file. Line is 1-based; 0 means the line
// is unknown. Key is the key path, e.g. "actions[1].column.nullable"; it is
// empty for errors that concern the whole file (such as a syntax error).
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

// Error formats e as "file:line: key: msg". The line is left out when it is
// unknown ("file: key: msg") and so is the key when there is none
// ("file:line: msg").
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// ValidationErrors is every problem found in one or more migration files,
// sorted by file (natural order), then line (unknown lines first), then the
// order they were found in. Parse, Load and Validate return it, never an empty
// one, so a non-nil error from them that matches ErrInvalid is always a
// ValidationErrors.
type ValidationErrors []*Error

// Error returns the errors one per line.
func (es ValidationErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Is reports whether target is ErrInvalid.
func (es ValidationErrors) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the individual errors, so errors.As can find an *Error.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors sorts es in place as documented on ValidationErrors.
func sortErrors(es ValidationErrors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if a.File != b.File {
			if NaturalLess(a.File, b.File) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// errList collects the errors of one file. An error whose key is the key, or
// lies below the key, of an error already collected is dropped: once
// `actions[0].column` is reported missing there is no point also reporting
// that `actions[0].column.name` is empty.
type errList struct {
	file  string
	lines map[string]int
	errs  ValidationErrors
	keys  map[string]bool // keys of errs
	// under holds the keys of the decoding errors (those collected before
	// frozen was set) and all their ancestors.
	under  map[string]bool
	frozen bool
}

// add records an error for key, on the line of key (or of its nearest
// ancestor with a known line).
func (l *errList) add(key, format string, args ...any) {
	l.push(&Error{File: l.file, Line: lineOf(l.lines, key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// push records e unless an error was already recorded for its key or an
// ancestor of it.
func (l *errList) push(e *Error) {
	if l.keys == nil {
		l.keys = make(map[string]bool)
		l.under = make(map[string]bool)
	}
	if e.Key != "" {
		ends, ok := pathSegments(e.Key)
		if !ok {
			ends = []int{len(e.Key)}
		}
		for _, end := range ends {
			if l.keys[e.Key[:end]] {
				return
			}
		}
		if !l.frozen {
			for _, end := range ends {
				l.under[e.Key[:end]] = true
			}
		}
		l.keys[e.Key] = true
	}
	l.errs = append(l.errs, e)
}

// has reports whether a decoding error was collected for key or below it.
func (l *errList) has(key string) bool { return l.under[key] }

// err returns the collected errors, sorted, or nil.
func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sortErrors(l.errs)
	return l.errs
}

// Where returns "file:line: key" for a key path of m such as
// "actions[2].table", or "file: key" when the line is unknown, so that errors
// found later (for example by the engine, against the database) can point at
// the place in the file. When key itself has no recorded line, the line of its
// nearest ancestor is used.
func (m *Migration) Where(key string) string {
	if l := lineOf(m.Lines, key); l > 0 {
		return fmt.Sprintf("%s:%d: %s", m.File, l, key)
	}
	return fmt.Sprintf("%s: %s", m.File, key)
}

// lineOf returns the line of path or of its nearest ancestor in lines, or 0.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// Key paths: segments joined with ".", array indexes as "[n]". A key that is
// not made of [A-Za-z0-9_-] only is written as a Go-quoted string, e.g.
// actions[0].up.values."odd key".

// keySeg returns key as a path segment.
func keySeg(key string) string {
	if key == "" {
		return `""`
	}
	for i := 0; i < len(key); i++ {
		if !isBareKeyByte(key[i]) {
			return strconv.Quote(key)
		}
	}
	return key
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// joinKey returns the path of key inside the table at path.
func joinKey(path, key string) string {
	if path == "" {
		return keySeg(key)
	}
	return path + "." + keySeg(key)
}

// joinIndex returns the path of element i of the array at path.
func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// pathSegments returns the end offsets of the segments of path ("a", ".b",
// "[0]", `."q.k"`). ok is false when path is not well formed.
func pathSegments(path string) (ends []int, ok bool) {
	i := 0
	for i < len(path) {
		switch {
		case path[i] == '[':
			j := strings.IndexByte(path[i:], ']')
			if j < 0 {
				return nil, false
			}
			i += j + 1
		case path[i] == '.' && i > 0 || i == 0:
			if path[i] == '.' {
				i++
			}
			if i < len(path) && path[i] == '"' {
				q, err := strconv.QuotedPrefix(path[i:])
				if err != nil {
					return nil, false
				}
				i += len(q)
				break
			}
			j := i
			for j < len(path) && isBareKeyByte(path[j]) {
				j++
			}
			if j == i {
				return nil, false
			}
			i = j
		default:
			return nil, false
		}
		ends = append(ends, i)
	}
	return ends, true
}

// parentPath returns the path of the table or array that holds path, "" for a
// top-level key (or a malformed path).
func parentPath(path string) string {
	ends, ok := pathSegments(path)
	if !ok || len(ends) < 2 {
		return ""
	}
	return path[:ends[len(ends)-2]]
}
