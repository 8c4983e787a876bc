package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/stratapg/strata/internal/pgtest"
)

// The version view a .sql file's refresh (re)creates is security_invoker
// only on PostgreSQL 15+: PostgreSQL 14 rejects the option ("unrecognized
// parameter"), and before this the refresh always asked for it.
func TestVersionViewSQLByMajor(t *testing.T) {
	cols := []tcol{{name: "id"}, {name: "note", def: "'x'::text"}}
	out := []string{`id`, `note`}
	for _, tc := range []struct {
		major int
		with  bool
	}{{13, false}, {14, false}, {15, true}, {16, true}} {
		stmts := versionViewSQL(tc.major, "app_v2", "items", "public", "items", out, cols, []string{"note"})
		if len(stmts) != 2 {
			t.Fatalf("PG %d: %q", tc.major, stmts)
		}
		if got := strings.Contains(stmts[0], "security_invoker"); got != tc.with {
			t.Errorf("PG %d: security_invoker %v, want %v: %s", tc.major, got, tc.with, stmts[0])
		}
		if stmts[1] != `ALTER VIEW "app_v2"."items" ALTER COLUMN "note" SET DEFAULT 'x'::text` {
			t.Errorf("PG %d: %s", tc.major, stmts[1])
		}
	}

	// Both renderings run on the test server (the one without the option
	// is what a PostgreSQL 14 server gets); a server before 15 runs only
	// its own.
	db := pgtest.New(t)
	db.Exec(t, "CREATE TABLE items (id int PRIMARY KEY, note text DEFAULT 'x'); CREATE SCHEMA app_v2; CREATE VIEW app_v2.items AS SELECT id FROM items")
	conn := db.Conn(t)
	majors := []int{14, 15}
	if pgtest.ServerMajor(t) < 15 {
		majors = []int{14}
	}
	for _, major := range majors {
		for _, s := range versionViewSQL(major, "app_v2", "items", "public", "items", out, cols, []string{"note"}) {
			if _, err := conn.Exec(context.Background(), s); err != nil {
				t.Fatalf("PG %d rendering: %s: %v", major, s, err)
			}
		}
	}
	var note string
	if err := conn.QueryRow(context.Background(), "INSERT INTO app_v2.items (id) VALUES (1) RETURNING note").Scan(&note); err != nil || note != "x" {
		t.Fatalf("insert through the refreshed view: %q, %v", note, err)
	}
}
