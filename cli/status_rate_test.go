package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stratapg/strata/internal/pgtest"
)

// TestStatusSameRateInTextAndJSON: text and JSON status show one rate, the
// backfill's rows of this run over this run's time, also after a resume
// (simulated: the checkpoint says an earlier run filled 15,000 of the
// rows, which then do not count).
func TestStatusSameRateInTextAndJSON(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, `CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL);
		INSERT INTO items SELECT g, g FROM generate_series(1, 20000) g; ANALYZE items`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "001_widen.toml"), []byte(`[[actions]]
type = "alter_column"
table = "items"
column = "amount"
up = "amount::bigint"
down = "amount::integer"
changes = { type = "bigint" }
`), 0o666); err != nil {
		t.Fatal(err)
	}
	strata := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runMain(t, append([]string{"--url", db.URL, "--dir", dir, "-q"}, args...)...)
		if code != 0 {
			t.Fatalf("strata %v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	strata("start")
	textRE := regexp.MustCompile(`(?m)^backfill items: 20000 rows of ~20000, done=true, ([0-9,]+) rows/s;`)
	for _, tc := range []struct {
		name string
		sql  string
	}{
		{"one run", ""},
		{"after a resume", "UPDATE strata.backfill SET run_rows_start = 15000, run_seconds = 2.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sql != "" {
				db.Exec(t, tc.sql)
			}
			m := textRE.FindStringSubmatch(strata("status"))
			if m == nil {
				t.Fatalf("no rate in text status")
			}
			text, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			var st struct {
				Backfills []struct {
					RowsPerSecond float64 `json:"rows_per_second"`
				} `json:"backfills"`
			}
			if err := json.Unmarshal([]byte(strata("status", "--format", "json")), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Backfills) != 1 || st.Backfills[0].RowsPerSecond <= 0 {
				t.Fatalf("JSON status backfills: %+v", st.Backfills)
			}
			js := st.Backfills[0].RowsPerSecond
			t.Logf("text status: %s rows/s; JSON status: %v rows/s", m[1], js)
			if text != int64(math.Round(js)) {
				t.Errorf("text status shows %d rows/s, JSON status %v", text, js)
			}
			if tc.sql != "" && js != 2000 {
				t.Errorf("rate after a resume: %v rows/s, want 2000 (5,000 rows of this run in 2.5 s)", js)
			}
		})
	}
	strata("complete")
}
