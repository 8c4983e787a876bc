package pgquery

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

type stmtPos struct {
	Text              string
	Line, Col, Offset int
	EndLine           int
}

func positions(f *File) []stmtPos {
	var got []stmtPos
	for _, s := range f.Statements {
		got = append(got, stmtPos{s.Text, s.Pos.Line, s.Pos.Column, s.Pos.Offset, s.EndLine})
	}
	return got
}

func TestParsePositions(t *testing.T) {
	src := "  -- leading comment\n" + // line 1
		"SELECT 1;  /* x */ SELECT 2 ;\n" + // line 2
		"\n" + // line 3
		"/* é */ CREATE TABLE t (\n" + // line 4
		"  id int -- trailing\n" + // line 5
		");\n" + // line 6
		"\tSELECT 'a;b', $$;$$, \"q;\" -- tail\n" // line 7, no semicolon
	f, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []stmtPos{
		{"SELECT 1", 2, 1, 21, 2},
		{"SELECT 2", 2, 20, 40, 2},
		{"CREATE TABLE t (\n  id int -- trailing\n)", 4, 9, 61, 6},
		{"SELECT 'a;b', $$;$$, \"q;\"", 7, 2, 103, 7},
	}
	if diff := cmp.Diff(want, positions(f)); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	for i, s := range f.Statements {
		if s.Index != i {
			t.Errorf("statement %d has Index %d", i, s.Index)
		}
		if src[s.Pos.Offset:s.End] != s.Text {
			t.Errorf("statement %d: offsets do not match text", i)
		}
	}
	// Node locations are relative to the parsed text; Offset maps them back.
	ct := f.Statements[2].Node.GetCreateStmt()
	if got := f.Statements[2].Offset(ct.Relation.Location); src[got:got+1] != "t" {
		t.Errorf("relation location maps to %q", src[got:])
	}
}

func TestParseError(t *testing.T) {
	src := "SELECT 1;\nSELECT 'é' + ;\nSELECT 3;"
	_, err := Parse(src)
	se, ok := err.(*SyntaxError)
	if !ok {
		t.Fatalf("Parse error = %v, want *SyntaxError", err)
	}
	if se.Pos.Line != 2 || se.Pos.Column != 14 {
		t.Errorf("error at %d:%d, want 2:14", se.Pos.Line, se.Pos.Column)
	}
	if !strings.HasPrefix(se.Error(), "line 2, column 14: syntax error") {
		t.Errorf("Error() = %q", se.Error())
	}
}

func TestParseTolerant(t *testing.T) {
	src := "SELECT 1;\nSELEC 2;\nSELECT 3;\nCREATE TABLE (;\nSELECT 5;\nSELECT (6"
	f := ParseTolerant(src)
	var texts []string
	for _, s := range f.Statements {
		texts = append(texts, s.Text)
	}
	if diff := cmp.Diff([]string{"SELECT 1", "SELECT 3", "SELECT 5"}, texts); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	var errs []Position
	for _, e := range f.Errors {
		errs = append(errs, Position{Line: e.Pos.Line, Column: e.Pos.Column})
	}
	want := []Position{{Line: 2, Column: 1}, {Line: 4, Column: 14}, {Line: 6, Column: 10}}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	for i, s := range f.Statements {
		if src[s.Pos.Offset:s.End] != s.Text || s.Index != i {
			t.Errorf("statement %d: bad offsets or index", i)
		}
	}
}

func TestParseTolerantKeepsFunctionBodies(t *testing.T) {
	src := "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\nSELEC 3;\nSELECT 4;"
	f := ParseTolerant(src)
	if len(f.Statements) != 2 || len(f.Errors) != 1 {
		t.Fatalf("got %d statements and %d errors, want 2 and 1", len(f.Statements), len(f.Errors))
	}
	if f.Errors[0].Pos.Line != 2 {
		t.Errorf("error on line %d, want 2", f.Errors[0].Pos.Line)
	}
}

