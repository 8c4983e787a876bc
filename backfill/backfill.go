// Package backfill fills new columns of existing rows in small batches. Each
// batch is its own short transaction over a bounded key range, found with an
// index scan from the last key, so the cost of a batch does not grow with
// its position in the table. The last key is checkpointed in the same
// transaction as the batch, so a crash resumes exactly where it stopped. The
// range ends at the largest key that existed when the backfill began: rows
// inserted later are handled by the sync triggers.
package backfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/internal/pgexec"
	"github.com/strata-db/strata/state"
)

// Spec says which table to fill and how.
type Spec struct {
	Schema   string
	Table    string   // physical table
	Key      []string // key columns (physical names)
	KeyTypes []string // SQL types of the key columns
	Set      string   // SET list of the batch UPDATE
}

// Progress is reported after every batch.
type Progress struct {
	Table        string
	RowsDone     int64
	RowsEstimate int64
	Batches      int
	Elapsed      time.Duration
	Done         bool
}

// Runner runs backfills.
type Runner struct {
	Exec      *pgexec.Runner
	Store     *state.Store
	Schema    string // managed schema, the checkpoint's scope
	BatchSize int
	// Progress, when set, is called after every batch.
	Progress func(Progress)
	// AfterBatch, when set, is called after every committed batch (tests
	// use it to inject crashes).
	AfterBatch func(batch int)
}

func (r *Runner) batchSize() int {
	if r.BatchSize <= 0 {
		return 1000
	}
	return r.BatchSize
}

type sqls struct {
	upper, first, next, updFirst, upd string
}

func build(s Spec) sqls {
	tq := pgx.Identifier{s.Schema, s.Table}.Sanitize()
	var key, keyText, params, paramsN []string
	for i, k := range s.Key {
		key = append(key, pgx.Identifier{k}.Sanitize())
		// Aliased so that ORDER BY sees the column, not its text form.
		keyText = append(keyText, fmt.Sprintf("%s::text AS _strata_k%d", pgx.Identifier{k}.Sanitize(), i))
		params = append(params, fmt.Sprintf("$%d::text::%s", i+1, s.KeyTypes[i]))
		paramsN = append(paramsN, fmt.Sprintf("$%d::text::%s", i+1+len(s.Key), s.KeyTypes[i]))
	}
	k := "ROW(" + strings.Join(key, ", ") + ")"
	desc := make([]string, len(key))
	for i := range key {
		desc[i] = key[i] + " DESC"
	}
	lo := "ROW(" + strings.Join(params, ", ") + ")"
	hi := "ROW(" + strings.Join(paramsN, ", ") + ")"
	if len(key) == 1 {
		k, lo, hi = key[0], params[0], paramsN[0]
	}
	sel := "SELECT " + strings.Join(keyText, ", ") + " FROM " + tq
	return sqls{
		upper: sel + " ORDER BY " + strings.Join(desc, ", ") + " LIMIT 1",
		// The end of the next batch: the batch-size-th key after the last
		// one, found by an index range scan of batch-size entries.
		first: sel + " WHERE " + k + " <= " + lo + " ORDER BY " + strings.Join(key, ", ") + " LIMIT 1 OFFSET $" + fmt.Sprint(len(key)+1),
		next: sel + " WHERE " + k + " > " + lo + " AND " + k + " <= " + hi +
			" ORDER BY " + strings.Join(key, ", ") + " LIMIT 1 OFFSET $" + fmt.Sprint(2*len(key)+1),
		updFirst: "UPDATE " + tq + " SET " + s.Set + " WHERE " + k + " <= " + lo,
		upd:      "UPDATE " + tq + " SET " + s.Set + " WHERE " + k + " > " + lo + " AND " + k + " <= " + hi,
	}
}

