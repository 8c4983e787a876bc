package pgexec

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Blocker is a session that made one of strata's statements wait for a
// lock, as pg_blocking_pids and pg_stat_activity showed it.
type Blocker struct {
	PID             int
	ApplicationName string
	State           string
	XactStart       *time.Time // nil when this role may not see it
	QueryStart      *time.Time
	Query           string
}

func (b Blocker) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "pid %d", b.PID)
	if b.ApplicationName != "" {
		fmt.Fprintf(&s, " (application_name %q)", b.ApplicationName)
	}
	if b.State != "" {
		fmt.Fprintf(&s, ", %s", b.State)
	}
	if b.XactStart != nil {
		fmt.Fprintf(&s, ", transaction started %s", b.XactStart.Format("15:04:05.000"))
	}
	if b.QueryStart != nil {
		fmt.Fprintf(&s, ", last query started %s", b.QueryStart.Format("15:04:05.000"))
	}
	if b.Query != "" {
		fmt.Fprintf(&s, ": %s", b.Query)
	}
	return s.String()
}

// Blockers renders a list of blockers for a message.
func Blockers(bs []Blocker) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.String()
	}
	return strings.Join(parts, "; ")
}

// Monitor looks at other sessions on a connection of its own: which
// sessions block a backend, and whether they are still in the transaction
// that blocked it. Its methods are safe for concurrent use.
type Monitor struct {
	// Connect opens the monitor's connection (once, and again after Close
	// or a failure).
	Connect func(ctx context.Context) (*pgx.Conn, error)

	mu   sync.Mutex
	conn *pgx.Conn
}

func (m *Monitor) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	if m == nil || m.Connect == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn == nil || m.conn.IsClosed() {
		c, err := m.Connect(ctx)
		if err != nil {
			return err
		}
		m.conn = c
	}
	err := fn(m.conn)
	if err != nil && ctx.Err() == nil {
		// A broken connection is opened afresh next time.
		m.conn.Close(context.Background())
		m.conn = nil
	}
	return err
}

// Close closes the monitor's connection (it is opened again when needed).
func (m *Monitor) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m.conn.Close(ctx)
		m.conn = nil
	}
}

// BlockersOf returns the sessions that block backend pid (none when it does
// not wait for a lock).
func (m *Monitor) BlockersOf(ctx context.Context, pid uint32) ([]Blocker, error) {
	var out []Blocker
	err := m.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''),
				a.xact_start, a.query_start, left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 100)
			FROM unnest(pg_blocking_pids($1)) AS b(pid) JOIN pg_stat_activity a ON a.pid = b.pid
			ORDER BY a.xact_start NULLS LAST, a.pid`, int(pid))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Blocker, error) {
			var b Blocker
			err := r.Scan(&b.PID, &b.ApplicationName, &b.State, &b.XactStart, &b.QueryStart, &b.Query)
			return b, err
		})
		return err
	})
	return out, err
}

// StillBlocking reports whether one of bs is still in the transaction it
// was in when it blocked strata: its locks are then still held, and trying
// again would only queue strata (and the application behind it) for another
// lock timeout. A blocker whose transaction start this role may not see
// counts as gone.
func (m *Monitor) StillBlocking(ctx context.Context, bs []Blocker) (bool, error) {
	var pids []int
	var starts []time.Time
	for _, b := range bs {
		if b.XactStart != nil {
			pids = append(pids, b.PID)
			starts = append(starts, *b.XactStart)
		}
	}
	if len(pids) == 0 {
		return false, nil
	}
	var alive bool
	err := m.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT FROM unnest($1::int[], $2::timestamptz[]) AS b(pid, xs)
			JOIN pg_stat_activity a ON a.pid = b.pid AND a.xact_start = b.xs)`, pids, starts).Scan(&alive)
	})
	return alive, err
}

// Do runs fn on the monitor's connection (for a question of the caller's
// own about other sessions).
func (m *Monitor) Do(ctx context.Context, fn func(*pgx.Conn) error) error {
	return m.with(ctx, fn)
}
