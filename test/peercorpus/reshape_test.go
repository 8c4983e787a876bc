package peercorpus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/migration"
)

const (
	corpusDir = "testdata/reshape"
	sharedDir = "../../../shared/peer-corpus" // the corpus beside the repository, when it exists

	// caseWorkers bounds the cases running at once.
	caseWorkers = 6
)

// corpusCase is one entry of the corpus's index.json.
type corpusCase struct {
	ID    string   `json:"id"`
	Group string   `json:"group"` // docs, tests
	Kind  string   `json:"kind"`  // example, template, fragment, test_pair, test_single, invalid_sql
	Files []string `json:"files"`
	Title string   `json:"title"`
}

// Outcomes a case can have (the second column of reshape-expected.tsv).
const (
	outPass           = "pass"            // start, status, complete; and start, abort restoring the schema
	outRejected       = "rejected"        // an invalid_sql case: refused before anything runs
	outSkip           = "skip"            // template or fragment: not a migration to run
	outSetupFails     = "setup-fails"     // the setup migration fails
	outStartFails     = "start-fails"     // start fails (the database is left as before start)
	outCompleteFails  = "complete-fails"  // complete fails
	outAbortDiffers   = "abort-differs"   // abort leaves the schema different from before start
	outRejectedReshap = "refused-reshape" // refused at load as a Reshape-style file; the file strata convert writes passes
)

type expectation struct {
	outcome, reason string
}

