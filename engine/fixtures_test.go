package engine_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// tomlActions matches a line of a migration's TOML, at the start of a line
// or of a Go string: the header of an action's table or of one of its
// sub-tables (actions, actions.column, actions.columns).
var tomlActions = regexp.MustCompile("(?m)(^|[`\"])[ \t]*\\[\\[?actions[\\].]")

// TestInputsLiveInTestdata keeps the tests' inputs in testdata/**.txtar
// (issue 11): no engine _test.go file holds a migration's TOML, and no call
// of env.migs is given a migration's content as a string literal (a file's
// content comes from a fixture: loadFixture(t, name).file(...)).
func TestInputsLiveInTestdata(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no _test.go files found")
	}
	fset := token.NewFileSet()
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if loc := tomlActions.FindIndex(src); loc != nil {
			t.Errorf("%s:%d: a migration's TOML in Go source; move it to a testdata/**.txtar archive and read it with loadFixture",
				name, 1+countLines(src[:loc[0]]))
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "migs" {
				return true
			}
			// migs(schema, name, content, name, content, ...)
			for i := 2; i < len(call.Args); i += 2 {
				if _, lit := call.Args[i].(*ast.BasicLit); lit {
					t.Errorf("%s: a migration's content as a string literal in a call of migs; move it to a testdata/**.txtar archive",
						fset.Position(call.Args[i].Pos()))
				}
			}
			return true
		})
	}
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
