// Package doctest extracts the fenced code blocks of strata's Markdown
// documentation, so that a test can compile, decode or check every one of
// them against the code (see doctest_test.go and docs/development.md).
package doctest

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Block is one fenced code block of a Markdown file.
type Block struct {
	File string   // the Markdown file
	Line int      // line of the opening fence
	Lang string   // first word of the info string ("" when there is none)
	Attr []string // the other words of the info string (e.g. "fragment")
	Text string   // the content, with the fence's indentation removed
}

func (b Block) String() string { return fmt.Sprintf("%s:%d (```%s)", b.File, b.Line, b.Info()) }

// Info is the block's whole info string.
func (b Block) Info() string { return strings.TrimSpace(b.Lang + " " + strings.Join(b.Attr, " ")) }

// Has tells whether the info string has the attribute a.
func (b Block) Has(a string) bool { return slices.Contains(b.Attr, a) }

var fence = regexp.MustCompile("^( *)(```+|~~~+)(.*)$")

// Extract returns the fenced code blocks of a Markdown document, in order.
// An unterminated block is an error.
func Extract(file, src string) ([]Block, error) {
	var blocks []Block
	var cur *Block
	var marker, indent string
	var body []string
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		m := fence.FindStringSubmatch(line)
		if cur == nil {
			if m == nil {
				continue
			}
			words := strings.Fields(m[3])
			cur = &Block{File: file, Line: n}
			if len(words) > 0 {
				cur.Lang, cur.Attr = words[0], words[1:]
			}
			marker, indent, body = m[2], m[1], nil
			continue
		}
		if m != nil && strings.HasPrefix(m[2], marker[:1]) && len(m[2]) >= len(marker) && strings.TrimSpace(m[3]) == "" {
			cur.Text = strings.Join(body, "\n")
			if len(body) > 0 {
				cur.Text += "\n"
			}
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		body = append(body, strings.TrimPrefix(line, indent))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: code block not closed", file, cur.Line)
	}
	return blocks, nil
}

// Command is one simple command of a shell block: its words, with
// variable assignments before it left out.
type Command struct {
	Line  int // line within the block, from 1
	Words []string
}