// Run fills the table of spec, resuming from the checkpoint of step.
func (r *Runner) Run(ctx context.Context, conn *pgx.Conn, step string, spec Spec) error {
	q := build(spec)
	cp, err := r.Store.Checkpoint(ctx, conn, r.Schema, step)
	if err != nil {
		return err
	}
	if cp == nil {
		cp = &state.Checkpoint{Step: step, Table: spec.Table}
		upper, err := scanKey(conn.QueryRow(ctx, q.upper), len(spec.Key))
		if err != nil {
			return fmt.Errorf("backfill: %s: find last key: %w", spec.Table, err)
		}
		if upper == nil {
			cp.Done = true // empty table: nothing to do
		} else {
			cp.UpperKey = upper
			var est float64
			err := conn.QueryRow(ctx, `SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass`,
				pgx.Identifier{spec.Schema, spec.Table}.Sanitize()).Scan(&est)
			if err != nil {
				return fmt.Errorf("backfill: %s: estimate rows: %w", spec.Table, err)
			}
			cp.RowsEstimate = int64(est)
		}
		if err := r.Store.SaveCheckpoint(ctx, conn, r.Schema, cp); err != nil {
			return err
		}
	}
	start := time.Now()
	batches := 0
	n := r.batchSize()
	for !cp.Done {
		next := *cp
		err := r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			next = *cp
			if _, err := tx.Exec(ctx, "SET LOCAL strata.backfill = 'on'"); err != nil {
				return err
			}
			args := append(anys(cp.LastKey), anys(cp.UpperKey)...)
			var end []*string
			var err error
			if cp.LastKey == nil {
				end, err = scanKey(tx.QueryRow(ctx, q.first, append(anys(cp.UpperKey), n-1)...), len(spec.Key))
			} else {
				end, err = scanKey(tx.QueryRow(ctx, q.next, append(args, n-1)...), len(spec.Key))
			}
			if err != nil {
				return fmt.Errorf("find batch end: %w", err)
			}
			if end == nil {
				end = cp.UpperKey
				next.Done = true
			}
			var uargs []any
			if cp.LastKey == nil {
				uargs = anys(end)
				tag, err := tx.Exec(ctx, q.updFirst, uargs...)
				if err != nil {
					return fmt.Errorf("update batch: %w", err)
				}
				next.RowsDone += tag.RowsAffected()
			} else {
				uargs = append(anys(cp.LastKey), anys(end)...)
				tag, err := tx.Exec(ctx, q.upd, uargs...)
				if err != nil {
					return fmt.Errorf("update batch: %w", err)
				}
				next.RowsDone += tag.RowsAffected()
			}
			if keyEqual(end, cp.UpperKey) {
				next.Done = true
			}
			next.LastKey = end
			return r.Store.SaveCheckpoint(ctx, tx, r.Schema, &next)
		})
		if err != nil {
			return fmt.Errorf("backfill: %s: %w", spec.Table, err)
		}
		*cp = next
		batches++
		if r.AfterBatch != nil {
			r.AfterBatch(batches)
		}
		if r.Progress != nil {
			r.Progress(Progress{Table: spec.Table, RowsDone: cp.RowsDone, RowsEstimate: cp.RowsEstimate,
				Batches: batches, Elapsed: time.Since(start), Done: cp.Done})
		}
	}
	return nil
}

func anys(k []*string) []any {
	out := make([]any, len(k))
	for i, v := range k {
		out[i] = v
	}
	return out
}

func keyEqual(a, b []*string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || (a[i] != nil && *a[i] != *b[i]) {
			return false
		}
	}
	return true
}

// scanKey reads one key as text values; nil when there is no row.
func scanKey(row pgx.Row, n int) ([]*string, error) {
	vals := make([]*string, n)
	dest := make([]any, n)
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := row.Scan(dest...); err != nil {
		if err == pgx.ErrNoRows {
			return nil, nil
		}
		return nil, err
	}
	return vals, nil
}

// BatchSQL returns the statements one batch runs after the first: finding
// the batch's end key and updating the range. Plans print them.
func BatchSQL(s Spec) []string {
	q := build(s)
	return []string{q.next, q.upd}
}