// readExpected reads reshape-expected.tsv: id, outcome, reason (required for
// any outcome but pass).
func readExpected(t *testing.T) map[string]expectation {
	t.Helper()
	f, err := os.Open("testdata/reshape-expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]expectation{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, "\t")
		if len(parts) < 2 {
			t.Fatalf("reshape-expected.tsv:%d: want id<TAB>outcome<TAB>reason", line)
		}
		e := expectation{outcome: parts[1]}
		if len(parts) > 2 {
			e.reason = parts[2]
		}
		if e.outcome != outPass && e.reason == "" {
			t.Fatalf("reshape-expected.tsv:%d: %s: outcome %s needs a reason", line, parts[0], e.outcome)
		}
		if _, dup := out[parts[0]]; dup {
			t.Fatalf("reshape-expected.tsv:%d: %s listed twice", line, parts[0])
		}
		out[parts[0]] = e
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readIndex(t *testing.T) []corpusCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	return cases
}

// TestVendoredCorpusMatchesShared: the vendored copy is byte-identical to
// ../shared/peer-corpus/reshape (and its README) when that folder exists
// (it does not on a clean clone, as under CI).
func TestVendoredCorpusMatchesShared(t *testing.T) {
	shared := filepath.Join(sharedDir, "reshape")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no shared corpus at %s: nothing to compare", shared)
	}
	files := func(root string) map[string]string {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff(files(shared), files(corpusDir)); diff != "" {
		t.Errorf("testdata/reshape differs from %s (-shared +vendored):\n%s", shared, diff)
	}
	want, err := os.ReadFile(filepath.Join(sharedDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("testdata/README.md")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("testdata/README.md differs from %s/README.md (%v)", sharedDir, err)
	}
}

// TestReshapeCorpus runs every case of the Reshape corpus with the corpus
// README's procedure, in process through cli.Main, each on fresh databases:
//
//  1. the setup file alone in a migrations folder, strata migrate, seed.sql;
//  2. the example file added unchanged: strata start, strata status, strata
//     complete;
//  3. steps 1 and 2 again on a second database with strata abort instead of
//     complete; strata's dump of the managed schema before start and after
//     abort must be equal.
//
// invalid_sql cases must be refused by strata start on an empty database,
// which must stay as it was. template and fragment cases are skipped with
// their reason. Every outcome must be the one reshape-expected.tsv gives.
func TestReshapeCorpus(t *testing.T) {
	cases := readIndex(t)
	want := readExpected(t)
	var (
		mu  sync.Mutex
		got = map[string]string{}
	)
	for _, c := range cases {
		if _, ok := want[c.ID]; !ok {
			t.Errorf("case %s (%s) is not in reshape-expected.tsv", c.ID, c.Kind)
		}
	}
	for id := range want {
		if !slices.ContainsFunc(cases, func(c corpusCase) bool { return c.ID == id }) {
			t.Errorf("reshape-expected.tsv lists %s, which the corpus does not have", id)
		}
	}
	// Cases run concurrently, at most caseWorkers at a time: most of a
	// case's time is PostgreSQL's (DDL, commits), not this process's CPU.
	// The subtests are not t.Parallel, so -parallel (GOMAXPROCS) does not
	// bound them; t.Run may be called from several goroutines.
	t.Run("cases", func(t *testing.T) {
		sem := make(chan struct{}, caseWorkers)
		var wg sync.WaitGroup
		for _, c := range cases {
			exp := want[c.ID]
			if c.Kind == "template" || c.Kind == "fragment" {
				t.Run(c.ID, func(t *testing.T) {
					mu.Lock()
					got[c.ID] = outSkip
					mu.Unlock()
					if exp.outcome != outSkip {
						t.Errorf("outcome %s, want %s", outSkip, exp.outcome)
					}
					t.Skipf("%s: %s", c.Kind, exp.reason)
				})
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t.Run(c.ID, func(t *testing.T) {
					out, detail := runCase(t, c)
					mu.Lock()
					got[c.ID] = out
					mu.Unlock()
					if out != exp.outcome {
						t.Errorf("outcome %s, want %s (%s)\n%s", out, exp.outcome, exp.reason, detail)
					}
				})
			}()
		}
		wg.Wait()
	})
	// The summary: docs examples and tests (test_pair and test_single).
	var docsN, docsPass, testsN, testsOK, invalidN, invalidOK int
	for _, c := range cases {
		o, exp := got[c.ID], want[c.ID]
		switch {
		case c.Group == "docs" && c.Kind == "example":
			docsN++
			if o == outPass {
				docsPass++
			}
		case c.Kind == "test_pair" || c.Kind == "test_single":
			testsN++
			if o == exp.outcome {
				testsOK++
			}
		case c.Kind == "invalid_sql":
			invalidN++
			if o == outRejected {
				invalidOK++
			}
		}
	}
	invalidDocs := 0
	for _, c := range cases {
		if c.Group == "docs" && c.Kind == "example" && strings.HasPrefix(want[c.ID].reason, "invalid for Reshape itself") {
			invalidDocs++
		}
	}
	t.Logf("Reshape docs: passed %d of the %d examples valid for Reshape itself (%d runnable examples, %d invalid for Reshape); tests: %d of %d as expected (expected failures reproduced); invalid_sql: %d of %d rejected",
		docsPass, docsN-invalidDocs, docsN, invalidDocs, testsOK, testsN, invalidOK, invalidN)
}

// runCase runs one case and returns its outcome, with what happened.
func runCase(t *testing.T, c corpusCase) (string, string) {
	dir := filepath.Join(corpusDir, c.Group, c.ID)
	var setup, main []string
	for _, f := range c.Files {
		if strings.HasPrefix(f, "1_") && len(c.Files) > 1 {
			setup = append(setup, f)
		} else {
			main = append(main, f)
		}
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed.sql"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}

	if c.Kind == "invalid_sql" {
		r := newRun(t, dir)
		before := r.dump()
		r.add(main...)
		if out, code := r.strata("start"); code == 0 {
			return "started", out
		}
		if after := r.dump(); after != before {
			return "start-changed-db", cmp.Diff(before, after)
		}
		return outRejected, ""
	}

	out, detail := runProcedure(t, dir, setup, main, seed)
	if out != outRejectedReshap {
		return out, detail
	}
	// Refused as a Reshape-style file: strata convert --from reshape must
	// rewrite it into a file that passes.
	conv := t.TempDir()
	for _, f := range setup {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(conv, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range main {
		var b bytes.Buffer
		if code := cli.Main(context.Background(), []string{"convert", "--from", "reshape", filepath.Join(dir, f), "--out", conv}, nil, &b, &b); code != 0 {
			return "refused-reshape, convert fails", b.String()
		}
	}
	if o, d := runProcedure(t, conv, setup, main, seed); o != outPass {
		return "refused-reshape, converted file: " + o, d
	}
	return outRejectedReshap, detail
}

// runProcedure runs the corpus procedure for the files of folder dir: the
// setup files, the seed, then the main files through start, status and
// complete; again with abort, which must restore the schema.
func runProcedure(t *testing.T, dir string, setup, main []string, seed []byte) (string, string) {
	// Complete.
	r := newRun(t, dir)
	if o, detail := r.prepare(setup, seed); o != "" {
		return o, detail
	}
	before := r.dump()
	r.add(main...)
	if out, code := r.strata("start"); code != 0 {
		if strings.Contains(out, "strata convert --from reshape") {
			return outRejectedReshap, out
		}
		// A failed start must leave the database as it was, once aborted.
		r.strata("abort")
		if after := r.dump(); after != before {
			return "start-fails-and-changes", out + "\n" + cmp.Diff(before, after)
		}
		return outStartFails, out
	}
	if out, code := r.strata("status"); code != 0 || !strings.Contains(out, "in progress") {
		return "status-fails", out
	}
	if out, code := r.strata("complete", "--watch", "0"); code != 0 {
		return outCompleteFails, out
	}

	// Abort.
	r = newRun(t, dir)
	if o, detail := r.prepare(setup, seed); o != "" {
		return "second " + o, detail
	}
	before = r.dump()
	r.add(main...)
	if out, code := r.strata("start"); code != 0 {
		return "second start fails", out
	}
	if out, code := r.strata("abort"); code != 0 {
		return "abort-fails", out
	}
	if after := r.dump(); after != before {
		return outAbortDiffers, cmp.Diff(before, after)
	}
	return outPass, ""
}

// run is one database and migrations folder.
type run struct {
	t       *testing.T
	db      *pgtest.DB
	src     string // the case's folder
	migs    string
	history []string
}

func newRun(t *testing.T, src string) *run {
	return &run{t: t, db: pgtest.New(t), src: src, migs: t.TempDir()}
}

// add copies files of the case into the migrations folder, unchanged.
func (r *run) add(files ...string) {
	r.t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(r.src, f))
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.migs, f), data, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// prepare runs the setup migrations and the seed; it returns an outcome
// when they fail.
func (r *run) prepare(setup []string, seed []byte) (string, string) {
	r.t.Helper()
	if len(setup) > 0 {
		r.add(setup...)
		if out, code := r.strata("migrate"); code != 0 {
			return outSetupFails, out
		}
	}
	if len(seed) > 0 {
		r.db.Exec(r.t, string(seed))
	}
	return "", ""
}

// strata runs the CLI in process and returns its output (stdout then
// stderr) and exit code.
func (r *run) strata(args ...string) (string, int) {
	var out bytes.Buffer
	// A 60s lock deadline: a statement stuck behind a lock fails the case
	// in a minute instead of ten.
	code := cli.Main(context.Background(), append([]string{"--url", r.db.URL, "--dir", r.migs, "--lock-deadline", "60s"}, args...), nil, &out, &out)
	r.history = append(r.history, fmt.Sprintf("strata %s: exit %d\n%s", strings.Join(args, " "), code, out.String()))
	return out.String(), code
}

// dump is strata's deterministic dump of the managed schema.
func (r *run) dump() string {
	r.t.Helper()
	out, code := r.strata("dump")
	if code != 0 {
		r.t.Fatalf("strata dump: exit %d\n%s", code, out)
	}
	return out
}

// TestReshapeHelperFixturesOrder: the fixtures of Reshape's client helpers
// (file names, and a name key) load in file order, 10 after 3, and the name
// key labels its migration without reordering it. The fixtures have no
// actions (the helpers only read names), which strata refuses, so each is
// loaded with an empty custom action appended.
func TestReshapeHelperFixturesOrder(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // file: name
	}{
		{"migrations-1", []string{"1_test_migration.toml: 1_test_migration", "3_test_migration.toml: 3_test_migration", "10_test_migration.toml: 10_test_migration"}},
		{"migrations-2", []string{"2_test_migration.toml: 2_test_migration"}},
		{"custom-migration-name", []string{"1_test_migration.toml: 1_test_migration", "2_test_migration_with_custom_name.toml: custom_migration_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			src := filepath.Join(corpusDir, "helper-fixtures", tt.dir)
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(src, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				data = append(data, "\n[[actions]]\ntype = \"custom\"\n"...)
				if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ms, err := migration.Load(os.DirFS(dir), ".")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, filepath.Base(m.File)+": "+m.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}
