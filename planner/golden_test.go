package planner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/internal/planreport"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/planner"
)

var (
	record = flag.Bool("record", false, "re-record probes.json (and plan.json) of the golden plans from setup.sql on a PostgreSQL server")
	update = flag.Bool("update", false, "rewrite plan.json (or error) of the golden plans from the replayed probes")
)

// pgtest.Main stops a self-started cluster; it starts none itself, so
// replaying needs no server.
func TestMain(m *testing.M) { pgtest.Main(m) }

// goldenOptions is a case's options.json.
type goldenOptions struct {
	Schema         string `json:"schema"`          // managed schema; default "public"
	StateSchema    string `json:"state_schema"`    // default "strata"
	PreviousSchema string `json:"previous_schema"` // version schema of the latest completed migration
	// PGMajor replaces the server's major version in the catalog, in
	// recording and replaying alike.
	PGMajor int `json:"pg_major"`
	// VersionStyle is planner.Options.VersionStyle ("" or "reshape").
	VersionStyle string `json:"version_style"`
}

// goldenCase is one archive of testdata/<action>/<case>.txtar:
//
//	setup.sql              the schema the probes are recorded on (-record only)
//	migrations/NNN_*.toml  the migrations planned, in order
//	options.json           optional: goldenOptions
//	probes.json            the recorded Prober calls (what replay answers)
//	plan.json              the expected plan; or
//	error                  the expected error of Build
//	planreport             optional: the name of internal/planreport's golden
//	                       the plan must render to
type goldenCase struct {
	path string
	arc  *txtar.Archive
	opts goldenOptions
}

func (c *goldenCase) file(name string) ([]byte, bool) {
	for _, f := range c.arc.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// set replaces (or adds) a file of the archive; del removes one.
func (c *goldenCase) set(name string, data []byte) {
	for i := range c.arc.Files {
		if c.arc.Files[i].Name == name {
			c.arc.Files[i].Data = data
			return
		}
	}
	c.arc.Files = append(c.arc.Files, txtar.File{Name: name, Data: data})
}

func (c *goldenCase) del(name string) {
	var keep []txtar.File
	for _, f := range c.arc.Files {
		if f.Name != name {
			keep = append(keep, f)
		}
	}
	c.arc.Files = keep
}

func (c *goldenCase) migrations(t *testing.T) []*migration.Migration {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, f := range c.arc.Files {
		if strings.HasPrefix(f.Name, "migrations/") {
			fsys[f.Name] = &fstest.MapFile{Data: f.Data}
		}
	}
	migs, err := migration.Load(fsys, "migrations")
	if err != nil {
		t.Fatalf("%s: %v", c.path, err)
	}
	return migs
}

func (c *goldenCase) options() planner.Options {
	return planner.Options{Schema: c.opts.Schema, StateSchema: c.opts.StateSchema, PreviousSchema: c.opts.PreviousSchema,
		VersionStyle: c.opts.VersionStyle}
}

func loadCase(t *testing.T, path string) *goldenCase {
	t.Helper()
	arc, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &goldenCase{path: path, arc: arc, opts: goldenOptions{Schema: "public", StateSchema: "strata"}}
	if raw, ok := c.file("options.json"); ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.opts); err != nil {
			t.Fatalf("%s: options.json: %v", path, err)
		}
	}
	return c
}

