package pgquery

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Comment is one SQL comment found in the source.
type Comment struct {
	// Text is the comment as written, delimiters included.
	Text string
	// Offset and End are the byte offsets of the comment's first byte and
	// just past its last byte (a line comment ends before its newline).
	Offset, End int
	// Line and Column locate Offset (1-based; the column counts characters).
	Line, Column int
	// EndLine is the line of the comment's last byte.
	EndLine int
	// Block is true for /* */ comments, false for -- comments.
	Block bool
}

// Body returns the comment's text without its delimiters, trimmed of
// surrounding white space.
func (c Comment) Body() string {
	s := c.Text
	if c.Block {
		s = strings.TrimPrefix(s, "/*")
		s = strings.TrimSuffix(s, "*/")
	} else {
		s = strings.TrimPrefix(s, "--")
	}
	return strings.TrimSpace(s)
}

// span is a byte range [start, end) of the source.
type span struct{ start, end int }

// lexResult is what one pass of the lightweight lexer finds: comments and
// the offsets of statement separators: top-level semicolons (outside strings,
// quoted identifiers, dollar quotes and comments), and the line ends of psql
// meta-commands (a backslash starting a statement runs to the end of its
// line, as in psql).
type lexResult struct {
	comments []span
	blocks   []bool
	semis    []int
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

// lex scans src the way PostgreSQL's scanner delimits tokens, but only as far
// as needed to find comments and statement-separating semicolons. It never
// fails: an unterminated string or comment runs to the end of src.
func lex(src string) lexResult {
	var r lexResult
	n := len(src)
	atStart := true // only white space and comments since the last separator
	for i := 0; i < n; {
		c := src[i]
		if atStart && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' &&
			!(c == '-' && i+1 < n && src[i+1] == '-') && !(c == '/' && i+1 < n && src[i+1] == '*') {
			atStart = false
			if c == '\\' {
				j := i
				for j < n && src[j] != '\n' {
					j++
				}
				r.semis = append(r.semis, j)
				i = j + 1
				atStart = true
				continue
			}
		}
		switch {
		case c == '-' && i+1 < n && src[i+1] == '-':
			j := i + 2
			for j < n && src[j] != '\n' && src[j] != '\r' {
				j++
			}
			r.comments = append(r.comments, span{i, j})
			r.blocks = append(r.blocks, false)
			i = j
		case c == '/' && i+1 < n && src[i+1] == '*':
			depth := 1
			j := i + 2
			for j < n && depth > 0 {
				switch {
				case src[j] == '/' && j+1 < n && src[j+1] == '*':
					depth++
					j += 2
				case src[j] == '*' && j+1 < n && src[j+1] == '/':
					depth--
					j += 2
				default:
					j++
				}
			}
			r.comments = append(r.comments, span{i, j})
			r.blocks = append(r.blocks, true)
			i = j
		case c == '\'':
			// E'...' strings are handled with identifiers below; B'', X'',
			// N'' and U&'' quote like standard strings.
			i = skipQuoted(src, i, '\'', false)
		case c == '"':
			i = skipQuoted(src, i, '"', false)
		case c == '$':
			if i > 0 && isIdentCont(src[i-1]) {
				i++ // part of an identifier such as a$b
				continue
			}
			tag, ok := dollarTag(src, i)
			if !ok {
				i++ // a parameter such as $1, or a stray $
				continue
			}
			end := strings.Index(src[i+len(tag):], tag)
			if end < 0 {
				i = n
			} else {
				i += len(tag) + end + len(tag)
			}
		case c == ';':
			r.semis = append(r.semis, i)
			atStart = true
			i++
		case isIdentStart(c):
			// Skip whole identifiers and keywords so that a quote or $ inside
			// them is not taken for the start of a string.
			j := i + 1
			for j < n && isIdentCont(src[j]) {
				j++
			}
			if j < n && src[j] == '\'' && j-i == 1 && (c == 'e' || c == 'E') {
				i = skipQuoted(src, j, '\'', true)
				continue
			}
			i = j
		default:
			i++
		}
	}
	return r
}

// skipQuoted returns the offset just past the quoted string or identifier
// that starts at src[i] == q. A doubled quote stands for itself; with
// escapes, a backslash escapes the next byte.
func skipQuoted(src string, i int, q byte, escapes bool) int {
	n := len(src)
	j := i + 1
	for j < n {
		switch {
		case escapes && src[j] == '\\':
			j += 2
		case src[j] == q:
			if j+1 < n && src[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		default:
			j++
		}
	}
	return n
}

// dollarTag returns the dollar-quote delimiter ($$ or $tag$) starting at
// src[i] == '$', if there is one.
func dollarTag(src string, i int) (string, bool) {
	j := i + 1
	if j < len(src) && src[j] == '$' {
		return "$$", true
	}
	if j >= len(src) || !isIdentStart(src[j]) {
		return "", false
	}
	for j < len(src) && src[j] != '$' {
		if !isIdentCont(src[j]) {
			return "", false
		}
		j++
	}
	if j >= len(src) {
		return "", false
	}
	return src[i : j+1], true
}

// skipSpaceAndComments returns the offset of the first byte at or after i
// that is neither white space nor part of a comment, or end if none is.
func skipSpaceAndComments(src string, i, end int) int {
	for i < end {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < end && src[i+1] == '-':
			for i < end && src[i] != '\n' && src[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < end && src[i+1] == '*':
			depth := 1
			i += 2
			for i < end && depth > 0 {
				switch {
				case src[i] == '/' && i+1 < end && src[i+1] == '*':
					depth++
					i += 2
				case src[i] == '*' && i+1 < end && src[i+1] == '/':
					depth--
					i += 2
				default:
					i++
				}
			}
		default:
			return i
		}
	}
	return end
}

// Identifier is an identifier token as written in the source.
type Identifier struct {
	// Name is the identifier, unquoted, before PostgreSQL truncates it to
	// 63 bytes (unquoted identifiers are folded to lower case).
	Name string
	// Offset is the byte offset of the token in the scanned text.
	Offset int
}

// Identifiers returns the identifier tokens of text, as PostgreSQL's scanner
// delimits them. Keywords are not included, even where the grammar would
// take them as names.
func Identifiers(text string) ([]Identifier, error) {
	res, err := pg_query.Scan(text)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	var out []Identifier
	for _, t := range res.Tokens {
		if t.Token != pg_query.Token_IDENT {
			continue
		}
		raw := text[t.Start:t.End]
		name := strings.ToLower(raw)
		if strings.HasPrefix(raw, `"`) && strings.HasSuffix(raw, `"`) && len(raw) >= 2 {
			name = strings.ReplaceAll(raw[1:len(raw)-1], `""`, `"`)
		}
		out = append(out, Identifier{Name: name, Offset: int(t.Start)})
	}
	return out, nil
}
