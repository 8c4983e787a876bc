package peercorpus

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/convert"
	"github.com/stratapg/strata/internal/pgtest"
)

// pgrollDir is the vendored copy of pgroll's examples folder (Apache-2.0,
// see testdata/pgroll/README.md); pgrollShared is the corpus it was copied
// from, checked when present (it is not in a clean clone).
const (
	pgrollDir    = "testdata/pgroll"
	pgrollShared = "../../../shared/peer-corpus/pgroll/examples"
)

// TestPgrollVendoredCopy checks the vendored examples are byte-identical to
// the shared corpus when it exists.
func TestPgrollVendoredCopy(t *testing.T) {
	if _, err := os.Stat(pgrollShared); err != nil {
		t.Skipf("%s not present (a clean clone): nothing to compare", pgrollShared)
	}
	ents, err := os.ReadDir(pgrollShared)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		want, err := os.ReadFile(filepath.Join(pgrollShared, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(pgrollDir, e.Name()))
		if err != nil {
			t.Errorf("%s: missing from the vendored copy: %v", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the vendored copy differs from %s", e.Name(), pgrollShared)
		}
		n++
	}
	if n != 57 { // 56 examples and .ledger
		t.Errorf("compared %d files, want 57", n)
	}
}

// pgrollInputs reads the vendored examples and the .ledger as convert
// inputs named by their base names.
func pgrollInputs(t *testing.T) []convert.Input {
	t.Helper()
	ents, err := os.ReadDir(pgrollDir)
	if err != nil {
		t.Fatal(err)
	}
	var in []convert.Input
	for _, e := range ents {
		n := e.Name()
		if n != convert.LedgerName && !strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(pgrollDir, n))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, convert.Input{Name: n, Data: data})
	}
	return in
}

