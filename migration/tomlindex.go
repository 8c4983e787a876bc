package migration

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// BurntSushi/toml does not expose where keys are written, so tomlIndex scans
// the text itself and records, for every key path, the line it is first
// written on and the order keys appear in. It understands just enough TOML
// for that: [table] and [[array.of.tables]] headers, bare / quoted / dotted
// keys, inline tables and arrays (also nested and spanning lines), strings of
// all four kinds, and comments. It never fails: on text it does not
// understand it skips to the next line; the real parser reports syntax
// errors.

// tomlIndex returns key path -> 1-based line and key path -> position in the
// order of appearance, and the first line where the text nests deeper than
// maxTOMLDepth (0 if it does not). fullLine is the line where the key paths
// exceeded maxKeyPathBytes (0 if they did not); the index then stops there.
// Its time and memory are linear in the size of src.
func tomlIndex(src string) (lines, order map[string]int, deepLine, fullLine int) {
	x := &tomlIndexer{
		src:    src,
		line:   1,
		lines:  make(map[string]int),
		order:  make(map[string]int),
		arrays: make(map[string]int),
	}
	x.run()
	return x.lines, x.order, x.deepLine, x.fullLine
}

// maxTOMLDepth bounds the nesting of inline tables and arrays, and the
// number of parts of a dotted key or table header. Migrations need a handful
// of levels; the limit exists because the TOML parser's time grows very fast
// with the nesting depth.
const maxTOMLDepth = 64

type tomlIndexer struct {
	src   string
	pos   int
	line  int
	lines map[string]int
	order map[string]int
	// arrays counts the elements of each array of tables ([[...]]) so far,
	// by resolved path.
	arrays map[string]int
	depth  int
	// deepLine is the first line where the nesting exceeds maxTOMLDepth;
	// 0 if it never does.
	deepLine int
	// paths is what the recorded key paths cost (see maxKeyPathBytes);
	// fullLine the line where they exceeded it.
	paths    keyPathBudget
	fullLine int
}

func (x *tomlIndexer) tooDeep() {
	if x.deepLine == 0 {
		x.deepLine = x.line
	}
}

// record records the line of path, if it is the first. Every path built
// is charged against maxKeyPathBytes, also the paths of keys written again.
func (x *tomlIndexer) record(path string, line int) {
	if !x.paths.spend(path) {
		// Stop: every loop ends at the end of the text.
		if x.fullLine == 0 {
			x.fullLine = line
		}
		x.pos = len(x.src)
		return
	}
	if _, ok := x.lines[path]; ok {
		return
	}
	x.lines[path] = line
	x.order[path] = len(x.order)
}

func (x *tomlIndexer) peek(off int) byte {
	if x.pos+off < len(x.src) {
		return x.src[x.pos+off]
	}
	return 0
}

func (x *tomlIndexer) run() {
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if strings.HasPrefix(x.src, bom) {
			x.pos = len(bom)
			break
		}
	}
	table := "" // resolved path of the current table
	for x.pos < len(x.src) {
		x.skipSpace()
		if x.pos >= len(x.src) {
			return
		}
		switch c := x.src[x.pos]; c {
		case '\n':
			x.line++
			x.pos++
		case '#':
			x.skipComment()
		case '[':
			if t, ok := x.header(); ok {
				table = t
			}
			x.skipLine()
		default:
			start := x.pos
			x.keyValue(table)
			if x.pos == start {
				x.pos++
			}
			x.skipLine()
		}
	}
}

// skipSpace skips blanks (not newlines).
func (x *tomlIndexer) skipSpace() {
	for x.pos < len(x.src) && (x.src[x.pos] == ' ' || x.src[x.pos] == '\t' || x.src[x.pos] == '\r') {
		x.pos++
	}
}

// skipBlank skips blanks, newlines and comments (inside arrays and inline
// tables).
func (x *tomlIndexer) skipBlank() {
	for x.pos < len(x.src) {
		switch x.src[x.pos] {
		case ' ', '\t', '\r':
			x.pos++
		case '\n':
			x.line++
			x.pos++
		case '#':
			x.skipComment()
		default:
			return
		}
	}
}

// skipComment skips to (not past) the end of the line.
func (x *tomlIndexer) skipComment() {
	if i := strings.IndexByte(x.src[x.pos:], '\n'); i >= 0 {
		x.pos += i
	} else {
		x.pos = len(x.src)
	}
}

