package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgexec"
)

// RowError is a batch that failed on one row (a cast or an expression
// that fails for its values, a constraint it violates): the row's key, found
// by bisecting the batch's key range.
type RowError struct {
	Table  string
	Key    []string  // key columns
	Values []*string // the row's key values, as text
	Err    error     // the batch's error
}

// KeyText renders the key as PostgreSQL does in its messages:
// key (id)=(77001).
func KeyText(cols []string, vals []*string) string {
	vs := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			vs[i] = "null"
		} else {
			vs[i] = *v
		}
	}
	return "key (" + strings.Join(cols, ", ") + ")=(" + strings.Join(vs, ", ") + ")"
}

func (e *RowError) Error() string {
	return fmt.Sprintf("row %s: %v", KeyText(e.Key, e.Values), e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// locate finds the first row of the failed batch starting after cp.LastKey
// that makes the batch fail, in a transaction it rolls back: it lists the
// keys of the batch's range and bisects it, running the batch's statement
// over ever shorter prefixes, each under a savepoint it rolls back. It
// returns nil when no prefix fails (the batch failed for another reason).
func (r *Runner) locate(ctx context.Context, conn *pgx.Conn, spec Spec, q queries, cp *Checkpoint, size int, mode string) ([]*string, error) {
	n := len(spec.Key)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "SET LOCAL strata.backfill = '"+mode+"'"); err != nil {
		return nil, err
	}
	var rows pgx.Rows
	if cp.LastKey == nil {
		rows, err = tx.Query(ctx, q.listFirst, append(anys(cp.UpperKey), size)...)
	} else {
		rows, err = tx.Query(ctx, q.list, append(append(anys(cp.LastKey), anys(cp.UpperKey)...), size)...)
	}
	if err != nil {
		return nil, fmt.Errorf("list the batch's keys: %w", err)
	}
	var keys [][]*string
	for rows.Next() {
		vals := make([]*string, n)
		dest := make([]any, n)
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the batch's keys: %w", err)
	}
	// fails reports whether the batch's statement fails over the range
	// from cp.LastKey to keys[i].
	fails := func(i int) (bool, error) {
		if _, err := tx.Exec(ctx, "SAVEPOINT strata_locate"); err != nil {
			return false, err
		}
		var err error
		if cp.LastKey == nil {
			_, err = tx.Exec(ctx, q.updFirst, anys(keys[i])...)
		} else {
			_, err = tx.Exec(ctx, q.upd, append(anys(cp.LastKey), anys(keys[i])...)...)
		}
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT strata_locate"); rerr != nil {
			return false, rerr
		}
		if err != nil && pgexec.Interrupted(err) {
			return false, err
		}
		return err != nil, nil
	}
	if len(keys) == 0 {
		return nil, nil
	}
	bad, err := fails(len(keys) - 1)
	if err != nil || !bad {
		return nil, err
	}
	// The smallest i whose prefix fails: keys[i] is the failing row.
	lo, hi := 0, len(keys)-1
	for lo < hi {
		mid := (lo + hi) / 2
		bad, err := fails(mid)
		if err != nil {
			return nil, err
		}
		if bad {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return keys[lo], nil
}

// rowError names the failing row of a batch that failed on an error about
// its data; other errors are returned as they are.
func (r *Runner) rowError(ctx context.Context, conn *pgx.Conn, spec Spec, q queries, cp *Checkpoint, size int, mode string, err error) error {
	if len(spec.Key) == 0 || pgexec.Interrupted(err) || ctx.Err() != nil {
		return err
	}
	key, lerr := r.locate(ctx, conn, spec, q, cp, size, mode)
	if lerr != nil || key == nil {
		if lerr != nil && !errors.Is(lerr, context.Canceled) {
			return fmt.Errorf("%w (finding the failing row failed: %v)", err, lerr)
		}
		return err
	}
	return &RowError{Table: spec.Table, Key: spec.Key, Values: key, Err: err}
}
