// Package sqlrun runs plain .sql migrations: one transaction per file, or
// statement by statement for a file whose first line is
// "-- strata:no-transaction", with lock_timeout on the connection and
// jittered retries within the lock deadline (internal/pgexec), and checks
// what the file left behind: an INVALID index it built is dropped (and the
// build retried when it failed on a lock); a NOT VALID constraint or an
// INVALID index it leaves is an error naming the object.
//
// sqlrun does not lint: the caller gates files before they run (the
// engine through its Options.SQLGate, which the CLI fills with the linter),
// so the runtime never links the linter.
package sqlrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/strata-db/strata/internal/pgexec"
	"github.com/strata-db/strata/internal/pgquery"
	"github.com/strata-db/strata/migration"
)

// Recorder records a file's progress in the history. Each method is called
// in the transaction (or on the connection) given, so that what a file did
// and its record commit together.
type Recorder interface {
	// Progress: the first done statements of a no-transaction file ran.
	Progress(ctx context.Context, q pgx.Tx, done int) error
	// Complete: the file ran whole (in the file's own transaction when it
	// has one).
	Complete(ctx context.Context, q pgx.Tx, statements int) error
	// Failed: statement stmt (1-based) failed.
	Failed(ctx context.Context, conn *pgx.Conn, stmt int, err error) error
}

// Runner runs .sql migrations.
type Runner struct {
	Exec *pgexec.Runner
	// Schema is the managed schema, where leftovers are looked for.
	Schema string
	// AfterFile runs in the file's transaction (or, for a no-transaction
	// file, in the one that records it) after its statements: the engine
	// refreshes the latest version schema there.
	AfterFile func(ctx context.Context, tx pgx.Tx) error
	Logf      func(format string, args ...any)
}

// Error is a statement of a file that failed.
type Error struct {
	File      string
	Statement int // 1-based
	Line      int
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: statement %d: %s", e.File, e.Line, e.Statement, describe(e.Err))
}

func (e *Error) Unwrap() error { return e.Err }

// describe renders a PostgreSQL error with its detail (e.g. the duplicated
// key of a unique index build).
func describe(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		msg := pg.Message
		if pg.Detail != "" {
			msg += " (" + strings.TrimSuffix(pg.Detail, ".") + ")"
		}
		if errors.Is(err, pgexec.ErrDeadline) {
			msg = "gave up waiting for locks within --lock-deadline: " + msg
		}
		return msg
	}
	return err.Error()
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// Run runs m (a .sql migration), skipping its first from statements (that
// ran before, in a no-transaction file).
func (r *Runner) Run(ctx context.Context, conn *pgx.Conn, m *migration.Migration, from int, rec Recorder) error {
	if m.SQL == nil {
		return fmt.Errorf("sqlrun: %s is not a .sql migration", m.File)
	}
	before, err := r.leftovers(ctx, conn)
	if err != nil {
		return err
	}
	stmts := m.SQL.Statements
	if !m.SQL.NoTransaction {
		failed := 0
		err := r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			for i, s := range stmts {
				if _, err := tx.Exec(ctx, s.Text); err != nil {
					failed = i + 1
					return err
				}
			}
			failed = 0
			if err := r.checkLeftovers(ctx, tx, m, before); err != nil {
				return err
			}
			if r.AfterFile != nil {
				if err := r.AfterFile(ctx, tx); err != nil {
					return err
				}
			}
			return rec.Complete(ctx, tx, len(stmts))
		})
		if err != nil {
			if failed > 0 {
				err = &Error{File: m.File, Statement: failed, Line: stmts[failed-1].Line, Err: err}
			}
			_ = rec.Failed(context.WithoutCancel(ctx), conn, failed, err)
			return err
		}
		return nil
	}
	for i := from; i < len(stmts); i++ {
		s := stmts[i]
		if err := r.execOne(ctx, conn, s.Text); err != nil {
			err = &Error{File: m.File, Statement: i + 1, Line: s.Line, Err: err}
			_ = rec.Failed(context.WithoutCancel(ctx), conn, i+1, err)
			return err
		}
		if err := r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error { return rec.Progress(ctx, tx, i+1) }); err != nil {
			return err
		}
	}
	err = r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		if err := r.checkLeftovers(ctx, tx, m, before); err != nil {
			return err
		}
		if r.AfterFile != nil {
			if err := r.AfterFile(ctx, tx); err != nil {
				return err
			}
		}
		return rec.Complete(ctx, tx, len(stmts))
	})
	if err != nil {
		_ = rec.Failed(context.WithoutCancel(ctx), conn, len(stmts), err)
	}
	return err
}

