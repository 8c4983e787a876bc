package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/state"
)

// run executes the steps of one phase from its recorded cursor.
func (m *Migrator) run(ctx context.Context, s *session, ph *state.Phase, which plan.Phase) error {
	conn := s.conn
	var stored Plan
	if err := json.Unmarshal(ph.Plan, &stored); err != nil {
		return fmt.Errorf("decode stored plan: %w", err)
	}
	var steps []Step
	var cursor int
	var cursorName string
	var finish func(pgx.Tx) error
	switch which {
	case plan.Start:
		steps, cursor, cursorName = stored.Start, ph.StartCursor, state.CursorStart
		finish = func(tx pgx.Tx) error { return s.st.SetState(ctx, tx, ph.Schema, state.Started) }
	case plan.Complete:
		steps, cursor, cursorName = stored.Complete, ph.CompleteCursor, state.CursorComplete
		finish = func(tx pgx.Tx) error { return s.st.FinishComplete(ctx, tx, ph, Version) }
	case plan.Abort:
		steps, cursor, cursorName = stored.Abort, ph.AbortCursor, state.CursorAbort
		finish = func(tx pgx.Tx) error {
			// Enum values start added stay: a later start of the same
			// migration accepts them.
			var left []string
			for i, st := range stored.Start {
				if i <= ph.StartCursor && strings.HasPrefix(st.ID, plan.EnumAddValuePrefix) {
					left = append(left, st.ID)
				}
			}
			if err := s.st.RecordEnumValuesLeft(ctx, tx, ph.Schema, left); err != nil {
				return err
			}
			return s.st.FinishAbort(ctx, tx, ph.Schema)
		}
	}
	if len(steps) == 0 || cursor >= len(steps) {
		return m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			if err := s.verify(ctx, tx); err != nil {
				return err
			}
			return finish(tx)
		})
	}
	if err := s.refuseNonTx(which, steps[cursor:]); err != nil {
		return err
	}
	for i := cursor; i < len(steps); i++ {
		st := steps[i]
		last := i == len(steps)-1
		record := func(tx pgx.Tx) error {
			if err := s.verify(ctx, tx); err != nil {
				return err
			}
			if err := s.st.Advance(ctx, tx, ph.Schema, cursorName, i+1); err != nil {
				return err
			}
			if last {
				return finish(tx)
			}
			return nil
		}
		m.logf("%s: %s", which, st.Desc)
		var err error
		switch {
		case st.Kind == KindBackfill:
			br := &backfill.Runner{Exec: m.exec, Store: guardedStore{s}, Schema: ph.Schema, BatchSize: m.opts.BatchSize,
				TargetDuration: m.opts.BatchTarget, Workers: m.opts.Workers, Connect: m.connect,
				MaxRowsPerSecond: m.opts.MaxRowsPerSecond, MaxReplicationLag: m.opts.MaxReplicationLag,
				Progress: m.opts.Progress, AfterBatch: m.opts.AfterBatch,
				VacuumFraction: m.opts.VacuumFraction, AppRest: m.opts.AppRest, MaxAppLatency: m.opts.MaxAppLatency}
			if s.pooled && br.VacuumFraction >= 0 {
				// VACUUM cannot run in a transaction, and strata's settings
				// before it would reach another server connection.
				m.logf("space reuse is off: VACUUM cannot run through a transaction pooler; the table grows by about its size")
				br.VacuumFraction = -1
			}
			err = br.Run(ctx, conn, st.ID, *st.Backfill)
			if err == nil {
				err = m.exec.InTx(ctx, conn, record)
			}
		case st.Kind == KindIndex:
			if err = s.verify(ctx, conn); err == nil {
				err = s.quiet(func() error { return m.buildIndex(ctx, conn, st) })
			}
			if err == nil {
				err = m.exec.InTx(ctx, conn, record)
			}
		case st.Tx:
			err = m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
				for _, q := range st.SQL {
					if _, err := tx.Exec(ctx, q); err != nil {
						return fmt.Errorf("%s: %w", firstLine(q), err)
					}
				}
				return record(tx)
			})
		default:
			for _, q := range st.SQL {
				// Outside a transaction nothing can be rolled back:
				// check the lock before each statement.
				if err = s.verify(ctx, conn); err != nil {
					break
				}
				if err = s.quiet(func() error { return m.exec.Exec(ctx, conn, q) }); err != nil {
					err = fmt.Errorf("%s: %w", firstLine(q), err)
					break
				}
			}
			if err == nil {
				err = m.exec.InTx(ctx, conn, record)
			}
		}
		if err != nil {
			return &StepError{Phase: which, Step: st.ID, Err: m.describeStepError(ctx, conn, st, err)}
		}
		if m.opts.AfterStep != nil {
			m.opts.AfterStep(string(which), st)
		}
	}
	return nil
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " ..."
		}
	}
	if len(s) > 200 {
		return s[:200] + " ..."
	}
	return s
}
