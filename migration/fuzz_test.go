package migration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addSeeds(f *testing.F) {
	var files []string
	for _, pattern := range []string{"*.toml", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"actions = []",
		`{"actions": [{"type": "custom", "start": "x"}]}`,
		"a = \"\"\"\nb = 1\n\"\"\"\n[[actions]]\ntype = 'custom'\nstart = '''x'''",
		"[[actions]]\ncolumn = { name = \"a\", b = { c = [1, {d = 2}] } }\n[actions.up.values]\n\"q.k\" = 'v'",
		"x = [1979-05-27 07:32:00Z, {a = 1}]\n[a.b]\n[[a.b.c]]\n",
		`{"a": [[[{"b": null}]]], "actions": [1, "x", {}]}`,
		"t = {\n a = 1,\n}\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse checks that Parse (the TOML and the JSON decoder, each input
// given to both) never panics, allocates memory in proportion to the input
// (not to its square), and that what it returns is consistent: a migration
// or a non-empty ValidationErrors for this file.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, file := range []string{"m/1_f.toml", "m/1_f.json"} {
			var (
				m   *Migration
				err error
			)
			limit := uint64(32<<20 + 256*len(data))
			if got := allocsOf(func() { m, err = Parse(file, data) }); got > limit {
				t.Fatalf("%s: Parse of %d bytes allocated %d bytes (limit %d)", file, len(data), got, limit)
			}
			if err != nil {
				if m != nil {
					t.Fatalf("%s: migration and error", file)
				}
				var ve ValidationErrors
				if !errors.As(err, &ve) || len(ve) == 0 || !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: error %T %v is not a non-empty ValidationErrors", file, err, err)
				}
				for _, e := range ve {
					if e.File != file || e.Msg == "" || e.Line < 0 {
						t.Fatalf("%s: bad error %#v", file, e)
					}
				}
				continue
			}
			if m == nil || len(m.Actions) == 0 || m.Name == "" || len(m.Checksum) != 64 {
				t.Fatalf("%s: bad migration %#v", file, m)
			}
			for i, a := range m.Actions {
				if a == nil {
					t.Fatalf("%s: actions[%d] is nil", file, i)
				}
			}
			_ = m.Validate(strings.Repeat("s", 10))
		}
	})
}

// FuzzTOMLIndex checks that the line indexer knows every key the TOML parser
// sees.
func FuzzTOMLIndex(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkIndexComplete(t, data)
	})
}
