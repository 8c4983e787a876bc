package backfill

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgexec"
)

// Space reuse. A backfill writes a new version of every row; without a
// VACUUM in between, none of the old versions' space can be reused and the
// table ends at about twice its size. The runner VACUUMs the table (plain
// VACUUM: no rewrite, a SHARE UPDATE EXCLUSIVE lock that lets reads and
// writes go on) each time another VacuumFraction of its rows has been
// filled, so the space of the rows already filled takes the new versions of
// the next interval and the table grows by about one interval.

// DefaultVacuumFraction is the share of a table's rows filled between two
// VACUUMs: the table grows by about this share of its size (plus the width
// of the new column). Each VACUUM scans the table's pages changed since the
// last one and every index once, so ten intervals cost about ten index scans.
const DefaultVacuumFraction = 0.1

// minVacuumRows is the smallest interval: below it a VACUUM costs more than
// the space it gives back.
const minVacuumRows = 1000

// ExpectedExtra is the extra size a backfill of a table of size bytes is
// expected to leave when space reuse is on (fraction of the rows between
// VACUUMs) or off (fraction 0 or less, or reuse blocked: the worst case,
// every row written twice).
func ExpectedExtra(size int64, fraction float64) int64 {
	if fraction <= 0 || fraction >= 1 {
		return size
	}
	return int64(float64(size) * fraction)
}

// reuse is the space-reuse state of one table's backfill, shared by its
// workers.
type reuse struct {
	r        *Runner
	spec     Spec
	interval int64 // rows between VACUUMs; 0: off

	mu        sync.Mutex
	sinceLast int64  // rows filled since the last VACUUM
	firstXid  string // xid of the first batch since the last VACUUM ("" before it)
	blocked   string // what keeps the space from being reused, "" when nothing
	sizeNow   int64
	vacuums   int
}

func newReuse(r *Runner, spec Spec, est float64) *reuse {
	u := &reuse{r: r, spec: spec}
	f := r.vacuumFraction()
	if f > 0 && est > 0 {
		u.interval = max(int64(est*f), minVacuumRows)
	}
	return u
}

func (r *Runner) vacuumFraction() float64 {
	switch {
	case r.VacuumFraction < 0:
		return 0
	case r.VacuumFraction == 0:
		return DefaultVacuumFraction
	}
	return r.VacuumFraction
}

// needXid says whether the next batch should record its transaction id (the
// first batch of an interval: a session whose snapshot is older blocks the
// reuse of the whole interval's space).
func (u *reuse) needXid() bool {
	if u.interval == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.firstXid == ""
}

// done records a committed batch; it returns true when the interval is full
// and this worker should VACUUM.
func (u *reuse) done(rows int64, xid string) bool {
	if u.interval == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if xid != "" && u.firstXid == "" {
		u.firstXid = xid
	}
	u.sinceLast += rows
	if u.sinceLast < u.interval {
		return false
	}
	u.sinceLast = 0
	return true
}

// vacuum VACUUMs the table on conn (outside any transaction, with strata's
// session settings; SKIP_LOCKED, so that it never queues for its lock behind
// an autovacuum or DDL: that interval is then left to the next one), then
// looks for what keeps the space of the interval's rows from being reused.
func (u *reuse) vacuum(ctx context.Context, conn *pgx.Conn) error {
	u.mu.Lock()
	xid := u.firstXid
	u.firstXid = ""
	u.mu.Unlock()
	tq := pgx.Identifier{u.spec.Schema, u.spec.Table}.Sanitize()
	lt := pgexec.DefaultLockTimeout
	if u.r.Exec != nil && u.r.Exec.LockTimeout > 0 {
		lt = u.r.Exec.LockTimeout
	}
	// The queries after it too: a role's statement_timeout must not
	// cancel them.
	blocked := ""
	var size int64
	err := u.r.Exec.WithSession(ctx, conn, lt, func() error {
		if _, err := conn.Exec(ctx, u.vacuumSQL()+tq); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
		var err error
		if xid != "" {
			if blocked, err = ReuseBlockers(ctx, conn, xid); err != nil {
				return err
			}
			if blocked != "" {
				// A statement of the application that took its snapshot
				// while the interval's last batch ran is still running
				// (a short interval, the last one often is): it has ended
				// a moment later, a long transaction has not. Asked again
				// once the lock timeout has passed.
				if err := sleepCtx(ctx, lt); err != nil {
					return err
				}
				if blocked, err = ReuseBlockers(ctx, conn, xid); err != nil {
					return err
				}
			}
		}
		size, err = tableSize(ctx, conn, u.spec)
		return err
	})
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.blocked, u.sizeNow = blocked, size
	u.vacuums++
	u.mu.Unlock()
	return nil
}