// ShellCommands splits shell text into simple commands (at newlines not
// continued with a backslash, ;, &&, || and |), each a list of words with
// quotes removed. Comments are dropped; $(...) and `...` are kept as one
// word. It is a checker's reading, not a shell: the text is also given to
// bash -n.
func ShellCommands(text string) []Command {
	var cmds []Command
	var words []string
	var word strings.Builder
	inWord := false
	line, start := 1, 1
	endWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		i := 0
		for i < len(words) && isAssignment(words[i]) {
			i++
		}
		if i < len(words) {
			cmds = append(cmds, Command{Line: start, Words: words[i:]})
		}
		words = nil
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && i+1 < len(rs) && rs[i+1] == '\n':
			i++
			line++
		case c == '\\' && i+1 < len(rs):
			word.WriteRune(rs[i+1])
			inWord = true
			i++
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			word.WriteString(string(rs[i+1 : min(j, len(rs))]))
			line += strings.Count(string(rs[i+1:min(j, len(rs))]), "\n")
			inWord = true
			i = j
		case c == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				word.WriteRune(rs[j])
				j++
			}
			inWord = true
			i = j
		case c == '$' && i+1 < len(rs) && rs[i+1] == '(':
			depth := 0
			j := i + 1
			for ; j < len(rs); j++ {
				if rs[j] == '(' {
					depth++
				} else if rs[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			word.WriteString(string(rs[i:min(j+1, len(rs))]))
			inWord = true
			i = j
		case c == '#' && !inWord:
			for i+1 < len(rs) && rs[i+1] != '\n' {
				i++
			}
		case c == '\n':
			endCmd()
			line++
			start = line
		case c == ';' || c == '|' || c == '&':
			endCmd()
			for i+1 < len(rs) && (rs[i+1] == '|' || rs[i+1] == '&') {
				i++
			}
			start = line
		case c == ' ' || c == '\t':
			endWord()
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func isAssignment(w string) bool { return assignment.MatchString(w) }

// ConsoleCommands returns the command text of a console transcript: the
// lines that start with "$ " (and the lines a trailing backslash continues).
func ConsoleCommands(text string) string {
	var b strings.Builder
	cont := false
	for _, l := range strings.Split(text, "\n") {
		if cont || strings.HasPrefix(l, "$ ") {
			if !cont {
				l = strings.TrimPrefix(l, "$ ")
			}
			b.WriteString(l + "\n")
			cont = strings.HasSuffix(l, "\\")
		}
	}
	return b.String()
}

// Imports maps the package names Go snippets may use without importing
// them to their import paths.
var Imports = map[string]string{
	"context":   "context",
	"embed":     "embed",
	"errors":    "errors",
	"fmt":       "fmt",
	"fs":        "io/fs",
	"json":      "encoding/json",
	"log":       "log",
	"os":        "os",
	"strings":   "strings",
	"testing":   "testing",
	"time":      "time",
	"cli":       "github.com/stratapg/strata/cli",
	"engine":    "github.com/stratapg/strata/engine",
	"lint":      "github.com/stratapg/strata/lint",
	"migration": "github.com/stratapg/strata/migration",
	"pgtest":    "github.com/stratapg/strata/internal/pgtest",
	"pgx":       "github.com/jackc/pgx/v5",
}

// GoSource turns a ```go block into a Go file of package pkg:
//
//   - a block with a package clause is a whole file, used as it is
//     (package main is built as a program);
//   - a block without one holds top-level declarations (and maybe imports):
//     the package clause is added;
//   - a ```go fragment block holds statements: they become the body of a
//     function.
//
// A snippet without import declarations gets those of Imports it uses, so
// short snippets show only what matters; a snippet that shows its imports
// must show all of them.
func GoSource(b Block, pkg string) (string, error) {
	src := b.Text
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", src, parser.PackageClauseOnly); err == nil && f.Name != nil {
		return src, nil
	}
	if b.Has("fragment") {
		src = "package " + pkg + "\n\nfunc _() {\n" + src + "}\n"
	} else {
		src = "package " + pkg + "\n\n" + src
	}
	f, err := parser.ParseFile(fset, "snippet.go", src, parser.SkipObjectResolution)
	if err != nil {
		return "", err
	}
	used := map[string]bool{} // X of every X.Sel in the code (not comments)
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	have := map[string]bool{}
	for _, imp := range f.Imports {
		p := strings.Trim(imp.Path.Value, `"`)
		have[p[strings.LastIndex(p, "/")+1:]] = true
		if imp.Name != nil {
			have[imp.Name.Name] = true
		}
	}
	if len(f.Imports) > 0 {
		return src, nil // a snippet that shows imports shows all of them
	}
	var add []string
	for name, path := range Imports {
		if !have[name] && used[name] {
			add = append(add, fmt.Sprintf("import %q", path))
		}
	}
	sort.Strings(add)
	if len(add) == 0 {
		return src, nil
	}
	head := "package " + pkg + "\n"
	return head + strings.Join(add, "\n") + "\n" + strings.TrimPrefix(src, head), nil
}

// Span is an inline code span of a Markdown file (outside code blocks).
type Span struct {
	File string
	Line int
	Text string
}

var inlineCode = regexp.MustCompile("`([^`\n]+)`")

// Spans returns the inline code spans of a Markdown document that lie
// outside fenced code blocks.
func Spans(file, src string) []Span {
	var spans []Span
	inBlock := false
	var marker string
	for i, line := range strings.Split(src, "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			if !inBlock {
				inBlock, marker = true, m[2]
				continue
			}
			if strings.HasPrefix(m[2], marker[:1]) && strings.TrimSpace(m[3]) == "" {
				inBlock = false
				continue
			}
		}
		if inBlock {
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			spans = append(spans, Span{File: file, Line: i + 1, Text: m[1]})
		}
	}
	return spans
}

var (
	commandWord = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	flagWord    = regexp.MustCompile(`^(-[a-z]|--[a-z][a-z0-9-]*)`)
)

// SynopsisCommands reads a span like "strata scenario create|copy [--dry-run]
// NAME" as the commands it names (one per alternative of a|b words) and the
// flags it mentions. ok is false when the span does not start with "strata ".
func SynopsisCommands(span string) (paths [][]string, flags []string, ok bool) {
	words := strings.Fields(span)
	if len(words) < 2 || words[0] != "strata" {
		return nil, nil, false
	}
	paths = [][]string{{}}
	i := 1
	for ; i < len(words); i++ {
		alts := strings.Split(strings.ReplaceAll(words[i], `\|`, "|"), "|")
		if !slices.ContainsFunc(alts, commandWord.MatchString) || slices.ContainsFunc(alts, func(a string) bool { return !commandWord.MatchString(a) }) {
			break
		}
		var next [][]string
		for _, p := range paths {
			for _, a := range alts {
				next = append(next, append(slices.Clone(p), a))
			}
		}
		paths = next
	}
	for _, w := range words[1:] {
		for _, part := range strings.FieldsFunc(w, func(r rune) bool { return r == '|' || r == '\\' || r == '[' || r == ']' || r == '(' }) {
			if m := flagWord.FindString(part); m != "" {
				flags = append(flags, m)
			}
		}
	}
	return paths, flags, true
}
