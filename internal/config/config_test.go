package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownKeysSuggest: a misspelt key of the project file, of a
// [[foreign]] declaration and of its server gets the nearest valid key.
func TestUnknownKeysSuggest(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"shcema = \"app\"\n", `strata.toml:1: shcema: unknown key "shcema" (did you mean "schema"?)`},
		{"frobnicate = 1\n", `strata.toml:1: frobnicate: unknown key "frobnicate" (the keys are the global flags' names with _ for -, and [[foreign]])`},
		{"[[foreign]]\nname = \"rep\"\ninto = \"postgres://x/y\"\nschmea = \"s\"\n", `strata.toml:4: foreign[0].schmea: unknown key "schmea" (did you mean "schema"?)`},
		{"[[foreign]]\nname = \"rep\"\ninto = \"postgres://x/y\"\nschema = \"s\"\nserver = { hots = \"h\" }\n", `strata.toml:5: foreign[0].server.hots: unknown key "hots" (server has host, port and dbname) (did you mean "host"?)`},
	} {
		path := filepath.Join(t.TempDir(), "strata.toml")
		if err := os.WriteFile(path, []byte(c.src), 0o666); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, []string{"url", "schema", "dir", "lock-timeout"}, func(string) string { return "" })
		want := filepath.Dir(path) + "/" + c.want
		if err == nil {
			t.Fatalf("Load(%q): no error", c.src)
		}
		// The first problem is the key's (others may follow).
		if got, _, _ := strings.Cut(err.Error(), "\n"); got != want {
			t.Errorf("Load(%q) = %v\nwant %s", c.src, err, want)
		}
	}
}
