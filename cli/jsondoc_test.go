package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// jsonDoc is one documented JSON document of docs/json.md: the keys of its
// top-level object and of its nested objects (by path: "backfills[]" is
// each element of the array backfills, "throttle" the object throttle).
type jsonDoc struct {
	objects map[string]map[string]bool // path ("" for the top level) -> key -> optional
}

var (
	docSection = regexp.MustCompile("^## `strata ([a-z ]+)`")
	docObject  = regexp.MustCompile("^### `strata ([a-z ]+)`: `([a-z_\\[\\].]+)`")
	docRow     = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([^|]+) \\|")
	snakeKey   = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	timeValue  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)
)

// readJSONDocs parses docs/json.md: a "## `strata CMD`" section per
// command, its key table, and "### `strata CMD`: `PATH`" tables for nested
// objects. A key whose type says "optional" may be left out.
func readJSONDocs(path string) (map[string]*jsonDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	docs := map[string]*jsonDoc{}
	var cur map[string]bool
	for _, l := range strings.Split(string(b), "\n") {
		if m := docSection.FindStringSubmatch(l); m != nil {
			d := &jsonDoc{objects: map[string]map[string]bool{"": {}}}
			docs[m[1]] = d
			cur = d.objects[""]
			continue
		}
		if m := docObject.FindStringSubmatch(l); m != nil {
			d := docs[m[1]]
			if d == nil {
				return nil, fmt.Errorf("%s: %q before its section", path, l)
			}
			cur = map[string]bool{}
			d.objects[m[2]] = cur
			continue
		}
		if strings.HasPrefix(l, "#") {
			cur = nil
			continue
		}
		if m := docRow.FindStringSubmatch(l); m != nil && cur != nil {
			cur[m[1]] = strings.Contains(m[2], "optional")
		}
	}
	return docs, nil
}

// checkJSONDoc checks a command's JSON output against its documentation:
// one object with "format_version": 1; at the top level and in each
// documented nested object, every key documented and every key not marked
// optional present; everywhere, keys in snake_case, no millisecond fields
// and times in UTC.
func checkJSONDoc(doc *jsonDoc, out []byte) []string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{fmt.Sprintf("not JSON: %v", err)}
	}
	top, ok := v.(map[string]any)
	if !ok {
		return []string{"the document is not an object"}
	}
	var errs []string
	if fv, _ := top["format_version"].(json.Number); fv.String() != "1" {
		errs = append(errs, fmt.Sprintf("format_version = %v, want 1", top["format_version"]))
	}
	paths := make([]string, 0, len(doc.objects))
	for p := range doc.objects {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, obj := range objectsAt(top, p) {
			errs = append(errs, compareKeys(p, doc.objects[p], obj)...)
		}
	}
	walkJSON("", v, func(path string, key string, val any) {
		if key != "" && !snakeKey.MatchString(key) {
			errs = append(errs, fmt.Sprintf("%s: key %q is not snake_case", path, key))
		}
		if strings.HasSuffix(key, "_ms") {
			errs = append(errs, fmt.Sprintf("%s: key %q: durations are in seconds (_seconds)", path, key))
		}
		if s, ok := val.(string); ok && timeValue.MatchString(s) && !strings.HasSuffix(s, "Z") {
			errs = append(errs, fmt.Sprintf("%s: time %q is not in UTC", path, s))
		}
	})
	return errs
}

func compareKeys(path string, want map[string]bool, obj map[string]any) []string {
	var errs []string
	where := path
	if where == "" {
		where = "top level"
	}
	for k := range obj {
		if _, ok := want[k]; !ok {
			errs = append(errs, fmt.Sprintf("%s: key %q is not documented", where, k))
		}
	}
	for k, optional := range want {
		if _, ok := obj[k]; !ok && !optional {
			errs = append(errs, fmt.Sprintf("%s: documented key %q is missing", where, k))
		}
	}
	sort.Strings(errs)
	return errs
}

// objectsAt returns the objects at a documented path ("a.b[]" is each
// element of the array b of the object a).
func objectsAt(v any, path string) []map[string]any {
	cur := []any{v}
	if path != "" {
		for _, part := range strings.Split(path, ".") {
			name, each := strings.CutSuffix(part, "[]")
			var next []any
			for _, c := range cur {
				o, ok := c.(map[string]any)
				if !ok || o[name] == nil {
					continue
				}
				if each {
					arr, _ := o[name].([]any)
					next = append(next, arr...)
				} else {
					next = append(next, o[name])
				}
			}
			cur = next
		}
	}
	var out []map[string]any
	for _, c := range cur {
		if o, ok := c.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

func walkJSON(path string, v any, fn func(path, key string, val any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			fn(path, k, val)
			walkJSON(path+"."+k, val, fn)
		}
	case []any:
		for _, val := range v {
			walkJSON(path+"[]", val, fn)
		}
	default:
		fn(path, "", v)
	}
}

// cmdJSONDoc is the script command "jsondoc CMD... FILE": FILE, the JSON
// output of strata CMD, matches the section of CMD in docs/json.md.
func cmdJSONDoc(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: jsondoc COMMAND... FILE")
	}
	docs, err := readJSONDocs(filepath.Join(repoRoot(ts), "docs", "json.md"))
	ts.Check(err)
	name := strings.Join(args[:len(args)-1], " ")
	doc := docs[name]
	if doc == nil {
		ts.Fatalf("docs/json.md has no section for strata %s", name)
	}
	out, err := os.ReadFile(ts.MkAbs(args[len(args)-1]))
	ts.Check(err)
	if errs := checkJSONDoc(doc, out); len(errs) > 0 {
		ts.Fatalf("strata %s --format json does not match docs/json.md:\n%s\noutput:\n%s", name, strings.Join(errs, "\n"), out)
	}
}

// repoRoot is the repository's root (the parent of cli, where the test
// runs).
func repoRoot(ts *testscript.TestScript) string {
	wd, err := os.Getwd()
	ts.Check(err)
	return filepath.Dir(wd)
}

// TestJSONDocsComplete: every command whose JSON the scripts check is
// documented, and docs/json.md parses (a section with a key table each).
func TestJSONDocsComplete(t *testing.T) {
	docs, err := readJSONDocs(filepath.Join("..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range docs {
		if len(d.objects[""]) == 0 {
			t.Errorf("section strata %s documents no key", name)
		}
		if _, ok := d.objects[""]["format_version"]; !ok {
			t.Errorf("section strata %s does not document format_version", name)
		}
	}
	script, err := os.ReadFile(filepath.Join("testdata", "script", "json.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var checked []string
	for _, l := range strings.Split(string(script), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "jsondoc" {
			checked = append(checked, strings.Join(f[1:len(f)-1], " "))
		}
	}
	for name := range docs {
		if !slices.Contains(checked, name) {
			t.Errorf("docs/json.md documents strata %s, but json.txtar does not check it", name)
		}
	}
}