// TestPgrollCorpus converts all 56 pgroll examples and runs them in the
// ledger's order on one database: for each, start; every table's rows are
// read through the new version and the old one, and a row is inserted (and
// read back, and deleted) through each version where the table takes a
// made-up row; abort, and the structure (strata dump) must be what it was
// before start; start again; complete; then the seed rows the corpus README
// names for that step. testdata/pgroll-expected.tsv says, per example,
// whether it passes and which warnings the conversion gives (exact text).
func TestPgrollCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 56 migrations (about a minute)")
	}
	expected := pgrollReadExpected(t, "testdata/pgroll-expected.tsv")
	seeds := pgrollSeeds(t, "testdata/pgroll-seed.sql")

	res, err := convert.Convert(convert.Pgroll, pgrollInputs(t))
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	warns := map[string][]string{}
	for _, w := range res.Warnings {
		id := strings.TrimSuffix(convert.OutputName(w.File), ".toml")
		warns[id] = append(warns[id], w.String())
	}
	if len(res.Files) != 56 {
		t.Fatalf("converted %d files, want 56", len(res.Files))
	}
	if len(expected) != 56 {
		t.Fatalf("testdata/pgroll-expected.tsv has %d cases, want 56", len(expected))
	}

	ctx := context.Background()
	db := pgtest.New(t)
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	dir := t.TempDir()

	var ran, clean int
	var failed []string
	prevVS := ""
	probe := 0
	for _, f := range res.Files {
		id := strings.TrimSuffix(f.Name, ".toml")
		exp, ok := expected[id]
		if !ok {
			t.Errorf("%s: not in testdata/pgroll-expected.tsv", id)
			continue
		}
		if diff := cmp.Diff(exp.warnings, warns[id], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: warnings (-expected +got):\n%s", id, diff)
		}
		pgrollWriteFile(t, dir, f.Name, f.Data)
		got, detail := func() (string, string) {
			before := pgrollSchemas(ctx, t, conn)
			dumpBefore, err := pgrollStrata(db.URL, dir, "dump")
			if err != nil {
				t.Fatal(err)
			}
			counts := pgrollCounts(ctx, t, conn)
			if _, err := pgrollStrata(db.URL, dir, "start"); err != nil {
				return "fails-at-start", err.Error()
			}
			vs := ""
			for s := range pgrollSchemas(ctx, t, conn) {
				if !before[s] && s != "strata" {
					vs = s
				}
			}
			if vs == "" {
				return "fails-at-start", "start created no version schema"
			}
			// every row, through both versions
			newNames := pgrollVersionNames(t, f.Name, f.Data, counts)
			if err := pgrollCheckRows(ctx, conn, pgx.Identifier{vs}.Sanitize()+", public", newNames, counts); err != nil {
				return "fails-rows", err.Error()
			}
			oldSP, oldNames := "public", map[string]string{}
			for n := range counts {
				oldNames[n] = n
			}
			if prevVS != "" && pgrollSchemas(ctx, t, conn)[prevVS] {
				oldSP = pgx.Identifier{prevVS}.Sanitize() + ", public"
			}
			if err := pgrollCheckRows(ctx, conn, oldSP, oldNames, counts); err != nil {
				return "fails-rows", err.Error()
			}
			// a row through each version
			rels, err := pgrollVersionRelations(ctx, conn, vs)
			if err != nil {
				t.Fatal(err)
			}
			var skipped []string
			for _, rel := range rels {
				probe++
				ok, err := pgrollProbeInsert(ctx, conn, pgx.Identifier{vs}.Sanitize()+", public", rel, probe)
				if err != nil {
					return "fails-insert", "new version: " + err.Error()
				}
				if !ok {
					skipped = append(skipped, "new:"+rel)
				}
			}
			old := make([]string, 0, len(counts))
			for n := range counts {
				old = append(old, n)
			}
			sort.Strings(old)
			for _, rel := range old {
				probe++
				ok, err := pgrollProbeInsert(ctx, conn, oldSP, rel, probe)
				if err != nil {
					return "fails-insert", "old version: " + err.Error()
				}
				if !ok {
					skipped = append(skipped, "old:"+rel)
				}
			}
			if len(skipped) > 0 {
				t.Logf("%s: no made-up row fits (a foreign key or check): %s", id, strings.Join(skipped, ", "))
			}
			if _, err := pgrollStrata(db.URL, dir, "abort"); err != nil {
				return "fails-at-abort", err.Error()
			}
			dumpAfter, err := pgrollStrata(db.URL, dir, "dump")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(dumpBefore, dumpAfter); diff != "" {
				return "fails-at-abort", "the structure after abort differs from before start (-before +after):\n" + diff
			}
			after := pgrollSchemas(ctx, t, conn)
			delete(after, "strata") // the state schema stays once made
			delete(before, "strata")
			if diff := cmp.Diff(before, after); diff != "" {
				return "fails-at-abort", "schemas after abort (-before +after):\n" + diff
			}
			if _, err := pgrollStrata(db.URL, dir, "start"); err != nil {
				return "fails-at-start", "second start: " + err.Error()
			}
			if _, err := pgrollStrata(db.URL, dir, "complete"); err != nil {
				return "fails-at-complete", err.Error()
			}
			prevVS = vs
			return "pass", ""
		}()
		if got != "pass" {
			// leave the database as it was before this example and go on
			// with the next one
			if got != "fails-at-start" {
				_, _ = pgrollStrata(db.URL, dir, "abort")
			}
			if err := os.Remove(filepath.Join(dir, f.Name)); err != nil {
				t.Fatal(err)
			}
			failed = append(failed, id+" "+got)
		}
		if got != exp.result {
			t.Errorf("%s: %s, want %s\n%s", id, got, exp.result, detail)
		} else if detail != "" {
			t.Logf("%s: %s as expected: %s", id, got, detail)
		}
		if got == "pass" {
			ran++
			dropped := false
			for _, w := range warns[id] {
				dropped = dropped || strings.Contains(w, "warning: dropped:")
			}
			if !dropped {
				clean++
			}
		}
		if sql, ok := seeds[strings.SplitN(id, "_", 2)[0]]; ok && got == "pass" {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: seed rows: %v", id, err)
			}
		}
	}
	summary := fmt.Sprintf("pgroll corpus: converted %d/56, ran %d/56 (start, both versions read and write, abort, start, complete), %d with no dropped option; not run: %s",
		len(res.Files), ran, clean, strings.Join(failed, ", "))
	t.Log(summary)
	fmt.Println(summary)
	if clean < 53 {
		t.Errorf("%d examples pass with no dropped option, want at least 53", clean)
	}
}
