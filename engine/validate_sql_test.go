package engine_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stratapg/strata/migration"
)

// TestSQLSyntaxErrorsBeforeStart: a syntax error in any SQL fragment of a
// migration is reported by Load, with the file, line and key, before start
// can touch the database.
func TestSQLSyntaxErrorsBeforeStart(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "validate/syntax_errors")
	e := newEnv(t, tables(t, "orders"))
	before := e.snapshot()
	fsys := fstest.MapFS{}
	for _, name := range []string{"001_ok.toml", "002_bad.toml"} {
		fsys["migrations/"+name] = &fstest.MapFile{Data: []byte(fx.file("migrations/" + name))}
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