// skipLine skips the rest of the line, up to and including its newline. It
// is used after a header or a key/value pair, where only blanks and a comment
// may follow; anything else is a syntax error that the parser reports.
func (x *tomlIndexer) skipLine() {
	x.skipComment()
	if x.pos < len(x.src) {
		x.pos++
		x.line++
	}
}

// header reads a [table] or [[array]] header starting at '[' and returns the
// resolved path of the table it opens.
func (x *tomlIndexer) header() (string, bool) {
	line := x.line
	isArray := x.peek(1) == '['
	if isArray {
		x.pos += 2
	} else {
		x.pos++
	}
	x.skipSpace()
	keys, ok := x.key()
	if !ok {
		return "", false
	}
	x.skipSpace()
	if isArray {
		if !strings.HasPrefix(x.src[x.pos:], "]]") {
			return "", false
		}
		x.pos += 2
	} else {
		if x.peek(0) != ']' {
			return "", false
		}
		x.pos++
	}
	if len(keys) > maxTOMLDepth {
		// Too deep (reported): building its paths would cost the square
		// of its length.
		return "", false
	}
	path := ""
	for i, k := range keys {
		path = joinKey(path, k)
		if i == len(keys)-1 {
			break
		}
		if n := x.arrays[path]; n > 0 {
			path = joinIndex(path, n-1)
		}
		x.record(path, line)
	}
	x.record(path, line)
	if isArray {
		n := x.arrays[path]
		x.arrays[path] = n + 1
		path = joinIndex(path, n)
		x.record(path, line)
	}
	return path, true
}

// keyValue reads `key = value` inside the table at path.
func (x *tomlIndexer) keyValue(table string) {
	line := x.line
	keys, ok := x.key()
	if !ok || len(keys) > maxTOMLDepth {
		return
	}
	path := table
	for _, k := range keys {
		path = joinKey(path, k)
		x.record(path, line)
	}
	x.skipSpace()
	if x.peek(0) != '=' {
		return
	}
	x.pos++
	x.skipSpace()
	x.value(path)
}

// key reads a possibly dotted key.
func (x *tomlIndexer) key() ([]string, bool) {
	var keys []string
	for {
		var k string
		switch c := x.peek(0); {
		case c == '"':
			s, ok := x.basicString()
			if !ok {
				return nil, false
			}
			k = s
		case c == '\'':
			s, ok := x.literalString()
			if !ok {
				return nil, false
			}
			k = s
		case isBareKeyByte(c):
			start := x.pos
			for x.pos < len(x.src) && isBareKeyByte(x.src[x.pos]) {
				x.pos++
			}
			k = x.src[start:x.pos]
		default:
			return nil, false
		}
		keys = append(keys, k)
		if len(keys) > maxTOMLDepth {
			x.tooDeep()
		}
		x.skipSpace()
		if x.peek(0) != '.' {
			return keys, true
		}
		x.pos++
		x.skipSpace()
	}
}

// value reads a value and records the keys and elements inside it.
func (x *tomlIndexer) value(path string) {
	switch c := x.peek(0); c {
	case '"':
		if strings.HasPrefix(x.src[x.pos:], `"""`) {
			x.multiline(`"`)
		} else {
			x.basicString()
		}
	case '\'':
		if strings.HasPrefix(x.src[x.pos:], `'''`) {
			x.multiline(`'`)
		} else {
			x.literalString()
		}
	case '{':
		x.inlineTable(path)
	case '[':
		x.array(path)
	default:
		x.scalar()
	}
}

func (x *tomlIndexer) inlineTable(path string) {
	x.pos++ // '{'
	if x.depth >= maxTOMLDepth {
		x.tooDeep()
		x.skipNested('{', '}')
		return
	}
	x.depth++
	defer func() { x.depth-- }()
	for x.pos < len(x.src) {
		x.skipBlank()
		switch x.peek(0) {
		case 0:
			return
		case '}':
			x.pos++
			return
		case ',':
			x.pos++
		default:
			start := x.pos
			x.keyValue(path)
			if x.pos == start {
				// Not a key: give up on this table.
				x.skipNested('{', '}')
				return
			}
		}
	}
}

