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
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
)

// Recorder records a file's progress in the history. Each method is called
// in the transaction (or on the connection) given, so that what a file did
// and its record commit together.
type Recorder interface {
	// Progress: the first done statements of a no-transaction file ran
	// (not called for the last statement: Complete records it).
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

	// known are the leftovers of the managed schema as the last file run
	// on conn left them (nil: look them up before the next file). A Runner
	// kept for a session's files saves that query per file.
	conn  *pgx.Conn
	known map[string]bool
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
		return fmt.Errorf("%s is not a .sql migration", m.File)
	}
	// strata's own settings (lock_timeout, statement_timeout = 0, the
	// search_path) are set with each transaction (SET LOCAL) and around
	// each statement of a no-transaction file (pgexec's ExecOnce).
	if r.conn != conn {
		r.conn, r.known = conn, nil
	}
	stmts := m.SQL.Statements
	// A file of plain statements (see plain) cannot leave a leftover nor
	// remove one: it skips the two catalog queries (their planning is most
	// of a small file's cost, after its DDL invalidated the cached plans).
	check := !allPlain(stmts)
	before := r.known
	r.known = nil // until this file succeeds
	if check && before == nil {
		var err error
		if before, err = r.leftovers(ctx, conn); err != nil {
			return err
		}
	}
	after := before
	checkLeftovers := func(ctx context.Context, tx pgx.Tx) error {
		if !check {
			return nil
		}
		var err error
		after, err = r.checkLeftovers(ctx, tx, m, before)
		return err
	}
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
			if err := checkLeftovers(ctx, tx); err != nil {
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
		r.known = after
		return nil
	}
	for i := from; i < len(stmts); i++ {
		s := stmts[i]
		if err := r.execOne(ctx, conn, s); err != nil {
			err = &Error{File: m.File, Statement: i + 1, Line: s.Line, Err: err}
			_ = rec.Failed(context.WithoutCancel(ctx), conn, i+1, err)
			return err
		}
		if i == len(stmts)-1 {
			break // the last one is recorded with the file's completion
		}
		if err := r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error { return rec.Progress(ctx, tx, i+1) }); err != nil {
			return err
		}
	}
	err := r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		if err := checkLeftovers(ctx, tx); err != nil {
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
		return err
	}
	r.known = after
	return nil
}

// execOne runs one statement of a no-transaction file with strata's
// settings (lock_timeout, statement_timeout = 0, the search_path) set on
// the session just before it and reset just after it (pgexec's ExecOnce),
// retrying it alone on lock timeouts. A CREATE INDEX
// CONCURRENTLY that fails leaves an INVALID index: it is dropped before
// the statement is retried or its error returned. An INVALID index of the
// same name left by an earlier run (interrupted during the build) makes
// the build fail at once as already existing: it is dropped and the build
// runs again (with IF NOT EXISTS, which would skip the build, it is
// dropped first).
func (r *Runner) execOne(ctx context.Context, conn *pgx.Conn, st migration.SQLStatement) error {
	idx, ifNotExists := concurrentIndex(st, r.Schema)
	if idx != "" && ifNotExists {
		if _, err := dropInvalid(ctx, conn, r.Exec, idx); err != nil {
			return err
		}
	}
	return r.Exec.Retry(ctx, func() error {
		for again := false; ; again = true {
			err := r.Exec.ExecOnce(ctx, conn, st.Text)
			if err == nil || idx == "" {
				return err
			}
			dropped, derr := dropInvalid(ctx, conn, r.Exec, idx)
			if derr != nil {
				return pgexec.Permanent(fmt.Errorf("%w; and dropping the INVALID index it left failed: %w", err, derr))
			}
			if !dropped {
				return err
			}
			var pg *pgconn.PgError
			if !again && errors.As(err, &pg) && pg.Code == "42P07" { // duplicate_table: an earlier run's
				r.logf("dropped the INVALID index %s that an earlier run left; building it again", idx)
				continue
			}
			r.logf("dropped the INVALID index %s that the failed build left", idx)
			return err
		}
	}, func(attempt int, wait time.Duration, err error) {
		r.logf("lock not available (attempt %d), retrying in %s: %s", attempt, wait.Round(time.Millisecond), pgexec.Message(err))
	})
}