// execOne runs one statement of a no-transaction file with strata's
// settings (lock_timeout, statement_timeout = 0, the search_path) set on
// the session just before it and reset just after it (pgexec's ExecOnce),
// retrying it alone on lock timeouts. A CREATE INDEX
// CONCURRENTLY that fails leaves an INVALID index: it is dropped before
// the statement is retried or its error returned.
func (r *Runner) execOne(ctx context.Context, conn *pgx.Conn, sql string) error {
	idx := concurrentIndex(sql, r.Schema)
	if idx != "" {
		if err := dropInvalid(ctx, conn, r.Exec, idx); err != nil {
			return err
		}
	}
	return r.Exec.Retry(ctx, func() error {
		err := r.Exec.ExecOnce(ctx, conn, sql)
		if err != nil && idx != "" {
			if derr := dropInvalid(ctx, conn, r.Exec, idx); derr != nil {
				return pgexec.Permanent(fmt.Errorf("%w; and dropping the INVALID index it left failed: %w", err, derr))
			}
			r.logf("dropped the INVALID index %s that the failed build left", idx)
		}
		return err
	}, func(attempt int, wait time.Duration, err error) {
		r.logf("lock not available (attempt %d), retrying in %s: %s", attempt, wait.Round(time.Millisecond), pgexec.Message(err))
	})
}

// concurrentIndex is the qualified, quoted name of the index a CREATE INDEX
// CONCURRENTLY statement builds ("" for any other statement).
func concurrentIndex(sql, schema string) string {
	n, err := pgquery.ParseOne(sql)
	if err != nil {
		return ""
	}
	is := n.GetIndexStmt()
	if is == nil || !is.Concurrent || is.Idxname == "" {
		return ""
	}
	sch := schema
	if is.Relation != nil && is.Relation.Schemaname != "" {
		sch = is.Relation.Schemaname
	}
	return pgquery.Qual(sch, is.Idxname)
}

// dropInvalid drops idx when it exists and is INVALID.
func dropInvalid(ctx context.Context, conn *pgx.Conn, ex *pgexec.Runner, idx string) error {
	var invalid bool
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)), false)`, idx).Scan(&invalid)
	if err != nil || !invalid {
		return err
	}
	return ex.Exec(ctx, conn, "DROP INDEX CONCURRENTLY IF EXISTS "+idx)
}

// leftovers lists the INVALID indexes and NOT VALID constraints of the
// managed schema.
func (r *Runner) leftovers(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]bool, error) {
	rows, err := q.Query(ctx, `
		SELECT 'INVALID index ' || format('%I.%I', n.nspname, c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid AND n.nspname = $1
		UNION ALL
		SELECT 'NOT VALID constraint ' || format('%I', co.conname) || ' on ' || format('%I.%I', n.nspname, c.relname)
		FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT co.convalidated AND n.nspname = $1`, r.Schema)
	if err != nil {
		return nil, fmt.Errorf("sqlrun: look for leftovers: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("sqlrun: look for leftovers: %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// checkLeftovers fails when the file left an INVALID index or a NOT VALID
// constraint that was not there before it.
func (r *Runner) checkLeftovers(ctx context.Context, tx pgx.Tx, m *migration.Migration, before map[string]bool) error {
	after, err := r.leftovers(ctx, tx)
	if err != nil {
		return err
	}
	var left []string
	for n := range after {
		if !before[n] {
			left = append(left, n)
		}
	}
	if len(left) == 0 {
		return nil
	}
	return pgexec.Permanent(fmt.Errorf("%s left %s (hint: validate it in the same file, e.g. ALTER TABLE ... VALIDATE CONSTRAINT, or drop it)", m.File, strings.Join(left, ", ")))
}
