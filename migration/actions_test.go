package migration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Each entry of actionTypes: a unique name equal to the decoded action's
// Type(), and keys that are exactly the keys its decode reads (so that
// strict decoding and the "it is a key of" hints agree).
func TestActionTypeTable(t *testing.T) {
	seen := map[string]bool{}
	for _, at := range actionTypes {
		t.Run(at.name, func(t *testing.T) {
			if seen[at.name] {
				t.Fatalf("duplicate entry %s", at.name)
			}
			seen[at.name] = true
			if lookupActionType(at.name) == nil {
				t.Errorf("lookupActionType(%q) = nil", at.name)
			}
			d := &decoder{l: &errList{file: "t.toml"}}
			tb := &table{d: d, o: &object{vals: map[string]any{}}, read: map[string]bool{}}
			a := at.decode(d, tb)
			if a == nil || a.Type() != at.name {
				t.Fatalf("decode returned %#v, want an action of type %s", a, at.name)
			}
			var read []string
			for k := range tb.read {
				read = append(read, k)
			}
			slices.Sort(read)
			want := slices.Sorted(slices.Values(at.keys))
			if diff := cmp.Diff(want, read); diff != "" {
				t.Errorf("keys read by decode differ from keys (-keys +read):\n%s", diff)
			}
		})
	}
	if lookupActionType("nope") != nil {
		t.Error(`lookupActionType("nope") != nil`)
	}
}

// docs/migrations.md has a section per action type, each with a table of
// its keys (or of their subkeys, as index.name) in the order of the entry's
// keys.
func TestActionTypesDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "migrations.md"))
	if err != nil {
		t.Fatal(err)
	}
	docKeys := map[string][]string{}
	var order []string
	inActions, current := false, ""
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "## "):
			inActions, current = line == "## Actions", ""
		case !inActions:
		case strings.HasPrefix(line, "### "):
			current = ""
			if name, ok := strings.CutPrefix(line, "### `"); ok && strings.HasSuffix(name, "`") {
				current = strings.TrimSuffix(name, "`")
				order = append(order, current)
				docKeys[current] = []string{}
			}
		case current != "" && strings.HasPrefix(line, "| `"):
			k, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			k, _, _ = strings.Cut(k, ".") // index.name documents index
			if ks := docKeys[current]; len(ks) == 0 || ks[len(ks)-1] != k {
				docKeys[current] = append(ks, k)
			}
		case current != "" && line != "" && !strings.HasPrefix(line, "|") && len(docKeys[current]) > 0:
			current = "" // past the key table
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(ActionTypes())), slices.Sorted(slices.Values(order))); diff != "" {
		t.Errorf("action sections in docs/migrations.md differ from ActionTypes() (-code +docs):\n%s", diff)
	}
	for _, at := range actionTypes {
		if keys, ok := docKeys[at.name]; ok {
			if diff := cmp.Diff(at.keys, keys); diff != "" {
				t.Errorf("%s: keys in docs/migrations.md differ (-code +docs):\n%s", at.name, diff)
			}
		}
	}
}
