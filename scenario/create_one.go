package scenario

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// createOne makes a scenario of one table in one REPEATABLE READ
// transaction on conn: the record, the role and schema, the copy (its
// snapshot is the transaction's, so no snapshot is exported and no second
// connection opened), its change log and privileges, and the state ready.
// A failure or a killed process leaves nothing behind. Lock timeouts
// retry the whole transaction (the foreign keys to base tables are added
// last, so their lock is held only until the commit right after).
func (m *Manager) createOne(ctx context.Context, conn *pgx.Conn, sc *Scenario, p *planned, members []string, versionSchema string, cat *catalog, haveMeta bool) (*Scenario, error) {
	var out *Scenario
	var rows int64
	err := m.exec.RetryOn(ctx, conn, func() error {
		return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL REPEATABLE READ; " + m.setLocal()}, func(tx pgx.Tx) error {
			// Recorded ready with the transaction's snapshot: nothing sees
			// it before the commit.
			sc.State = StateReady
			if err := m.makeObjects(ctx, tx, sc, members, versionSchema, haveMeta); err != nil {
				return err
			}
			snap := sc.CopyXID
			m.logf("copying 1 table(s) under snapshot %s, 1 at a time", snap)
			var err error
			if rows, err = m.fill(ctx, tx, sc, p, true); err != nil {
				return fmt.Errorf("scenario create %s: copy %s: %w", sc.Name, p.info.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+m.st("scenario_table")+` (scenario, table_name, position, filter, via, log_table, rows_copied, copy_snapshot)
				VALUES ($1, $2, $8, $3, nullif($4, ''), $5, $6, $7)`,
				sc.Name, p.info.Name, p.filter, p.via, p.log, rows, snap, p.pos); err != nil {
				return fmt.Errorf("scenario create %s: record the copy of %s: %w", sc.Name, p.info.Name, err)
			}
			if err := m.finishTx(ctx, tx, sc, []*planned{p}, cat, map[string]bool{p.info.Name: true}, false); err != nil {
				return err
			}
			// Read back as list shows it; the change log is empty.
			all, err := m.loadAll(ctx, tx, sc.Name, loadSizes|loadMetaKnown)
			if err == nil && len(all) != 1 {
				err = fmt.Errorf("scenario create %s: not found after creating it", sc.Name)
			}
			if err == nil {
				out = all[0]
			}
			return err
		})
	}, nil)
	if err != nil {
		return nil, err
	}
	m.logf("copied %s: %d rows", p.info.Name, rows)
	if m.opts.AfterCopy != nil {
		m.opts.AfterCopy(p.info.Name)
	}
	return out, nil
}
