package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/state"
)

// PoolerError says that strata refused a statement that cannot run in a
// transaction because its connections go through a transaction pooler
// (see ErrTransactionPooler).
type PoolerError struct {
	Where     string   // the step of a phase (`start step "index:…"`), or the .sql file
	Statement string   // the statement
	Applied   []string // the .sql migrations this command applied before it
}

func (e *PoolerError) Error() string {
	done := "nothing was changed"
	if len(e.Applied) > 0 {
		done = fmt.Sprintf("the .sql migrations before it were applied (%s), the rest was not started", strings.Join(e.Applied, ", "))
	}
	return fmt.Sprintf("%s: cannot run %s through a transaction pooler: a statement outside a transaction gets strata's "+
		"lock_timeout and statement_timeout from a SET just before it, which the pooler may send to another server connection; %s; "+
		"hint: run this command on a direct connection, or give strata's role pool_mode=session in pgbouncer's [users] section (docs/poolers.md)",
		e.Where, e.Statement, done)
}

func (e *PoolerError) Unwrap() error { return ErrTransactionPooler }

// refuseNonTx returns a *PoolerError for the first of steps that runs
// outside a transaction, when s goes through a transaction pooler.
func (s *session) refuseNonTx(which plan.Phase, steps []Step) error {
	if !s.pooled {
		return nil
	}
	for _, st := range steps {
		if (st.Kind == KindIndex || (st.Kind == KindSQL && !st.Tx)) && len(st.SQL) > 0 {
			return &PoolerError{Statement: strings.TrimSuffix(firstLine(st.SQL[0]), ";"), Where: fmt.Sprintf("%s step %q", which, st.ID)}
		}
	}
	return nil
}

// refuseNoTxSQL returns a *PoolerError for the first no-transaction .sql
// migration of migs, when s goes through a transaction pooler.
func (s *session) refuseNoTxSQL(migs []*migration.Migration) error {
	if !s.pooled {
		return nil
	}
	for _, mg := range migs {
		if mg.SQL != nil && mg.SQL.NoTransaction {
			stmt := "the statements of a " + migration.DirectiveNoTransaction + " file"
			if len(mg.SQL.Statements) > 0 {
				stmt += " (the first: " + firstLine(mg.SQL.Statements[0].Text) + ")"
			}
			return &PoolerError{Where: mg.File, Statement: stmt}
		}
	}
	return nil
}

// refusePhase is refuseNonTx for the steps of ph's phase which from its
// cursor on, before the phase's state changes.
func (s *session) refusePhase(ph *state.Phase, which plan.Phase) error {
	if !s.pooled {
		return nil
	}
	var stored Plan
	if err := json.Unmarshal(ph.Plan, &stored); err != nil {
		return fmt.Errorf("decode stored plan: %w", err)
	}
	steps, cursor := stored.Abort, ph.AbortCursor
	switch which {
	case plan.Start:
		steps, cursor = stored.Start, ph.StartCursor
	case plan.Complete:
		steps, cursor = stored.Complete, ph.CompleteCursor
	}
	if cursor < len(steps) {
		return s.refuseNonTx(which, steps[cursor:])
	}
	return nil
}
