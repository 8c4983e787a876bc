package engine_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/tools/txtar"

	"github.com/stratapg/strata/internal/pgtest"
)

var updateBattery = flag.Bool("update-battery", false, "rewrite want/changed_new of testdata/versionschema/battery.txtar")

// runBattery runs every statement of the battery on table as conn, each in
// a transaction rolled back afterwards, and returns one line per statement:
// the statement's number and its result (rows, or the SQLSTATE and
// message of its error).
func runBattery(t *testing.T, e *env, conn *pgx.Conn, battery []string, table string) []string {
	t.Helper()
	var out []string
	for i, line := range battery {
		line = strings.ReplaceAll(line, "{T}", table)
		res := fmt.Sprintf("%02d ", i+1) + batteryOne(t, e, conn, line)
		out = append(out, res)
	}
	return out
}

func batteryOne(t *testing.T, e *env, conn *pgx.Conn, line string) string {
	t.Helper()
	ctx := e.ctx
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
	}()
	errOut := func(err error) string {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return "ERROR " + pgErr.Code + ": " + pgErr.Message
		}
		t.Fatalf("%s: %v", line, err)
		return ""
	}
	switch {
	case strings.HasPrefix(line, "copy-out:"):
		var b strings.Builder
		if _, err := conn.PgConn().CopyTo(ctx, &b, strings.TrimPrefix(line, "copy-out:")); err != nil {
			return errOut(err)
		}
		return strings.ReplaceAll(strings.TrimSpace(b.String()), "\n", " / ")
	case strings.HasPrefix(line, "copy-in:"):
		tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("400\tc400\t4\n"), strings.TrimPrefix(line, "copy-in:"))
		if err != nil {
			return errOut(err)
		}
		return tag.String()
	}
	var last []string
	for _, sql := range strings.Split(line, " ;; ") {
		rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return errOut(err)
		}
		last = nil
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return errOut(err)
			}
			var f []string
			for _, v := range vals {
				f = append(f, fmt.Sprint(v))
			}
			last = append(last, strings.Join(f, "|"))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errOut(err)
		}
	}
	return strings.Join(last, " / ")
}

// TestVersionSchemaBattery (issue 13, must show 1): the battery run as a
// client of the old and of the new version during a phase, and after
// complete. The table no action touches behaves exactly like the base
// table for both versions; the changed table too for the old version (its
// shape is the table's); for the new version, which reaches it through a
// view, the results are want/changed_new (docs/version-schemas.md says
// why); after complete every case matches the base table.
func TestVersionSchemaBattery(t *testing.T) {
	path := "testdata/versionschema/battery.txtar"
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	var battery []string
	pg15 := pgtest.ServerMajor(t) >= 15
	for _, l := range strings.Split(strings.TrimSpace(files["battery.sql"]), "\n") {
		if strings.HasPrefix(l, "pg15:") {
			if !pg15 {
				continue
			}
			l = strings.TrimPrefix(l, "pg15:")
		}
		battery = append(battery, l)
	}
	if len(battery) < 40 {
		t.Fatalf("the battery has %d statements, want at least 40", len(battery))
	}
	e := newEnv(t, files["setup.sql"])
	migs := e.migs("", "001_base.toml", files["migrations/001_base.toml"], "002_change.toml", files["migrations/002_change.toml"])
	res1 := e.start(migs[:1])
	e.complete()
	p := begin(t, e, "", res1.VersionSchema, migs)
	base := pathConn(t, e, "", "public")
	want(t, "new version schema", []string{"changed v"}, e.relations(p.res.VersionSchema))

	for _, table := range []string{"untouched", "changed"} {
		ref := runBattery(t, e, base, battery, table)
		if diff := cmp.Diff(ref, runBattery(t, e, p.old, battery, table)); diff != "" {
			t.Errorf("old version on %s, during the phase (-base +old):\n%s", table, diff)
		}
		got := runBattery(t, e, p.new, battery, table)
		if table == "untouched" {
			if diff := cmp.Diff(ref, got); diff != "" {
				t.Errorf("new version on %s, during the phase (-base +new):\n%s", table, diff)
			}
			continue
		}
		wantChanged := strings.Split(strings.TrimSpace(files["want/changed_new"]), "\n")
		if pgtest.ServerMajor(t) >= 17 && !*updateBattery {
			// From PostgreSQL 17 on MERGE writes through an updatable view,
			// as it does on the table (want/changed_new is recorded on 15).
			for i, l := range wantChanged {
				if strings.Contains(l, "ERROR 0A000: cannot execute MERGE on relation") && i < len(ref) {
					wantChanged[i] = ref[i]
				}
			}
		}
		if !pg15 {
			t.Logf("PostgreSQL < 15: want/changed_new not compared")
		} else if *updateBattery {
			for i := range ar.Files {
				if ar.Files[i].Name == "want/changed_new" {
					ar.Files[i].Data = []byte(strings.Join(got, "\n") + "\n")
				}
			}
			if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if diff := cmp.Diff(wantChanged, got); diff != "" {
			t.Errorf("new version on changed, during the phase (-want +got):\n%s", diff)
		}
	}

	p.complete()
	want(t, "new version schema after complete", nil, e.relations(p.res.VersionSchema))
	for _, table := range []string{"untouched", "changed"} {
		ref := runBattery(t, e, base, battery, table)
		if diff := cmp.Diff(ref, runBattery(t, e, p.new, battery, table)); diff != "" {
			t.Errorf("new version on %s, after complete (-base +new):\n%s", table, diff)
		}
	}
}
