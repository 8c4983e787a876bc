package engine

import (
	"fmt"

	"github.com/strata-db/strata/migration"
)

// custom runs user SQL at each phase. Each part must be safe to re-run.
func (p *planner) custom(a *migration.Custom) error {
	id := fmt.Sprintf("custom:%s:%d", p.mig.Name, p.idx)
	if a.Start != "" {
		p.expand = append(p.expand, Step{ID: id + ":start", Kind: KindSQL, Tx: true,
			Desc: fmt.Sprintf("custom SQL (start) of %s action %d", p.mig.Name, p.idx), SQL: []string{a.Start}, Lock: "user SQL"})
	}
	if a.Complete != "" {
		p.completeCustom = append(p.completeCustom, Step{ID: id + ":complete", Kind: KindSQL, Tx: true,
			Desc: fmt.Sprintf("custom SQL (complete) of %s action %d", p.mig.Name, p.idx), SQL: []string{a.Complete}, Lock: "user SQL"})
	}
	if a.Abort != "" {
		p.abortCustom = append(p.abortCustom, Step{ID: id + ":abort", Kind: KindSQL, Tx: true,
			Desc: fmt.Sprintf("custom SQL (abort) of %s action %d", p.mig.Name, p.idx), SQL: []string{a.Abort}, Lock: "user SQL"})
	}
	return nil
}
