package backfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgexec"
)

// Index rebuilds. Almost every row a backfill fills moves to another page
// (its own page is full), so each index gets a new entry per row; in key
// order the entries of a batch land on the same leaf pages as the old ones,
// which split, and a B-tree never merges the half-empty pages VACUUM leaves:
// every index ends at about twice its size, whatever the space reuse of the
// heap. After the backfill, an index that grew by more than half is rebuilt
// with REINDEX INDEX CONCURRENTLY (no lock that stops reads or writes), which
// gives the space back.

// reindexGrowth is the growth of an index above which it is rebuilt.
const reindexGrowth = 1.5

// reindexTimeout bounds one index rebuild.
var reindexTimeout = 5 * time.Minute

// indexSizes returns the size of each valid index of the table, by quoted
// name.
func indexSizes(ctx context.Context, conn *pgx.Conn, spec Spec) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_relation_size(c.oid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indrelid = $1::regclass AND i.indisvalid AND i.indisready`, pgx.Identifier{spec.Schema, spec.Table}.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("index sizes: %w", err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			rows.Close()
			return nil, fmt.Errorf("index sizes: %w", err)
		}
		out[name] = size
	}
	return out, rows.Err()
}

// rebuildGrown rebuilds the indexes that grew by more than reindexGrowth
// since before; it returns what it could not rebuild (the backfill is done
// either way: a rebuild only gives space back). With serial (the
// application is active) a rebuild uses no parallel workers: it takes one
// core, not every core PostgreSQL would give it.
func (r *Runner) rebuildGrown(ctx context.Context, conn *pgx.Conn, spec Spec, before map[string]int64, serial bool) ([]string, error) {
	var now map[string]int64
	if err := r.Exec.WithSession(ctx, conn, 0, func() error {
		var err error
		now, err = indexSizes(ctx, conn, spec)
		return err
	}); err != nil {
		return nil, err
	}
	var notes []string
	for name, b := range before {
		n, ok := now[name]
		if !ok || b <= 0 || float64(n) < reindexGrowth*float64(b) {
			continue
		}
		// Once: a failed attempt leaves an invalid copy, dropped below.
		// Bounded: it waits for every transaction older than it.
		rctx, cancel := context.WithTimeout(ctx, reindexTimeout)
		err := r.reindex(rctx, conn, name, serial)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return notes, ctx.Err()
			}
			notes = append(notes, fmt.Sprintf("index %s not rebuilt (%s)", name, pgexec.Message(err)))
			// A failed REINDEX CONCURRENTLY leaves an invalid copy named
			// <index>_ccnew[N]: drop it.
			_ = r.dropLeftovers(ctx, conn, spec)
		}
	}
	return notes, nil
}

// reindex runs REINDEX INDEX CONCURRENTLY of name once; with serial,
// without parallel workers (a session setting, reset after it).
func (r *Runner) reindex(ctx context.Context, conn *pgx.Conn, name string, serial bool) error {
	if !serial {
		return r.Exec.ExecOnce(ctx, conn, "REINDEX INDEX CONCURRENTLY "+name)
	}
	if _, err := conn.Exec(ctx, "SET max_parallel_maintenance_workers = 0"); err != nil {
		return err
	}
	err := r.Exec.ExecOnce(ctx, conn, "REINDEX INDEX CONCURRENTLY "+name)
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), "RESET max_parallel_maintenance_workers"); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func (r *Runner) dropLeftovers(ctx context.Context, conn *pgx.Conn, spec Spec) error {
	var names []string
	if err := r.Exec.WithSession(ctx, conn, 0, func() error {
		var err error
		names, err = leftovers(ctx, conn, spec)
		return err
	}); err != nil {
		return err
	}
	var errs []string
	for _, n := range names {
		if err := r.Exec.Exec(ctx, conn, "DROP INDEX CONCURRENTLY IF EXISTS "+n); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("drop invalid index copies: %s", strings.Join(errs, "; "))
	}
	return nil
}

// leftovers lists the invalid copies interrupted rebuilds left.
func leftovers(ctx context.Context, conn *pgx.Conn, spec Spec) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indrelid = $1::regclass AND NOT i.indisvalid AND c.relname ~ '_ccnew[0-9]*$'`, pgx.Identifier{spec.Schema, spec.Table}.Sanitize())
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