// concurrentIndex is the qualified, quoted name of the index a CREATE INDEX
// CONCURRENTLY statement builds ("" for any other statement), and whether
// it says IF NOT EXISTS.
func concurrentIndex(st migration.SQLStatement, schema string) (string, bool) {
	n := st.Node
	if n == nil {
		var err error
		if n, err = pgquery.ParseOne(st.Text); err != nil {
			return "", false
		}
	}
	is := n.GetIndexStmt()
	if is == nil || !is.Concurrent || is.Idxname == "" {
		return "", false
	}
	sch := schema
	if is.Relation != nil && is.Relation.Schemaname != "" {
		sch = is.Relation.Schemaname
	}
	return pgquery.Qual(sch, is.Idxname), is.IfNotExists
}

// dropInvalid drops idx when it exists and is INVALID, and says whether it
// did.
func dropInvalid(ctx context.Context, conn *pgx.Conn, ex *pgexec.Runner, idx string) (bool, error) {
	var invalid bool
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)), false)`, idx).Scan(&invalid)
	if err != nil || !invalid {
		return false, err
	}
	return true, ex.Exec(ctx, conn, "DROP INDEX CONCURRENTLY IF EXISTS "+idx)
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
		return nil, fmt.Errorf("look for leftovers: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look for leftovers: %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// checkLeftovers fails when the file left an INVALID index or a NOT VALID
// constraint that was not there before it.
func (r *Runner) checkLeftovers(ctx context.Context, tx pgx.Tx, m *migration.Migration, before map[string]bool) (map[string]bool, error) {
	after, err := r.leftovers(ctx, tx)
	if err != nil {
		return nil, err
	}
	var left []string
	for n := range after {
		if !before[n] {
			left = append(left, n)
		}
	}
	if len(left) == 0 {
		return after, nil
	}
	slices.Sort(left)
	return nil, pgexec.Permanent(fmt.Errorf("%s left %s (hint: validate it in the same file, e.g. ALTER TABLE ... VALIDATE CONSTRAINT, or drop it)", m.File, strings.Join(left, ", ")))
}

func allPlain(stmts []migration.SQLStatement) bool {
	for _, s := range stmts {
		n := s.Node
		if n == nil {
			var err error
			if n, err = pgquery.ParseOne(s.Text); err != nil {
				return false
			}
		}
		if !plain(n) {
			return false
		}
	}
	return true
}

// plain reports whether a statement, once it ran without an error, can
// neither have left an INVALID index or a NOT VALID constraint in the
// managed schema nor removed one. The list is short and on the safe side:
// CREATE TABLE (its constraints are valid: the table is new), CREATE
// INDEX except on ONLY a partitioned table (a failed build is an error,
// and a failed CONCURRENTLY build's index is dropped before the error is
// returned), ALTER TABLE that only adds columns (a column constraint
// cannot be NOT VALID) or sets defaults, DML, COMMENT, GRANT, CREATE VIEW,
// SEQUENCE, FUNCTION (not run) and enum types. Anything else (ALTER TABLE
// ... NOT VALID or VALIDATE, DROP, DO, CALL, SELECT, ...) is checked.
func plain(n *pgquery.Node) bool {
	switch {
	case n.GetCreateStmt() != nil, n.GetCommentStmt() != nil, n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil,
		n.GetDeleteStmt() != nil, n.GetViewStmt() != nil, n.GetCreateSeqStmt() != nil, n.GetGrantStmt() != nil,
		n.GetCreateFunctionStmt() != nil, n.GetCreateEnumStmt() != nil, n.GetAlterEnumStmt() != nil:
		return true
	case n.GetIndexStmt() != nil:
		rel := n.GetIndexStmt().Relation
		return rel != nil && rel.Inh
	case n.GetAlterTableStmt() != nil:
		for _, c := range n.GetAlterTableStmt().Cmds {
			cmd := c.GetAlterTableCmd()
			if cmd == nil {
				return false
			}
			switch cmd.Subtype {
			case pgquery.AlterTableType_AT_ColumnDefault:
			case pgquery.AlterTableType_AT_AddColumn:
				cd := cmd.Def.GetColumnDef()
				if cd == nil {
					return false
				}
				for _, k := range cd.Constraints {
					if con := k.GetConstraint(); con == nil || con.SkipValidation {
						return false
					}
				}
			default:
				return false
			}
		}
		return true
	}
	return false
}
