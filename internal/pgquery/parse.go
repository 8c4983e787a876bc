package pgquery

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// Position is a location in the source.
type Position struct {
	// Offset is the byte offset (0-based).
	Offset int
	// Line is 1-based.
	Line int
	// Column is 1-based and counts characters (Unicode code points), not bytes.
	Column int
}

// Statement is one parsed SQL statement.
type Statement struct {
	// Node is the statement's parse tree (the RawStmt's stmt).
	Node *Node
	// Text is the statement's source text, without leading and trailing white
	// space and comments and without the terminating semicolon.
	Text string
	// Pos locates the first byte of Text; End is the offset just past its last.
	Pos Position
	End int
	// EndLine is the line of the last byte of Text.
	EndLine int
	// Index is the statement's 0-based position among the file's statements.
	Index int

	// base is added to the locations in Node: 0 when the whole source was
	// parsed at once, the offset of the parsed fragment otherwise.
	base int
}

// Offset converts a location recorded in the statement's parse tree (a byte
// offset into the text the parser saw; -1 when unknown) into a byte offset
// into the source. Unknown locations map to the statement's start.
func (s *Statement) Offset(location int32) int {
	if location < 0 {
		return s.Pos.Offset
	}
	off := s.base + int(location)
	if off < s.Pos.Offset || off > s.End {
		return s.Pos.Offset
	}
	return off
}

// SyntaxError is a statement that PostgreSQL's grammar rejects.
type SyntaxError struct {
	Message string
	Pos     Position
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Pos.Line, e.Pos.Column, e.Message)
}

// File is a parsed SQL source.
type File struct {
	Src        string
	Statements []*Statement
	// Comments are all comments of the source, in order.
	Comments []Comment
	// Errors are the syntax errors ParseTolerant ran into, in order. Parse
	// never returns a File with errors.
	Errors []*SyntaxError

	lines []int // byte offset of the start of each line
	semis []int // offsets of the statement separators the lexer found
}

// Position converts a byte offset into a Position.
func (f *File) Position(offset int) Position {
	if offset < 0 {
		offset = 0
	}
	if offset > len(f.Src) {
		offset = len(f.Src)
	}
	i := sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > offset }) - 1
	start := f.lines[i]
	return Position{Offset: offset, Line: i + 1, Column: utf8.RuneCountInString(f.Src[start:offset]) + 1}
}

