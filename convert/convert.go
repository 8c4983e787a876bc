// Package convert turns other tools' migration files into strata migration
// files: Reshape TOML (where its meaning differs from strata's), pgroll JSON
// and YAML, and hand-written SQL DDL. Each source has its own file
// (reshape.go, pgroll.go, sql.go); they share the output model here and the
// TOML writer in toml.go.
//
// A converter never drops anything silently: an option strata has no form
// for becomes a Warning naming the input file, line and key. Every File a
// converter returns decodes with migration.Parse (Convert checks it).
package convert

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/stratapg/strata/migration"
)

// Source names an input format.
type Source string

const (
	Reshape Source = "reshape"
	Pgroll  Source = "pgroll"
	SQL     Source = "sql"
)

// Sources lists the input formats in the order the CLI documents them.
var Sources = []Source{Reshape, Pgroll, SQL}

// ErrUnknownSource is returned for a --from value that is not in Sources.
var ErrUnknownSource = errors.New("unknown source format")

// ErrNotConvertible is wrapped by errors for input that cannot be read as
// the source format at all (not a warning: nothing is written).
var ErrNotConvertible = errors.New("cannot convert")

// Input is one file to convert.
type Input struct {
	// Name is the file's path as the user gave it (used in messages and
	// to derive the output name).
	Name string
	Data []byte
}

// File is one converted strata migration.
type File struct {
	// Name is the output file name (no folder), e.g. "03_add_column.toml".
	Name string
	Data []byte
}

// Warning is an input option strata has no form for, or a rewrite whose
// meaning the user should check.
type Warning struct {
	File string
	Line int // 0: unknown
	Key  string
	Msg  string
}

func (w Warning) String() string {
	var b strings.Builder
	b.WriteString(w.File)
	if w.Line > 0 {
		fmt.Fprintf(&b, ":%d", w.Line)
	}
	if w.Key != "" {
		b.WriteString(": " + w.Key)
	}
	b.WriteString(": warning: " + w.Msg)
	return b.String()
}

// Result is what converting one or more inputs gives.
type Result struct {
	Files    []File
	Warnings []Warning
}

// Convert converts the inputs from the given source format. Inputs are
// converted in the order given (the CLI passes a folder's files in natural
// order). Every output file is checked with migration.Parse; a file that
// does not decode is a bug in the converter and returned as an error.
func Convert(from Source, inputs []Input) (*Result, error) {
	var conv func([]Input) (*Result, error)
	switch from {
	case Reshape:
		conv = fromReshape
	case Pgroll:
		conv = fromPgroll
	case SQL:
		conv = fromSQL
	default:
		return nil, fmt.Errorf("%w %q (want one of reshape, pgroll, sql)", ErrUnknownSource, string(from))
	}
	res, err := conv(inputs)
	if err != nil {
		return nil, err
	}
	for _, f := range res.Files {
		if _, err := migration.Parse(f.Name, f.Data); err != nil {
			return nil, fmt.Errorf("converted %s does not decode (a bug in strata convert): %w", f.Name, err)
		}
	}
	return res, nil
}

// OutputName is the strata file name for an input file name: the base name
// with its extension (and a ".strata" infix) replaced by ".toml".
func OutputName(input string) string {
	base := path.Base(strings.ReplaceAll(input, "\\", "/"))
	for _, ext := range []string{".json", ".yaml", ".yml", ".toml", ".sql"} {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.TrimSuffix(base, ".strata")
	return base + ".toml"
}