// TestGoldenPlans plans every case of testdata/<action>/*.txtar from its
// recorded probes, without a server, and compares the plan with plan.json.
// With -record it first records probes.json on a fresh database built from
// setup.sql (and writes plan.json); with -update it rewrites plan.json from
// the replay.
func TestGoldenPlans(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden plans in testdata/*/*.txtar")
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.ToSlash(path)[len("testdata/"):], ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := loadCase(t, path)
			migs := c.migrations(t)
			if *record {
				recordCase(t, c, migs)
			}
			probes, ok := c.file("probes.json")
			if !ok {
				t.Fatalf("%s has no probes.json: record it with -record", path)
			}
			pr, err := newReplayer(probes, c.opts.PGMajor)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			got, berr := planner.Build(context.Background(), pr, c.options(), migs)
			if err := pr.Check(); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if *update || *record {
				writeExpected(t, c, got, berr)
			}
			compare(t, c, got, berr)
		})
	}
}

// recordCase plans c on a fresh database holding setup.sql, through a
// recorder, and stores the log as probes.json.
func recordCase(t *testing.T, c *goldenCase, migs []*migration.Migration) {
	setup, ok := c.file("setup.sql")
	if !ok {
		t.Fatalf("%s has no setup.sql to record from", c.path)
	}
	db := pgtest.New(t)
	if len(bytes.TrimSpace(setup)) > 0 {
		db.Exec(t, string(setup))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := db.Conn(t)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	// As the engine plans (pgexec.Runner.InTx).
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5000ms'"); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(planner.NewTxProber(tx), c.opts.PGMajor)
	_, _ = planner.Build(ctx, rec, c.options(), migs)
	raw, err := rec.JSON()
	if err != nil {
		t.Fatal(err)
	}
	c.set("probes.json", raw)
	writeArchive(t, c)
}

// writeExpected stores the plan (or the error) as what c expects.
func writeExpected(t *testing.T, c *goldenCase, got *plan.Plan, berr error) {
	if berr != nil {
		c.del("plan.json")
		c.set("error", []byte(berr.Error()+"\n"))
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // SQL has < and >
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		c.del("error")
		c.set("plan.json", buf.Bytes())
	}
	writeArchive(t, c)
}

func writeArchive(t *testing.T, c *goldenCase) {
	// A stable order: setup, migrations, options, then the answers.
	rank := func(name string) int {
		switch {
		case name == "setup.sql":
			return 0
		case strings.HasPrefix(name, "migrations/"):
			return 1
		case name == "options.json", name == "planreport":
			return 2
		case name == "probes.json":
			return 3
		}
		return 4
	}
	sort.SliceStable(c.arc.Files, func(i, j int) bool { return rank(c.arc.Files[i].Name) < rank(c.arc.Files[j].Name) })
	if err := os.WriteFile(c.path, txtar.Format(c.arc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// compare checks the plan (or error) against plan.json (or error), and
// against internal/planreport's golden when the case names one.
func compare(t *testing.T, c *goldenCase, got *plan.Plan, berr error) {
	if want, ok := c.file("error"); ok {
		if berr == nil {
			t.Fatalf("%s: Build succeeded; want the error %q", c.path, strings.TrimSpace(string(want)))
		}
		if diff := cmp.Diff(strings.TrimSpace(string(want)), berr.Error()); diff != "" {
			t.Errorf("%s: error differs (-want +got):\n%s", c.path, diff)
		}
		return
	}
	if berr != nil {
		t.Fatalf("%s: %v", c.path, berr)
	}
	raw, ok := c.file("plan.json")
	if !ok {
		t.Fatalf("%s has no plan.json: write it with -update", c.path)
	}
	var want plan.Plan
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s: plan.json: %v", c.path, err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("%s: plan differs from plan.json (-want +got):\n%s", c.path, diff)
	}
	if name, ok := c.file("planreport"); ok {
		comparePlanReport(t, c, strings.TrimSpace(string(name)), got)
	}
}

// comparePlanReport renders the plan as internal/planreport's test does
// (text and JSON) and compares it with that test's goldens, which a server
// planned: the replayed plan must be the one the server gives.
func comparePlanReport(t *testing.T, c *goldenCase, name string, got *plan.Plan) {
	rep, err := planreport.Build(got, got.PGMajor)
	if err != nil {
		t.Fatal(err)
	}
	// The size report comes from the server (table sizes, free disk), not
	// from the plan: take it from the JSON golden so the rest is compared.
	if raw, err := os.ReadFile(filepath.Join("..", "internal", "planreport", "testdata", name+".json")); err == nil {
		var sp struct {
			Space *planreport.Space `json:"space"`
		}
		if err := json.Unmarshal(raw, &sp); err == nil {
			rep.Space = sp.Space
		}
	}
	var text, js bytes.Buffer
	if err := planreport.WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	if err := planreport.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		ext string
		got string
	}{{".golden", text.String()}, {".json", js.String()}} {
		golden := filepath.Join("..", "internal", "planreport", "testdata", name+g.ext)
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if diff := cmp.Diff(string(want), g.got); diff != "" {
			t.Errorf("%s: the plan renders differently from %s (-want +got):\n%s", c.path, golden, diff)
		}
	}
}