func (x *tomlIndexer) array(path string) {
	x.pos++ // '['
	if x.depth >= maxTOMLDepth {
		x.tooDeep()
		x.skipNested('[', ']')
		return
	}
	x.depth++
	defer func() { x.depth-- }()
	for i := 0; x.pos < len(x.src); {
		x.skipBlank()
		switch x.peek(0) {
		case 0:
			return
		case ']':
			x.pos++
			return
		case ',':
			x.pos++
		default:
			elem := joinIndex(path, i)
			x.record(elem, x.line)
			start := x.pos
			x.value(elem)
			i++
			if x.pos == start {
				x.skipNested('[', ']')
				return
			}
		}
	}
}

// skipNested skips to after the close that matches an open already read,
// minding strings; used to recover from text the indexer does not follow.
func (x *tomlIndexer) skipNested(open, close byte) {
	depth := 1
	for x.pos < len(x.src) {
		switch c := x.src[x.pos]; c {
		case '"', '\'':
			if strings.HasPrefix(x.src[x.pos:], strings.Repeat(string(c), 3)) {
				x.multiline(string(c))
			} else if c == '"' {
				x.basicString()
			} else {
				x.literalString()
			}
			continue
		case '#':
			x.skipComment()
			continue
		case '\n':
			x.line++
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				x.pos++
				return
			}
		}
		x.pos++
	}
}

// scalar skips a number, boolean, date or time.
func (x *tomlIndexer) scalar() {
	start := x.pos
	x.scalarToken()
	// A date and a time may be separated by a space: 1979-05-27 07:32:00Z.
	tok := x.src[start:x.pos]
	if len(tok) == 10 && tok[4] == '-' && tok[7] == '-' && x.peek(0) == ' ' && isDigit(x.peek(1)) {
		x.pos++
		x.scalarToken()
	}
}

func (x *tomlIndexer) scalarToken() {
	for x.pos < len(x.src) {
		switch x.src[x.pos] {
		case ' ', '\t', '\r', '\n', ',', ']', '}', '#', '[', '{', '"', '\'', '=':
			return
		}
		x.pos++
	}
}

// basicString reads a "..." string and returns its value. ok is false when
// the string is not terminated on its line.
func (x *tomlIndexer) basicString() (string, bool) {
	x.pos++ // '"'
	start := x.pos
	escaped := false
	for x.pos < len(x.src) {
		switch x.src[x.pos] {
		case '\\':
			escaped = true
			x.pos = min(x.pos+2, len(x.src))
			continue
		case '\n':
			return "", false
		case '"':
			raw := x.src[start:x.pos]
			x.pos++
			if escaped {
				return unescapeTOML(raw), true
			}
			return raw, true
		}
		x.pos++
	}
	x.pos = len(x.src)
	return "", false
}

// literalString reads a '...' string and returns its value.
func (x *tomlIndexer) literalString() (string, bool) {
	x.pos++ // '\''
	start := x.pos
	for x.pos < len(x.src) {
		switch x.src[x.pos] {
		case '\n':
			return "", false
		case '\'':
			x.pos++
			return x.src[start : x.pos-1], true
		}
		x.pos++
	}
	return "", false
}

// multiline skips a multi-line string (three quotes, either kind), counting
// its lines. Up to two extra quotes before the closing delimiter belong to
// the string.
func (x *tomlIndexer) multiline(q string) {
	delim := q + q + q
	x.pos += 3
	for x.pos < len(x.src) {
		c := x.src[x.pos]
		switch {
		case c == '\\' && q == `"`:
			if x.peek(1) == '\n' {
				x.line++
			}
			x.pos = min(x.pos+2, len(x.src))
			continue
		case c == '\n':
			x.line++
		case strings.HasPrefix(x.src[x.pos:], delim):
			x.pos += 3
			for i := 0; i < 2 && x.peek(0) == q[0]; i++ {
				x.pos++
			}
			return
		}
		x.pos++
	}
}

// unescapeTOML decodes the escapes of a basic string; invalid escapes are
// kept as written (the parser rejects them anyway).
func unescapeTOML(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case '"':
			b.WriteByte('"')
		case '\\':
			b.WriteByte('\\')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+1+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32); err == nil && utf8.ValidRune(rune(r)) {
					b.WriteRune(rune(r))
					i += n
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// TOMLKeyLines returns, for every key path of a TOML text (such as
// "foreign[0].name" or "url"), the 1-based line it is first written on: for
// other strict TOML files (strata.toml) that report unknown keys by line.
func TOMLKeyLines(src string) map[string]int {
	lines, _, _, _ := tomlIndex(src)
	return lines
}
