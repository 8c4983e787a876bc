package doctest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/migration"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// repoRoot is the module's root folder.
func repoRoot(t testing.TB) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// docBlocks returns every fenced block of README.md and docs/*.md.
func docBlocks(t testing.TB) []Block {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var all []Block
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		blocks, err := Extract(filepath.ToSlash(rel), string(src))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, blocks...)
	}
	return all
}

// TestDocs checks every fenced block of README.md and docs/: Go compiles,
// TOML and JSON decode (migration files through migration.Parse, the
// project file through strata's loader), shell passes bash -n and every
// strata command line in it names a real command and real flags, SQL
// parses. A block with an info string not listed here fails.
func TestDocs(t *testing.T) {
	blocks := docBlocks(t)
	if len(blocks) < 50 {
		t.Fatalf("found only %d code blocks in README.md and docs/: is the extraction broken?", len(blocks))
	}
	counts := map[string]int{}
	for _, b := range blocks {
		counts[b.Lang]++
	}
	t.Logf("code blocks by info string: %v", counts)
	for _, err := range checkBlocks(t, repoRoot(t), blocks) {
		t.Error(err)
	}
}

// checkBlocks checks blocks and returns one error per broken block.
func checkBlocks(t *testing.T, root string, blocks []Block) []error {
	var errs []error
	var goBlocks []Block
	for _, b := range blocks {
		var err error
		switch b.Lang {
		case "go":
			goBlocks = append(goBlocks, b)
		case "toml":
			err = checkTOML(t, b)
		case "json":
			err = checkJSON(b)
		case "sh", "shell", "bash":
			err = checkShell(root, b, b.Text)
		case "console":
			err = checkShell(root, b, ConsoleCommands(b.Text))
		case "sql":
			_, err = pgquery.Parse(b.Text)
		case "yaml":
			err = checkYAML(root, b)
		case "text", "ini":
			// Output, diagrams and pgbouncer's configuration: shown, not run.
		default:
			err = fmt.Errorf("unknown info string %q: use go, toml, json, yaml, sh, console, sql, ini or text (see docs/development.md)", b.Info())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
		}
	}
	return append(errs, checkGo(t, root, goBlocks)...)
}

func checkTOML(t *testing.T, b Block) error {
	switch {
	case b.Has("fragment"):
		var v map[string]any
		_, err := toml.Decode(b.Text, &v)
		return err
	case b.Has("project"):
		// Through strata's own loader, as `strata config --config FILE`.
		// The ${VAR}s it names are set, as they would be where it is used.
		for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(b.Text, -1) {
			t.Setenv(m[1], "postgres://strata@db.invalid/"+strings.ToLower(m[1]))
		}
		path := filepath.Join(t.TempDir(), "strata.toml")
		if err := os.WriteFile(path, []byte(b.Text), 0o644); err != nil {
			return err
		}
		var stdout, stderr bytes.Buffer
		if code := cli.Main(context.Background(), []string{"config", "--config", path}, strings.NewReader(""), &stdout, &stderr); code != 0 {
			return fmt.Errorf("strata config refuses it (exit %d): %s", code, strings.TrimSpace(stderr.String()))
		}
		return nil
	default:
		_, err := migration.Parse("snippet.toml", []byte(b.Text))
		return err
	}
}

func checkJSON(b Block) error {
	if !json.Valid([]byte(b.Text)) {
		var v any
		return fmt.Errorf("invalid JSON: %v", json.Unmarshal([]byte(b.Text), &v))
	}
	if b.Has("status") {
		return checkStatusJSON(b.Text)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(b.Text), &obj) == nil && obj["actions"] != nil {
		_, err := migration.Parse("snippet.json", []byte(b.Text))
		return err
	}
	return nil
}

