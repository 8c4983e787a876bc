package planner

import (
	"context"
	"fmt"

	"github.com/strata-db/strata/migration"
	"github.com/strata-db/strata/pglock"
)

// custom runs user SQL at each phase. Each part must be safe to re-run. A
// part runs in one transaction unless it holds a statement PostgreSQL
// refuses inside one (CREATE INDEX CONCURRENTLY, VACUUM, ...): then each of
// its statements runs on its own, with lock_timeout set.
func (p *planner) custom(ctx context.Context, a *migration.Custom) error {
	id := fmt.Sprintf("custom:%s:%d", p.mig.Name, p.idx)
	parts := []struct {
		key, sql, phase string
		to              *[]Step
	}{
		{".start", a.Start, "start", &p.expand},
		{".complete", a.Complete, "complete", &p.completeCustom},
		{".abort", a.Abort, "abort", &p.abortCustom},
	}
	for _, part := range parts {
		if part.sql == "" {
			continue
		}
		st := Step{ID: id + ":" + part.phase, Kind: KindSQL, Tx: true,
			Desc: fmt.Sprintf("custom SQL (%s) of %s action %d", part.phase, p.mig.Name, p.idx),
			SQL:  []string{part.sql}}
		stmts, err := pglock.ClassifySQL(part.sql, pglock.Config{PGVersion: p.cat.PGMajor})
		if err != nil {
			return p.errf(part.key, "the SQL does not parse: %v", err)
		}
		for _, s := range stmts {
			if s.NoTransaction {
				st.Tx = false
			}
		}
		if !st.Tx {
			st.SQL = nil
			for _, s := range stmts {
				st.SQL = append(st.SQL, s.Statement)
			}
		}
		*part.to = append(*part.to, st)
	}
	return nil
}
