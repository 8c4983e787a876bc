package engine

import (
	"fmt"
	"io"
	"strings"
)

// WritePlan prints a plan for people: every statement grouped by phase, with
// the lock it takes and whether it runs in a transaction.
func WritePlan(w io.Writer, p *Plan) {
	fmt.Fprintf(w, "schema %s: new version schema %s, old version %s\n", p.Schema, p.VersionSchema, orBase(p.PreviousSchema))
	for _, ph := range []struct {
		name  string
		steps []Step
	}{{"start", p.Start}, {"complete", p.Complete}, {"abort", p.Abort}} {
		fmt.Fprintf(w, "\n== %s ==\n", ph.name)
		for i, st := range ph.steps {
			tx := "in a transaction"
			if !st.Tx {
				tx = "outside a transaction"
			}
			if st.Kind == KindBackfill {
				tx = "batched, one short transaction per batch"
			}
			fmt.Fprintf(w, "%d. %s\n   lock: %s; %s\n", i+1, st.Desc, st.Lock, tx)
			for _, q := range st.SQL {
				fmt.Fprintf(w, "   %s;\n", strings.ReplaceAll(q, "\n", "\n   "))
			}
			if b := st.Backfill; b != nil {
				fmt.Fprintf(w, "   UPDATE %s SET %s WHERE key in (last, next] -- key: %s\n", qual(b.Schema, b.Table), b.Set, strings.Join(b.Key, ", "))
			}
		}
	}
}
