package sqlrun

import (
	"testing"

	"github.com/stratapg/strata/internal/pgquery"
)

// Statements that skip the leftover check, and ones that must not.
func TestPlain(t *testing.T) {
	for sql, want := range map[string]bool{
		"CREATE TABLE t (id int PRIMARY KEY, n int CHECK (n > 0))":              true,
		"CREATE INDEX i ON t (n)":                                               true,
		"CREATE INDEX CONCURRENTLY i ON t (n)":                                  true,
		"CREATE INDEX i ON ONLY p (n)":                                          false, // INVALID until its partitions' are attached
		"ALTER TABLE t ADD COLUMN c text, ALTER COLUMN n SET DEFAULT 0":         true,
		"ALTER TABLE t ADD COLUMN r int REFERENCES u (id)":                      true,
		"ALTER TABLE t ADD CONSTRAINT c CHECK (n > 0) NOT VALID":                false,
		"ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (n) REFERENCES u NOT VALID": false,
		"ALTER TABLE t VALIDATE CONSTRAINT c":                                   false,
		"ALTER TABLE t DROP COLUMN n":                                           false,
		"INSERT INTO t VALUES (1, 2)":                                           true,
		"COMMENT ON TABLE t IS 'x'":                                             true,
		"DO $$ BEGIN EXECUTE 'SELECT 1'; END $$":                                false,
		"SELECT f()":                                                            false,
		"DROP INDEX i":                                                          false,
		"REINDEX INDEX CONCURRENTLY i":                                          false,
	} {
		n, err := pgquery.ParseOne(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if got := plain(n); got != want {
			t.Errorf("plain(%s) = %v, want %v", sql, got, want)
		}
	}
}
