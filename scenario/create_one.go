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
			var snap string
			if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snap); err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
			if err := m.makeObjects(ctx, tx, sc, members, versionSchema, haveMeta); err != nil {
				return err
			}
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
			sc.CopyXID = snap
			if err := m.finishTx(ctx, tx, sc, []*planned{p}, cat, map[string]bool{p.info.Name: true}); err != nil {
				return err
			}
			out, err = m.mustLoad(ctx, tx, sc.Name)
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
