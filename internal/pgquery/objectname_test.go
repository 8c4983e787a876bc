package pgquery_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestObjectNameMatchesServer: the name of an unnamed CHECK constraint on
// one column is makeObjectName(table, column, "check"); ObjectName must
// agree with the server on short, long and multi-byte names.
func TestObjectNameMatchesServer(t *testing.T) {
	db := pgtest.New(t)
	conn := db.Conn(t)
	ctx := context.Background()
	cases := []struct{ table, col string }{
		{"t", "a"},
		{strings.Repeat("t", 62), strings.Repeat("c", 48)},
		{strings.Repeat("t", 10), strings.Repeat("c", 63)},
		{strings.Repeat("é", 31), strings.Repeat("ü", 31)},
		{"x" + strings.Repeat("é", 30), "y"},
	}
	for _, c := range cases {
		if _, err := conn.Exec(ctx, "CREATE TABLE "+pgquery.Ident(c.table)+" ("+pgquery.Ident(c.col)+" int CHECK ("+pgquery.Ident(c.col)+" > 0))"); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := conn.QueryRow(ctx, "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'", pgquery.Ident(c.table)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := pgquery.ObjectName(c.table, c.col, "check"); got != want {
			t.Errorf("table %q column %q: server named the check %q, ObjectName says %q", c.table, c.col, got, want)
		}
		if _, err := conn.Exec(ctx, "DROP TABLE "+pgquery.Ident(c.table)); err != nil {
			t.Fatal(err)
		}
	}
}