// checkShell runs bash -n on the script and checks its commands: strata
// command lines with cli.CheckArgs, and the package folders of go run, go
// test, go build and go install exist.
// checkYAML decodes a ```yaml block (a GitHub workflow's steps) and checks
// the shell of every run: key as a ```sh block.
func checkYAML(root string, b Block) error {
	var v any
	if err := yaml.Unmarshal([]byte(b.Text), &v); err != nil {
		return fmt.Errorf("invalid YAML: %w", err)
	}
	var runs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "run" {
					runs = append(runs, s)
				} else {
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	for _, r := range runs {
		if err := checkShell(root, b, r); err != nil {
			return err
		}
	}
	return nil
}

func checkShell(root string, b Block, script string) error {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bash -n: %v: %s", err, strings.TrimSpace(string(out)))
	}
	var errs []string
	for _, c := range ShellCommands(script) {
		w := c.Words
		switch {
		case w[0] == "strata":
			if err := cli.CheckArgs(w[1:]); err != nil {
				errs = append(errs, fmt.Sprintf("line %d: %s: %v", c.Line, strings.Join(w, " "), err))
			}
		case w[0] == "go" && len(w) > 1 && (w[1] == "run" || w[1] == "test" || w[1] == "build" || w[1] == "install"):
			for _, a := range w[2:] {
				if a == "--" {
					break
				}
				if !strings.HasPrefix(a, "./") {
					continue
				}
				dir := strings.TrimSuffix(strings.TrimSuffix(a, "..."), "/")
				if info, err := os.Stat(filepath.Join(root, dir)); err != nil || !info.IsDir() {
					errs = append(errs, fmt.Sprintf("line %d: %s: no package folder %s", c.Line, strings.Join(w, " "), dir))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// checkGo compiles every Go block as its own package of one temporary
// module that uses this checkout of strata, with one go vet.
func checkGo(t *testing.T, root string, blocks []Block) []error {
	if len(blocks) == 0 {
		return nil
	}
	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// The module path lies below strata's, so snippets of strata's own
	// tests may import its internal packages; every requirement of
	// strata's is listed, so nothing is looked up.
	mod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(gomod), "module github.com/stratapg/strata/docsnippets")
	mod += fmt.Sprintf("\nrequire github.com/stratapg/strata v0.0.0\n\nreplace github.com/stratapg/strata => %s\n", root)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", []byte(mod))
	write("go.sum", sum)
	var errs []error
	byDir := map[string]Block{}
	for i, b := range blocks {
		pkg := fmt.Sprintf("snippet%d", i)
		src, err := GoSource(b, pkg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
			continue
		}
		write(filepath.Join(pkg, "snippet.go"), []byte(src))
		if strings.Contains(b.Text, "//go:embed migrations/") {
			write(filepath.Join(pkg, "migrations", "001_x.toml"), []byte("[[actions]]\n"))
		}
		byDir[pkg] = b
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return errs
	}
	// Attribute each message to its block by the snippet folder it names.
	msgs := map[string][]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := regexp.MustCompile(`(snippet\d+)[/\\]snippet\.go:(\d+)`).FindStringSubmatch(l); m != nil {
			msgs[m[1]] = append(msgs[m[1]], strings.TrimSpace(l))
		}
	}
	if len(msgs) == 0 {
		return append(errs, fmt.Errorf("go vet of the Go snippets failed: %v\n%s", err, out))
	}
	keys := make([]string, 0, len(msgs))
	for k := range msgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		errs = append(errs, fmt.Errorf("%s does not compile:\n\t%s", byDir[k], strings.Join(msgs[k], "\n\t")))
	}
	return errs
}

// TestChecksCatchBrokenBlocks proves the checks fail on broken snippets of
// each kind (and pass the same snippets fixed).
func TestChecksCatchBrokenBlocks(t *testing.T) {
	root := repoRoot(t)
	tests := []struct {
		name    string
		block   Block
		wantErr string // "" when the block is fine
	}{
		{"go ok", Block{Lang: "go", Text: "func f() error { _, err := engine.New(\"\", engine.Options{}); return err }\n"}, ""},
		{"go undefined", Block{Lang: "go", Text: "func f() error { _, err := engine.Neww(\"\", engine.Options{}); return err }\n"}, "does not compile"},
		{"go fragment ok", Block{Lang: "go", Attr: []string{"fragment"}, Text: "cfg := lint.Config{PGVersion: 16}\n_ = cfg\n"}, ""},
		{"go fragment unknown field", Block{Lang: "go", Attr: []string{"fragment"}, Text: "cfg := lint.Config{PGVersio: 16}\n_ = cfg\n"}, "does not compile"},
		{"toml ok", Block{Lang: "toml", Text: "[[actions]]\ntype = \"remove_table\"\ntable = \"t\"\n"}, ""},
		{"toml unknown key", Block{Lang: "toml", Text: "[[actions]]\ntype = \"remove_table\"\ntabel = \"t\"\n"}, "unknown key"},
		{"toml bad syntax fragment", Block{Lang: "toml", Attr: []string{"fragment"}, Text: "a = \n"}, "expected"},
		{"toml project unknown key", Block{Lang: "toml", Attr: []string{"project"}, Text: "lock_timeot = \"5s\"\n"}, "unknown key"},
		{"toml project ok", Block{Lang: "toml", Attr: []string{"project"}, Text: "lock_timeout = \"5s\"\n"}, ""},
		{"yaml invalid", Block{Lang: "yaml", Text: "- run: [\n"}, "invalid YAML"},
		{"yaml bad strata flag", Block{Lang: "yaml", Text: "- run: strata lint --formt sarif\n"}, "formt"},
		{"json invalid", Block{Lang: "json", Text: "{\"a\": 1,}\n"}, "invalid JSON"},
		{"json status unknown key", Block{Lang: "json", Attr: []string{"status"}, Text: `{"state": "idle", "stat": 1}`}, "unknown field"},
		{"json status no version", Block{Lang: "json", Attr: []string{"status"}, Text: `{"state": "idle"}`}, "no format_version"},
		{"json status incomplete", Block{Lang: "json", Attr: []string{"status"}, Text: `{"format_version": 1, "state": "idle"}`}, "leaves out keys"},
		{"json bad migration", Block{Lang: "json", Text: `{"actions": [{"type": "remove_tabel", "table": "t"}]}`}, "remove_tabel"},
		{"sh ok", Block{Lang: "sh", Text: "export DATABASE_URL=x\nstrata status --json  # a comment\n"}, ""},
		{"sh syntax", Block{Lang: "sh", Text: "if true; then strata status\n"}, "bash -n"},
		{"sh unknown flag", Block{Lang: "sh", Text: "strata status --jsn\n"}, "unknown flag: --jsn"},
		{"sh unknown command", Block{Lang: "sh", Text: "STRATA_LOCK_TIMEOUT=5s strata statsu | head\n"}, "unknown command"},
		{"sh missing package", Block{Lang: "sh", Text: "go run ./cmd/nosuch -- x\n"}, "no package folder"},
		{"console flag", Block{Lang: "console", Text: "$ strata lint --formt json\nstrata lint --bogus is output, not checked\n"}, "unknown flag: --formt"},
		{"sql bad", Block{Lang: "sql", Text: "ALTER TABEL t ADD x int;\n"}, "syntax error"},
		{"unknown info string", Block{Lang: "python", Text: "print(1)\n"}, "unknown info string"},
		{"no info string", Block{Text: "strata statsu\n"}, "unknown info string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.block.File, tt.block.Line = "self-test.md", 1
			errs := checkBlocks(t, root, []Block{tt.block})
			switch {
			case tt.wantErr == "" && len(errs) > 0:
				t.Fatalf("want no error, got %v", errs)
			case tt.wantErr != "" && len(errs) == 0:
				t.Fatalf("want an error containing %q, got none", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(fmt.Sprint(errs), tt.wantErr):
				t.Fatalf("want an error containing %q, got %v", tt.wantErr, errs)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	src := "x\n```go fragment\na := 1\n```\n\n  ```toml\n  a = 1\n  ```\n```\nplain\n```\n"
	got, err := Extract("f.md", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{File: "f.md", Line: 2, Lang: "go", Attr: []string{"fragment"}, Text: "a := 1\n"},
		{File: "f.md", Line: 6, Lang: "toml", Attr: []string{}, Text: "a = 1\n"},
		{File: "f.md", Line: 9, Text: "plain\n"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range got {
		if got[i].Text != want[i].Text || got[i].Info() != want[i].Info() {
			t.Errorf("block %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := Extract("f.md", "```sh\nstrata status\n"); err == nil {
		t.Error("an unclosed block is not an error")
	}
}

func TestShellCommands(t *testing.T) {
	got := ShellCommands("export A='x y'\nFOO=1 strata --url \"postgres://a b\" status \\\n  --json # c\nmake test | tee log && strata plan; echo $(go run ./x -y 1)\n")
	var lines []string
	for _, c := range got {
		lines = append(lines, fmt.Sprintf("%d:%q", c.Line, c.Words))
	}
	want := []string{
		`1:["export" "A=x y"]`,
		`2:["strata" "--url" "postgres://a b" "status" "--json"]`,
		`4:["make" "test"]`,
		`4:["tee" "log"]`,
		`4:["strata" "plan"]`,
		`4:["echo" "$(go run ./x -y 1)"]`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestDocsCommandSpans checks the inline code spans of README.md and docs/
// that show a strata command (`strata plan --format json`, a synopsis like
// `strata new NAME [--sql\|--toml]`): the command exists and every flag the
// span names is one of its own or a global one.
func TestDocsCommandSpans(t *testing.T) {
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for _, s := range Spans(filepath.ToSlash(rel), string(src)) {
			if err := checkSpan(s.Text); err != nil {
				t.Errorf("%s:%d: `%s`: %v", s.File, s.Line, s.Text, err)
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d code spans: is the extraction broken?", n)
	}
}

// messageSpans start the spans that quote strata's messages, not commands.
var messageSpans = []string{"strata lost its lock", "strata needs two connections"}

func checkSpan(text string) error {
	paths, flags, ok := SynopsisCommands(text)
	if !ok || slices.ContainsFunc(messageSpans, func(m string) bool { return strings.HasPrefix(text, m) }) {
		return nil
	}
	for _, p := range paths {
		for _, args := range append([][]string{p}, flagArgs(p, flags)...) {
			err := cli.CheckArgs(args)
			if err == nil {
				continue
			}
			msg := err.Error()
			if strings.Contains(msg, "unknown command") || strings.Contains(msg, "unknown flag") || strings.Contains(msg, "unknown shorthand") {
				return fmt.Errorf("strata %s: %v", strings.Join(args, " "), err)
			}
		}
	}
	return nil
}

func flagArgs(path, flags []string) [][]string {
	var out [][]string
	for _, f := range flags {
		out = append(out, append(slices.Clone(path), f))
	}
	return out
}

func TestCheckSpanCatchesBrokenSpans(t *testing.T) {
	for _, tt := range []struct {
		span string
		ok   bool
	}{
		{"strata plan --format json", true},
		{`strata new NAME [--sql\|--toml]`, true},
		{"strata scenario create|copy|list|show", true},
		{"strata latest --url[=URL]", true},
		{"strata foreign status [NAME ...] [--json] [--check]", true},
		{"strata plan --migration x", false},
		{"strata scenario create|cpy", false},
		{"strata statsu", false},
		{"strata status -x", false},
	} {
		err := checkSpan(tt.span)
		if (err == nil) != tt.ok {
			t.Errorf("checkSpan(%q) = %v, want ok=%v", tt.span, err, tt.ok)
		}
	}
}

// TestMakeSaysCompilingFirst: make demo, test and build say that they
// compile (and how long a first build takes) before go starts compiling,
// which it does silently.
func TestMakeSaysCompilingFirst(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	for _, target := range []string{"demo", "test", "build"} {
		out, err := exec.Command("make", "-n", "-C", repoRoot(t), target).Output()
		if err != nil {
			t.Fatalf("make -n %s: %v", target, err)
		}
		var cmds []string
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "make") {
				cmds = append(cmds, l)
			}
		}
		if len(cmds) < 2 || !strings.HasPrefix(cmds[0], `echo "compiling strata (first build takes 1–3 minutes`) || !strings.Contains(cmds[1], "go build") {
			t.Errorf("make %s runs\n%s\nwant the compile notice first, then go build", target, strings.Join(cmds, "\n"))
		}
	}
}

// checkStatusJSON checks a ```json status block against engine.Status: it
// decodes with no unknown key, and shows every key strata status --json
// can print (those of a Status with every field set).
func checkStatusJSON(text string) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	// The CLI writes every JSON document with format_version first.
	var doc struct {
		FormatVersion *int `json:"format_version"`
		engine.Status
	}
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not the JSON of strata status: %w", err)
	}
	if doc.FormatVersion == nil {
		return fmt.Errorf("not the JSON of strata status: no format_version (see docs/json.md)")
	}
	st := doc.Status
	now := time.Now()
	name := "x"
	full := engine.Status{State: "in_progress", Phase: "started", Schema: "s", LatestCompleted: &name,
		// PreviousSchema is left out: the example's old version uses the
		// base tables, and the table of keys documents it.
		VersionSchema: "v", SearchPath: "v, s", OldSearchPath: "p", StartedAt: &now, Throttle: &engine.Throttle{},
		Backfills: []engine.BackfillStatus{{Table: "t"}}}
	want := jsonKeys(full)
	got := jsonKeys(st)
	var missing []string
	for _, k := range want {
		if !slices.Contains(got, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the example leaves out keys strata status --json prints: %s", strings.Join(missing, ", "))
	}
	return nil
}

// jsonKeys lists the keys of v's JSON, nested ones as parent.key.
func jsonKeys(v any) []string {
	data, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(data, &m)
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			keys = append(keys, prefix+k)
			switch v := v.(type) {
			case map[string]any:
				walk(prefix+k+".", v)
			case []any:
				if len(v) > 0 {
					if o, ok := v[0].(map[string]any); ok {
						walk(prefix+k+".", o)
					}
				}
			}
		}
	}
	walk("", m)
	sort.Strings(keys)
	return keys
}
