package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/state"
)

// runStart runs the start steps of ph. A step that fails on an error about
// the work itself (see pgexec.Interrupted) is undone at once: the abort
// steps of the stored plan run, as strata abort would run them, and the
// returned *StepError says so (Undone, or UndoErr when undoing failed too).
// An interruption leaves the phase as it is, resumable.
func (m *Migrator) runStart(ctx context.Context, s *session, ph *state.Phase) error {
	err := m.run(ctx, s, ph, plan.Start)
	var se *StepError
	if err == nil || !errors.As(err, &se) || se.Phase != plan.Start || pgexec.Interrupted(se.Err) || ctx.Err() != nil {
		return err
	}
	m.logf("start of %v failed at step %s: %v; undoing it", ph.Names(), se.Step, se.Err)
	if uerr := m.undoStart(ctx, s); uerr != nil {
		var ae *StepError
		if errors.As(uerr, &ae) {
			uerr = fmt.Errorf("abort step %q: %w", ae.Step, ae.Err)
		}
		se.UndoErr = uerr
		return se
	}
	m.logf("undid the start of %v", ph.Names())
	se.Undone = true
	return se
}

// undoStart aborts the phase in progress, from the recorded cursors.
func (m *Migrator) undoStart(ctx context.Context, s *session) error {
	if err := m.setState(ctx, s, state.Aborting); err != nil {
		return err
	}
	ph, err := m.store.Phase(ctx, s.conn, m.opts.Schema)
	if err != nil {
		return err
	}
	if ph == nil {
		return errors.New("the phase disappeared")
	}
	return m.run(ctx, s, ph, plan.Abort)
}

// describeStepError adds what the server knows about a failed statement to
// its error: the detail (e.g. the duplicated key of a unique index), and for
// a failed validation of a check constraint one row that violates it.
func (m *Migrator) describeStepError(ctx context.Context, conn *pgx.Conn, st Step, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgexec.Interrupted(err) {
		return err
	}
	var rowErr *backfill.RowError
	if errors.As(err, &rowErr) {
		return err
	}
	// A NOT NULL constraint (PostgreSQL 18) fails its validation with a
	// not_null_violation naming the column.
	notNull := pgErr.Code == "23502" && pgErr.ColumnName != "" && pgErr.TableName != ""
	if (pgErr.Code == "23514" && pgErr.ConstraintName != "" && pgErr.TableName != "" || notNull) && validates(st) {
		key, ferr := violatingRow(ctx, conn, pgErr.SchemaName, pgErr.TableName, pgErr.ConstraintName, pgErr.ColumnName, notNull)
		switch {
		case ferr != nil:
			return fmt.Errorf("%w (finding a violating row failed: %v)", err, ferr)
		case key != "":
			return fmt.Errorf("%w; first violating row: %s", err, key)
		}
	}
	if pgErr.Detail != "" {
		return fmt.Errorf("%w (%s)", err, strings.TrimSuffix(pgErr.Detail, "."))
	}
	return err
}

func validates(st Step) bool {
	for _, q := range st.SQL {
		if strings.Contains(q, " VALIDATE CONSTRAINT ") {
			return true
		}
	}
	return false
}

// violatingRow returns the key of one row of schema.table for which the
// check constraint's expression is false, as "key (id)=(77001)" ("" when
// none). The table's key is its primary key or a unique index over NOT NULL
// columns, else its ctid.
//
// With notNull the constraint is column's NOT NULL (a NOT NULL constraint
// of PostgreSQL 18) and the row is one where column IS NULL.
func violatingRow(ctx context.Context, conn *pgx.Conn, schema, table, constraint, column string, notNull bool) (string, error) {
	tq := pgx.Identifier{schema, table}.Sanitize()
	expr := pgx.Identifier{column}.Sanitize() + " IS NOT NULL"
	if !notNull {
		err := conn.QueryRow(ctx, `SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint
			WHERE conrelid = $1::regclass AND conname = $2 AND contype = 'c'`, tq, constraint).Scan(&expr)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read constraint %s: %w", constraint, err)
		}
	}
	var cols []string
	err := conn.QueryRow(ctx, `SELECT array_agg(a.attname::text ORDER BY k.ord)
		FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
		GROUP BY i.indexrelid, i.indisprimary HAVING bool_and(a.attnotnull)
		ORDER BY i.indisprimary DESC, count(*) LIMIT 1`, tq).Scan(&cols)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("read the key of %s: %w", table, err)
	}
	if len(cols) == 0 {
		cols = []string{"ctid"}
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = pgx.Identifier{c}.Sanitize() + "::text"
	}
	vals := make([]*string, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	// The expression is the server's own rendering of the constraint.
	err = conn.QueryRow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+tq+" WHERE ("+expr+") IS FALSE LIMIT 1").Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find a violating row: %w", err)
	}
	return backfill.KeyText(cols, vals), nil
}