func TestComments(t *testing.T) {
	src := "-- one\nSELECT '--not', \"/*not*/\", $a$ -- not $a$, E'\\' -- not', 1 /* two\n /* nested */ */;\n" +
		"SELECT $1 -- three\n"
	f, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	type c struct {
		Body          string
		Line, EndLine int
		Col           int
		Block         bool
	}
	var got []c
	for _, cm := range f.Comments {
		got = append(got, c{cm.Body(), cm.Line, cm.EndLine, cm.Column, cm.Block})
	}
	want := []c{
		{"one", 1, 1, 1, false},
		{"two\n /* nested */", 2, 3, 60, true},
		{"three", 4, 4, 11, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
}

// TestCommentsMatchScanner checks the lightweight lexer against PostgreSQL's
// own scanner on tricky inputs.
func TestCommentsMatchScanner(t *testing.T) {
	inputs := []string{
		"SELECT 1 -- a\n/* b */ SELECT 2",
		"SELECT 'it''s -- x' /* y */",
		"SELECT E'\\'' -- z\n",
		"SELECT $$ /* no */ $$, $t$ $$ -- $t$ -- yes\n",
		"SELECT a$b -- c\n",
		"SELECT \"a\"\"b\" /* c */",
		"SELECT U&'d\\0061' -- u\n",
		"SELECT 1 /* a /* b */ c */ -- d",
		"SELECT x'1f', b'01' -- e\n",
		"select e'\\\\' /* f */",
		"SELECT $1::int -- g",
		"SELECT 1 --\n",
	}
	for _, in := range inputs {
		res, err := pg_query.Scan(in)
		if err != nil {
			t.Fatalf("Scan(%q): %v", in, err)
		}
		var want []string
		for _, tok := range res.Tokens {
			if tok.Token == pg_query.Token_SQL_COMMENT || tok.Token == pg_query.Token_C_COMMENT {
				want = append(want, in[tok.Start:tok.End])
			}
		}
		var got []string
		for _, c := range newFile(in).Comments {
			got = append(got, c.Text)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("comments of %q (-scanner +lexer):\n%s", in, diff)
		}
	}
}

func TestLine(t *testing.T) {
	f := newFile("a\r\nb\n\nc")
	for i, want := range []string{"a", "b", "", "c", ""} {
		if got := f.Line(i + 1); got != want {
			t.Errorf("Line(%d) = %q, want %q", i+1, got, want)
		}
	}
	if p := f.Position(100); p.Line != 4 || p.Column != 2 {
		t.Errorf("Position past end = %+v", p)
	}
}

func TestWalk(t *testing.T) {
	f, err := Parse("SELECT a FROM t JOIN s.u ON true WHERE b IN (SELECT c FROM v)")
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	Walk(f.Statements[0].Node, func(n *Node) bool {
		if rv := n.GetRangeVar(); rv != nil {
			rels = append(rels, rv.Relname)
		}
		return true
	})
	if diff := cmp.Diff([]string{"t", "u", "v"}, rels); diff != "" {
		t.Errorf("relations (-want +got):\n%s", diff)
	}
}

func TestIdentifiers(t *testing.T) {
	ids, err := Identifiers(`CREATE TABLE Foo ("Bar""baz" int, é text, "select" int)`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, id := range ids {
		names = append(names, id.Name)
	}
	if diff := cmp.Diff([]string{"foo", `Bar"baz`, "é", "select"}, names); diff != "" {
		t.Errorf("identifiers (-want +got):\n%s", diff)
	}
	if ids[1].Offset != 18 {
		t.Errorf("offset of the quoted identifier = %d, want 18", ids[1].Offset)
	}
	if _, err := Identifiers("SELECT 'unterminated"); err == nil {
		t.Error("no error for an unterminated string")
	}
}

func TestParseTolerantManyErrors(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		b.WriteString("SELECT 1;\n\\set x 1\n")
	}
	f := ParseTolerant(b.String())
	if len(f.Statements) != 2000 || len(f.Errors) != 2000 {
		t.Errorf("%d statements and %d errors, want 2000 of each", len(f.Statements), len(f.Errors))
	}
	for i, s := range f.Statements {
		if s.Pos.Line != 2*i+1 || s.Text != "SELECT 1" {
			t.Fatalf("statement %d: %q at line %d", i, s.Text, s.Pos.Line)
		}
	}
}

// TestParseTolerantParallel: a large source is parsed in parts on several
// cores with the same statements, positions and node locations as one
// parse of the whole; a part cut inside a function body, or a syntax
// error, falls back to the whole parse.
func TestParseTolerantParallel(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: no parallel parse")
	}
	var b strings.Builder
	for i := 0; b.Len() < 3*parallelMin; i++ {
		fmt.Fprintf(&b, "-- step %d\nALTER TABLE t%d ADD COLUMN c%d int DEFAULT %d;\n", i, i%7, i, i)
		fmt.Fprintf(&b, "CREATE INDEX CONCURRENTLY i%d ON t%d (c%d); /* é */ UPDATE t SET a = 'x;y' WHERE b = $$;$$;\n", i, i%7, i)
		if i%50 == 0 {
			b.WriteString("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n")
		}
	}
	src := b.String()
	whole, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	type stmt struct {
		Pos        stmtPos
		End        int
		Kind       string
		FirstConst int // source offset of the statement's first constant (node locations)
	}
	describe := func(f *File) []stmt {
		var out []stmt
		for _, s := range f.Statements {
			first := -1
			Walk(s.Node, func(n *Node) bool {
				if c := n.GetAConst(); c != nil && first < 0 {
					first = s.Offset(c.Location)
				}
				return true
			})
			out = append(out, stmt{stmtPos{s.Text, s.Pos.Line, s.Pos.Column, s.Pos.Offset, s.EndLine}, s.End, fmt.Sprintf("%T", s.Node.Node), first})
		}
		return out
	}
	par := ParseTolerant(src)
	parted := false
	for _, s := range par.Statements {
		parted = parted || s.base != 0
	}
	if !parted || len(par.Errors) > 0 {
		t.Fatalf("parallel parse not taken (%v) or errors %v", parted, par.Errors)
	}
	if diff := cmp.Diff(describe(whole), describe(par)); diff != "" {
		t.Errorf("parallel parse differs from the whole parse (-whole +parallel):\n%s", diff)
	}
	for i, s := range par.Statements {
		if s.Index != i {
			t.Fatalf("statement %d has Index %d", i, s.Index)
		}
	}

	t.Run("cut inside a function body", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("CREATE FUNCTION big() RETURNS int LANGUAGE sql BEGIN ATOMIC\n")
		for b.Len() < 2*parallelMin {
			b.WriteString("  SELECT 1;\n")
		}
		b.WriteString("END;\nSELECT 2;\n")
		f := ParseTolerant(b.String())
		if len(f.Statements) != 2 || len(f.Errors) != 0 || f.Statements[0].base != 0 {
			t.Errorf("got %d statements, %d errors; want the function and SELECT 2 from one parse", len(f.Statements), len(f.Errors))
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		bad := src + "SELEC 1;\nSELECT 2;\n"
		f := ParseTolerant(bad)
		if len(f.Errors) != 1 || len(f.Statements) != len(whole.Statements)+1 {
			t.Errorf("got %d statements and %d errors, want %d and 1", len(f.Statements), len(f.Errors), len(whole.Statements)+1)
		}
	})
}
