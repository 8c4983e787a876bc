package backfill

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pacing for the application's latency. At the end of each batch, before it
// commits (while it still holds its row locks), one query reads from
// pg_stat_activity how many sessions of the application wait for a lock the
// batch holds, how many are running a statement and how long the oldest of
// those has been running. Then:
//
//   - sessions waited on the batch: the target batch duration halves (down
//     to minTarget), since a row lock is held for a whole batch; it grows
//     back by a quarter per batch nobody waited on;
//   - with MaxAppLatency, the target is at most half of it, and a statement
//     of the application running longer than it makes the next pause longer;
//   - while the application is active (seen in the last appBusyWindow), the
//     target is at most appTarget: a batch holds its row locks, and the
//     server's CPU, for a shorter time, so an application statement that
//     meets it waits less;
//   - while the application is active, the worker rests after each batch,
//     and after each VACUUM of space reuse, for AppRest times its duration,
//     leaving the application's backends the CPU and I/O it took; the index
//     rebuild after the backfill then runs without parallel workers (one
//     core, not all of them).
//
// An idle database gets the full speed.

const (
	minTarget     = 10 * time.Millisecond
	appTarget     = 50 * time.Millisecond
	appBusyWindow = 2 * time.Second
	// DefaultAppRest is the default Runner.AppRest.
	DefaultAppRest = 1.0
)

const appQuery = `SELECT
	count(*) FILTER (WHERE CASE WHEN wait_event_type = 'Lock' THEN pg_backend_pid() = ANY (pg_blocking_pids(pid)) ELSE false END),
	count(*) FILTER (WHERE state = 'active'),
	coalesce(max(extract(epoch FROM clock_timestamp() - query_start)) FILTER (WHERE state = 'active'), 0)::float8
FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND datname = current_database()
	AND coalesce(application_name, '') NOT LIKE 'strata%'`

type pace struct {
	r         *Runner
	base      time.Duration
	target    time.Duration
	busyUntil time.Time
	// last observation
	waiters, active int64
	oldest          time.Duration
}

func newPace(r *Runner) *pace {
	base := r.target()
	if r.MaxAppLatency > 0 && base > 0 && base > r.MaxAppLatency/2 {
		base = max(r.MaxAppLatency/2, minTarget)
	}
	return &pace{r: r, base: base, target: base}
}

func (p *pace) on() bool { return p.r.AppRest >= 0 || p.r.MaxAppLatency > 0 }

// observe runs the application query on the batch's transaction.
func (p *pace) observe(ctx context.Context, tx pgx.Tx) error {
	if !p.on() {
		return nil
	}
	var age float64
	if err := tx.QueryRow(ctx, appQuery).Scan(&p.waiters, &p.active, &age); err != nil {
		return err
	}
	p.oldest = time.Duration(age * float64(time.Second))
	return nil
}

// after adapts the target to the last observation and returns the pause
// before the next batch.
func (p *pace) after(took time.Duration) time.Duration {
	if !p.on() || p.base <= 0 {
		return 0
	}
	if p.waiters > 0 {
		p.target = max(p.target/2, minTarget)
	} else if p.target < p.base {
		p.target = min(p.target*5/4+time.Millisecond, p.base)
	}
	now := time.Now()
	if p.waiters > 0 || p.active > 0 {
		p.busyUntil = now.Add(appBusyWindow)
	}
	if now.After(p.busyUntil) {
		return 0
	}
	return p.restFor(took)
}

// busy says whether the application was active in the last appBusyWindow.
func (p *pace) busy() bool { return p.on() && time.Now().Before(p.busyUntil) }

// batchTarget is the batch duration the size aims at: the adapted target,
// at most appTarget while the application is active.
func (p *pace) batchTarget() time.Duration {
	if p.busy() && p.target > appTarget {
		return max(appTarget, minTarget)
	}
	return p.target
}

// restAfter is the pause after other work of the backfill (a VACUUM) that
// took took: a rest while the application is active, else none.
func (p *pace) restAfter(took time.Duration) time.Duration {
	if !p.busy() {
		return 0
	}
	return p.restFor(took)
}

// restFor is the rest after took of work while the application is active.
func (p *pace) restFor(took time.Duration) time.Duration {
	rest := p.r.AppRest
	if rest == 0 {
		rest = DefaultAppRest
	}
	if rest < 0 {
		rest = 0
	}
	if p.r.MaxAppLatency > 0 && p.oldest > p.r.MaxAppLatency {
		rest = max(rest*2, 1)
	}
	return time.Duration(float64(took) * rest)
}
