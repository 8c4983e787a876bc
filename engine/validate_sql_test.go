package engine_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/strata-db/strata/migration"
)

// TestSQLSyntaxErrorsBeforeStart: a syntax error in any SQL fragment of a
// migration is reported by Load, with the file, line and key, before start
// can touch the database.
func TestSQLSyntaxErrorsBeforeStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ordersSetup)
	before := e.snapshot()
	fsys := fstest.MapFS{
		"migrations/001_ok.toml": {Data: []byte(`
[[actions]]
type = "add_check"
table = "orders"
  [actions.check]
  name = "qty_positive"
  expression = "qty > 0"
`)},
		"migrations/002_bad.toml": {Data: []byte(`
[[actions]]
type = "add_index"
table = "orders"
  [actions.index]
  name = "orders_note_idx"
  columns = ["note"]
  where = "note <> '' AND"

[[actions]]
type = "alter_column"
table = "orders"
column = "qty"
up = "qty::bigint)"
down = "qty::int"
  [actions.changes]
  type = "bigint"
`)},
	}
	migs, err := e.m.Load(fsys, "migrations")
	if err == nil {
		t.Fatalf("Load succeeded: %d migrations", len(migs))
	}
	if !errors.Is(err, migration.ErrInvalid) {
		t.Errorf("error %v is not migration.ErrInvalid", err)
	}
	for _, w := range []string{
		`migrations/002_bad.toml:8: actions[0].index.where: invalid SQL expression "note <> '' AND": must be one expression: "and" follows it`,
		`migrations/002_bad.toml:14: actions[1].up: invalid SQL expression "qty::bigint)": syntax error at or near ")" (line 1, column 12 of the SQL)`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
		}
	}
	if strings.Contains(err.Error(), "001_ok") {
		t.Errorf("the valid file is reported: %v", err)
	}
	if after := e.snapshot(); after != before {
		t.Error("the database changed")
	}
}