// Line returns the text of the 1-based line n without its line terminator.
func (f *File) Line(n int) string {
	if n < 1 || n > len(f.lines) {
		return ""
	}
	start := f.lines[n-1]
	end := len(f.Src)
	if n < len(f.lines) {
		end = f.lines[n]
	}
	s := f.Src[start:end]
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func newFile(src string) *File {
	f := &File{Src: src, lines: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	lx := lex(src)
	f.semis = lx.semis
	f.Comments = make([]Comment, len(lx.comments))
	for i, c := range lx.comments {
		p := f.Position(c.start)
		f.Comments[i] = Comment{
			Text:    src[c.start:c.end],
			Offset:  c.start,
			End:     c.end,
			Line:    p.Line,
			Column:  p.Column,
			EndLine: f.Position(max(c.start, c.end-1)).Line,
			Block:   lx.blocks[i],
		}
	}
	return f
}

// Parse parses src, a sequence of SQL statements. A syntax error anywhere
// fails the whole parse with a *SyntaxError.
func Parse(src string) (*File, error) {
	f := newFile(src)
	if err := f.parseRange(0, len(src)); err != nil {
		return nil, err
	}
	f.index()
	return f, nil
}

// ParseTolerant parses src like Parse, but does not stop at syntax errors:
// each statement that does not parse is recorded in File.Errors and parsing
// resumes after the next semicolon.
func ParseTolerant(src string) *File {
	f := newFile(src)
	if f.parseParallel() {
		f.index()
		return f
	}
	var semis []int
	base := 0
	for base < len(src) {
		if len(f.Errors) >= maxWholeParses {
			// Many errors: parse the rest statement by statement, so that
			// the work stays linear in the size of the source.
			f.parseEach(base, len(src), semis)
			break
		}
		err := f.parseRange(base, len(src))
		if err == nil {
			break
		}
		if semis == nil {
			semis = append(slices.Clip(f.semis), len(src))
		}
		// The failing statement runs from the semicolon before the error to
		// the one after it; what precedes it parses.
		errOff := err.Pos.Offset
		i := sort.SearchInts(semis, errOff) // first separator at or after the error
		stmtEnd := semis[i]
		stmtStart := base
		if i > 0 && semis[i-1] >= base {
			stmtStart = semis[i-1] + 1
		}
		if stmtStart > base {
			f.parsePieces(base, stmtStart, semis)
		}
		f.Errors = append(f.Errors, err)
		base = stmtEnd + 1
	}
	sort.Slice(f.Statements, func(i, j int) bool { return f.Statements[i].Pos.Offset < f.Statements[j].Pos.Offset })
	f.index()
	return f
}

// parallelMin is the source size from which ParseTolerant parses parts of
// the source on several cores at once.
const parallelMin = 128 << 10

// parseParallel parses a large source in as many parts as there are cores,
// cut at statement separators, at once; the parser (libpg_query) keeps its
// state per thread. It reports false, having recorded nothing, when the
// source is small, there is one core, or any part does not parse: a syntax
// error, or a cut inside a statement whose semicolons are not separators (a
// SQL-standard function body, a rule's actions), which leaves a part
// unbalanced; the caller then parses the source as a whole.
func (f *File) parseParallel() bool {
	n := min(runtime.GOMAXPROCS(0), 8)
	if n < 2 || len(f.Src) < parallelMin {
		return false
	}
	var cuts []int // part ends: separator offsets, then len(Src)
	for i := 1; i < n; i++ {
		j := sort.SearchInts(f.semis, i*len(f.Src)/n)
		if j < len(f.semis) && (len(cuts) == 0 || f.semis[j] > cuts[len(cuts)-1]) {
			cuts = append(cuts, f.semis[j])
		}
	}
	if len(cuts) == 0 {
		return false
	}
	cuts = append(cuts, len(f.Src))
	parts := make([]*File, len(cuts))
	failed := make([]bool, len(cuts))
	var wg sync.WaitGroup
	start := 0
	for i, end := range cuts {
		p := &File{Src: f.Src, Comments: f.Comments, lines: f.lines}
		parts[i] = p
		wg.Add(1)
		go func(i, start, end int) {
			defer wg.Done()
			failed[i] = p.parseRange(start, end) != nil
		}(i, start, end)
		start = end + 1
	}
	wg.Wait()
	if slices.Contains(failed, true) {
		return false
	}
	for _, p := range parts {
		f.Statements = append(f.Statements, p.Statements...)
	}
	return true
}

// maxWholeParses is how many syntax errors ParseTolerant meets re-parsing
// the rest of the source as a whole (which keeps SQL-standard function
// bodies, whose semicolons are not separators, intact) before it goes on
// statement by statement.
const maxWholeParses = 3

// parsePieces parses src[start:end] at once if it can, else separator by
// separator, recording errors.
func (f *File) parsePieces(start, end int, semis []int) {
	if f.parseRange(start, end) == nil {
		return
	}
	f.parseEach(start, end, semis)
}

// parseEach parses src[start:end] separator by separator, recording errors.
func (f *File) parseEach(start, end int, semis []int) {
	from := start
	for _, s := range semis {
		if s < start {
			continue
		}
		to := min(s, end)
		if err := f.parseRange(from, to); err != nil {
			f.Errors = append(f.Errors, err)
		}
		from = to + 1
		if from >= end {
			return
		}
	}
	if from < end {
		if err := f.parseRange(from, end); err != nil {
			f.Errors = append(f.Errors, err)
		}
	}
}

// parseRange parses src[start:end] and appends its statements, or returns
// the syntax error without appending anything.
func (f *File) parseRange(start, end int) *SyntaxError {
	text := f.Src[start:end]
	tree, err := pg_query.Parse(text)
	if err != nil {
		var pe *parser.Error
		msg := err.Error()
		off := end
		if errors.As(err, &pe) {
			msg = pe.Message
			if pe.Cursorpos > 0 {
				off = start + charOffset(text, pe.Cursorpos-1)
			} else {
				off = start + skipSpaceAndComments(text, 0, len(text))
			}
		}
		return &SyntaxError{Message: msg, Pos: f.Position(off)}
	}
	for _, raw := range tree.Stmts {
		s0 := start + int(raw.StmtLocation)
		e0 := end
		if raw.StmtLen > 0 {
			e0 = s0 + int(raw.StmtLen)
		}
		s := skipSpaceAndComments(f.Src, s0, e0)
		e := f.trimTrailing(s, e0)
		st := &Statement{
			Node: raw.Stmt,
			Text: f.Src[s:e],
			Pos:  f.Position(s),
			End:  e,
			base: start,
		}
		st.EndLine = f.Position(max(s, e-1)).Line
		f.Statements = append(f.Statements, st)
	}
	return nil
}

// trimTrailing moves end back over white space and comments that end the
// range [start, end).
func (f *File) trimTrailing(start, end int) int {
	for end > start {
		c := f.Src[end-1]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			end--
			continue
		}
		// A comment ending exactly here?
		i := sort.Search(len(f.Comments), func(i int) bool { return f.Comments[i].End >= end })
		if i < len(f.Comments) && f.Comments[i].End == end && f.Comments[i].Offset >= start {
			end = f.Comments[i].Offset
			continue
		}
		break
	}
	return end
}

func (f *File) index() {
	for i, s := range f.Statements {
		s.Index = i
	}
}

// charOffset returns the byte offset of the n-th (0-based) character of s,
// or len(s) if s has fewer characters.
func charOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