// vacuumSQL is the VACUUM of space reuse: SKIP_LOCKED; TRUNCATE false,
// so that it never takes the ACCESS EXCLUSIVE lock of a truncation; and,
// when the indexes are rebuilt after the backfill, INDEX_CLEANUP OFF: the
// rows' space is freed by pruning (leaving a 4-byte line pointer each) without
// scanning every index at each interval; the rebuilt index has no entries
// for them, and the next VACUUM with index cleanup frees the line pointers.
func (u *reuse) vacuumSQL() string {
	if u.r.NoReindex {
		return "VACUUM (SKIP_LOCKED, TRUNCATE false) "
	}
	return "VACUUM (SKIP_LOCKED, TRUNCATE false, INDEX_CLEANUP OFF) "
}

func (u *reuse) status() (string, int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.blocked, u.sizeNow
}

// ReuseBlockers names what keeps the rows deleted by transaction xid (and
// later) from being removed by VACUUM, "" when nothing does: sessions of
// this database (or walsenders with hot_standby_feedback) whose snapshot or
// transaction is older, replication slots holding an older xmin, prepared
// transactions that are older. pid and xmin of pg_stat_activity are visible
// to every role.
func ReuseBlockers(ctx context.Context, conn *pgx.Conn, xid string) (string, error) {
	rows, err := conn.Query(ctx, `
WITH x AS (SELECT ($1::bigint % 4294967296)::text::xid AS xid)
SELECT kind, who, detail FROM (
	SELECT 1 AS o, 'pid' AS kind, a.pid::text AS who,
		concat_ws(', ', nullif(a.usename, ''), CASE WHEN coalesce(a.application_name, '') <> '' THEN 'application ' || a.application_name END,
			coalesce(a.state, a.backend_type) || CASE WHEN a.xact_start IS NOT NULL
				THEN ', transaction open ' || round(extract(epoch FROM clock_timestamp() - a.xact_start)::numeric, 1) || 's' ELSE '' END) AS detail,
		age(coalesce(a.backend_xmin, a.backend_xid)) AS a
	FROM pg_stat_activity a, x
	WHERE a.pid <> pg_backend_pid() AND (a.datid IS NULL OR a.datname = current_database())
		AND coalesce(a.backend_xmin, a.backend_xid) IS NOT NULL
		AND age(coalesce(a.backend_xmin, a.backend_xid)) >= age(x.xid)
	UNION ALL
	SELECT 2, 'replication slot', s.slot_name::text, s.slot_type || CASE WHEN s.active THEN ', active' ELSE ', inactive' END, age(s.xmin)
	FROM pg_replication_slots s, x
	WHERE s.xmin IS NOT NULL AND age(s.xmin) >= age(x.xid)
	UNION ALL
	SELECT 3, 'prepared transaction', p.gid, 'prepared at ' || p.prepared::text, age(p.transaction)
	FROM pg_prepared_xacts p, x
	WHERE (p.database = current_database()) AND age(p.transaction) >= age(x.xid)
) b ORDER BY o, a DESC LIMIT 5`, xid)
	if err != nil {
		return "", fmt.Errorf("find what blocks space reuse: %w", err)
	}
	var parts []string
	var hint string
	for rows.Next() {
		var kind, who, detail string
		if err := rows.Scan(&kind, &who, &detail); err != nil {
			rows.Close()
			return "", fmt.Errorf("find what blocks space reuse: %w", err)
		}
		switch kind {
		case "pid":
			parts = append(parts, fmt.Sprintf("pid %s (%s) holds a snapshot older than the backfill's updates", who, detail))
			if hint == "" {
				hint = fmt.Sprintf("end that transaction, or SELECT pg_terminate_backend(%s)", who)
			}
		case "replication slot":
			parts = append(parts, fmt.Sprintf("replication slot %q (%s) holds an older xmin", who, detail))
			if hint == "" {
				hint = fmt.Sprintf("let the slot's consumer catch up, or SELECT pg_drop_replication_slot(%s)", quoteLiteral(who))
			}
		default:
			parts = append(parts, fmt.Sprintf("prepared transaction %q (%s) is older", who, detail))
			if hint == "" {
				hint = fmt.Sprintf("COMMIT PREPARED or ROLLBACK PREPARED %s", quoteLiteral(who))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("find what blocks space reuse: %w", err)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return "space cannot be reused, the table grows: " + strings.Join(parts, "; ") + "; hint: " + hint, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fillSpace sets the space fields of a progress report.
func (t *tracker) fillSpace(p *Progress) {
	if t.reuse == nil {
		return
	}
	p.SpaceBlocked, p.SizeNow = t.reuse.status()
	t.reuse.mu.Lock()
	p.Vacuums = t.reuse.vacuums
	t.reuse.mu.Unlock()
	f := 0.0
	if t.reuse.interval > 0 && t.estimate > 0 {
		f = float64(t.reuse.interval) / float64(t.estimate)
	}
	if p.SpaceBlocked != "" {
		f = 0
	}
	p.ExpectedExtra = ExpectedExtra(t.sizeBefore, f)
}

// CountText renders a count for people, with thousands separators
// (4,700,000): the form of every row count strata prints.
func CountText(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// BytesText renders a size for people (B, KiB, MiB, GiB, one decimal): the
// form of every size strata prints about a backfill's space.
func BytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
