package lint

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stratapg/strata/pglock"
)

// bench10k returns a migration file of 10,000 statements mixing the kinds of
// statements the rules look at, with comments and suppressions.
func bench10k() []byte {
	var b strings.Builder
	b.WriteString("-- generated benchmark migration\nSET lock_timeout = '2s';\n")
	n := 1
	for i := 0; n < 10000; i++ {
		t := fmt.Sprintf("table_%d", i%200)
		stmts := []string{
			fmt.Sprintf("CREATE TABLE new_%d (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now())", i),
			fmt.Sprintf("ALTER TABLE %s ADD COLUMN c_%d integer DEFAULT 0", t, i),
			fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT ck_%d CHECK (c_%d >= 0) NOT VALID", t, i, i),
			fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT ck_%d", t, i),
			fmt.Sprintf("CREATE INDEX CONCURRENTLY idx_%d ON %s (c_%d) WHERE c_%d > 0", i, t, i, i),
			fmt.Sprintf("-- strata:ignore SA004 the table is small\nALTER TABLE %s ALTER COLUMN c_%d TYPE bigint USING c_%d::bigint", t, i, i),
			fmt.Sprintf("UPDATE %s SET c_%d = c_%d + 1 WHERE id BETWEEN %d AND %d", t, i, i, i*1000, i*1000+999),
			fmt.Sprintf("INSERT INTO new_%d (name) SELECT name FROM %s WHERE id < %d ON CONFLICT DO NOTHING", i, t, i),
			fmt.Sprintf("COMMENT ON COLUMN %s.c_%d IS 'counter number %d'", t, i, i),
			fmt.Sprintf("ALTER TABLE %s RENAME COLUMN c_%d TO d_%d", t, i, i),
		}
		for _, s := range stmts {
			if n >= 10000 {
				break
			}
			b.WriteString(s)
			b.WriteString(";\n")
			n++
		}
	}
	return []byte(b.String())
}

func BenchmarkLint10k(b *testing.B) {
	src := bench10k()
	cfg := Config{InTransaction: false, EnableInfo: true}
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		findings, err := LintSQL("bench.sql", src, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if len(findings) == 0 {
			b.Fatal("no findings")
		}
	}
}

func TestBench10kIsTenThousandStatements(t *testing.T) {
	src := bench10k()
	got, err := pglock.ClassifySQL(string(src), pglock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10000 {
		t.Errorf("%d statements, want 10000", len(got))
	}
}
