package convert

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// Reshape's files are strata files where they mean the same thing (strata
// runs them unchanged; see docs/migrations.md, "Reshape files"). The one
// form that means something else is alter_column's down with a rename:
// Reshape's down names the column by its old name, strata's by its new one
// (down reads the new version's row). fromReshape rewrites exactly those
// downs, renaming the column reference with the pgquery renamer, and passes
// everything else through byte for byte: the rewrite is made in place on
// the down line, so comments and layout are kept. A header comment names
// each rewrite, and each is also a Warning.
//
// The files to rewrite are found by strata's own check: migration.Parse
// refuses a Reshape-style down with an error at the down key, which gives
// the action and the line.

// reshapeDownMsg is the start of the message of migration's Reshape-style
// down refusal.
const reshapeDownMsg = "names the column by its old name"

var downKeyRE = regexp.MustCompile(`^actions\[(\d+)\]\.down$`)

func fromReshape(inputs []Input) (*Result, error) {
	res := &Result{}
	for _, in := range inputs {
		out, warns, err := reshapeFile(in)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, File{Name: OutputName(in.Name), Data: out})
		res.Warnings = append(res.Warnings, warns...)
	}
	return res, nil
}

// reshapeFile converts one Reshape file.
func reshapeFile(in Input) ([]byte, []Warning, error) {
	ext := path.Ext(in.Name)
	if ext != ".toml" && ext != ".json" {
		return nil, nil, fmt.Errorf("%w %s: a Reshape migration is a .toml or .json file", ErrNotConvertible, in.Name)
	}
	_, err := migration.Parse(in.Name, in.Data)
	if err == nil {
		return in.Data, nil, nil // runs unchanged
	}
	var verrs migration.ValidationErrors
	if !errors.As(err, &verrs) {
		return nil, nil, fmt.Errorf("%w %s: %w", ErrNotConvertible, in.Name, err)
	}
	// Every error must be a Reshape-style down: anything else is not ours
	// to rewrite.
	var downs []*migration.Error
	for _, e := range verrs {
		if downKeyRE.MatchString(e.Key) && strings.HasPrefix(e.Msg, reshapeDownMsg) && e.Line > 0 {
			downs = append(downs, e)
			continue
		}
		return nil, nil, fmt.Errorf("%w %s: %w", ErrNotConvertible, in.Name, err)
	}
	if ext != ".toml" {
		return nil, nil, fmt.Errorf("%w %s:%d: %s: rewriting a Reshape-style down is supported in .toml files only (hint: write the file as TOML, or rename the column in down by hand)",
			ErrNotConvertible, in.Name, downs[0].Line, downs[0].Key)
	}
	acts, err := reshapeActions(in)
	if err != nil {
		return nil, nil, err
	}
	lines := strings.SplitAfter(string(in.Data), "\n")
	var (
		warns  []Warning
		header []string
	)
	for _, e := range downs {
		var i int
		fmt.Sscanf(downKeyRE.FindStringSubmatch(e.Key)[1], "%d", &i)
		a := acts[i]
		newDown, n, err := pgquery.RenameExprColumns(a.Down, a.Table, map[string]string{a.Column: a.NewName})
		if err != nil || n == 0 {
			return nil, nil, fmt.Errorf("%w %s:%d: %s: cannot rename column %q in %q: %v", ErrNotConvertible, in.Name, e.Line, e.Key, a.Column, a.Down, err)
		}
		if err := replaceDown(lines, e.Line-1, newDown); err != nil {
			return nil, nil, fmt.Errorf("%w %s:%d: %s: %v (hint: rename the column in down by hand: %s)", ErrNotConvertible, in.Name, e.Line, e.Key, err, newDown)
		}
		msg := fmt.Sprintf("down %q became %q: Reshape's down names the column by its old name %q, strata's by its new name %q",
			a.Down, newDown, a.Column, a.NewName)
		warns = append(warns, Warning{File: in.Name, Line: e.Line, Key: e.Key, Msg: msg})
		header = append(header, fmt.Sprintf("# strata convert --from reshape: %s: %s", e.Key, msg))
	}
	out := strings.Join(header, "\n") + "\n" + strings.Join(lines, "")
	return []byte(out), warns, nil
}

// reshapeAction is what the rewrite needs of an alter_column action.
type reshapeAction struct {
	Table, Column, NewName, Down string
}

// reshapeActions decodes the alter_column actions of a file that strata's
// validation refused (so its validated form is not available): the raw
// TOML, keyed by action index.
func reshapeActions(in Input) (map[int]reshapeAction, error) {
	var doc struct {
		Actions []map[string]any `toml:"actions"`
	}
	if _, err := toml.Decode(string(in.Data), &doc); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrNotConvertible, in.Name, err)
	}
	out := map[int]reshapeAction{}
	for i, a := range doc.Actions {
		if a["type"] != "alter_column" {
			continue
		}
		ra := reshapeAction{}
		ra.Table, _ = a["table"].(string)
		ra.Column, _ = a["column"].(string)
		ra.Down, _ = a["down"].(string)
		if ch, ok := a["changes"].(map[string]any); ok {
			ra.NewName, _ = ch["name"].(string)
		}
		out[i] = ra
	}
	return out, nil
}

// replaceDown replaces the string value of the down key on line i (0-based)
// of lines with s: a basic or literal string on that line, or a multi-line
// one ending on a later line.
func replaceDown(lines []string, i int, s string) error {
	if i < 0 || i >= len(lines) {
		return errors.New("the down line is not in the file")
	}
	line := lines[i]
	k := strings.Index(line, "down")
	if k < 0 {
		return errors.New("no down key on its line")
	}
	eq := strings.Index(line[k:], "=")
	if eq < 0 {
		return errors.New("no = after down")
	}
	v := k + eq + 1
	for v < len(line) && (line[v] == ' ' || line[v] == '\t') {
		v++
	}
	rest := line[v:]
	for _, delim := range []string{`"""`, `'''`} {
		if !strings.HasPrefix(rest, delim) {
			continue
		}
		// A multi-line string: find its end, then replace from the
		// opening to the closing delimiter.
		body := rest[3:]
		for j := i; j < len(lines); j++ {
			if e := strings.Index(body, delim); e >= 0 {
				tail := body[e+3:]
				lines[i] = line[:v] + tomlString(s) + tail
				for x := i + 1; x <= j; x++ {
					lines[x] = ""
				}
				return nil
			}
			if j+1 < len(lines) {
				body = lines[j+1]
			}
		}
		return errors.New("unterminated multi-line string")
	}
	var end int
	switch {
	case strings.HasPrefix(rest, `"`):
		end = 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
	case strings.HasPrefix(rest, `'`):
		end = 1 + strings.IndexByte(rest[1:], '\'')
		if end == 0 {
			return errors.New("unterminated literal string")
		}
	default:
		return errors.New("down's value is not a string on its line")
	}
	if end >= len(rest) {
		return errors.New("unterminated string")
	}
	lines[i] = line[:v] + tomlString(s) + rest[end+1:]
	return nil
}
