package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/sqlrun"
	"github.com/stratapg/strata/state"
)

// Exclusion. A command that changes something holds the state schema's
// advisory lock on a connection of its own (the lock connection), for the
// whole command, and claims the state schema's lease (a row naming
// its run) right after. The lock keeps a second strata out; the lease
// stops a first one that lost its lock without noticing:
//
//   - the lock is a transaction advisory lock, in a transaction that stays
//     open on the lock connection for the whole command, so it holds
//     through a transaction pooler too (which keeps one server connection
//     for an open transaction); the transaction turns off the server's
//     timeouts for itself and is pinged every keepaliveEvery; a failed ping (the backend was
//     terminated, the network is gone) or a lock no longer held cancels
//     the command at once;
//   - every step commit and every backfill batch checks, in its own
//     transaction, that the lock connection's backend still holds the lock
//     (pg_locks), and that the lease still names this run, locking the
//     lease row until the commit: a second strata's claim waits for that
//     commit, or the write sees the claim and rolls back.
//
// So a second strata acts only after the first one's last write committed.

// keepaliveEvery is how often the lock connection is pinged.
var keepaliveEvery = time.Second

// ErrLockLost is matched (errors.Is) by the error of a command that lost
// its exclusion lock (a *LockLostError): it stopped, nothing it wrote after
// the loss was committed, and the phase can be resumed.
var ErrLockLost = errors.New("strata lost its lock")

// LockLostError says that a command stopped because it lost its lock.
type LockLostError struct {
	StateSchema string
	Command     string // "start", "complete", "abort", "migrate" or "init"
	Step        string // the step that was running, if any
	Reason      string
	Err         error
}

func (e *LockLostError) Error() string {
	where := ""
	if e.Step != "" {
		where = fmt.Sprintf(" during step %q", e.Step)
	}
	return fmt.Sprintf("strata lost its lock on schema %s%s: %s; it stopped, and nothing it wrote after that was committed; "+
		"hint: check with strata status that no other strata is running, then run strata %s again to resume",
		e.StateSchema, where, e.Reason, e.Command)
}

func (e *LockLostError) Unwrap() []error { return []error{ErrLockLost, e.Err} }

// BusyError says that another strata holds the lock; Holder is what it
// recorded about itself (nil when it has not recorded it yet).
type BusyError struct {
	StateSchema string
	BackendPID  int
	Holder      *state.Holder
	Err         error // the *pgexec.BusyError
}

func (e *BusyError) Error() string {
	who := fmt.Sprintf("server backend pid %d", e.BackendPID)
	if h := e.Holder; h != nil {
		who = fmt.Sprintf("pid %d, host %s, started %s, running %s", h.PID, h.Host, h.StartedAt.Local().Format(time.RFC3339), h.Command)
		if h.Schema != "" {
			who += " on schema " + h.Schema
		}
		if h.RunID != "" {
			who += ", run " + h.RunID
		}
	}
	return fmt.Sprintf("another strata (%s) holds the lock on schema %s; "+
		"hint: wait for it to finish (strata status shows its progress), or pass --lock-wait to wait for it", who, e.StateSchema)
}

func (e *BusyError) Unwrap() error { return e.Err }

// errLockGone is the cause of a session's cancelled context, and the
// error of a check that found the lock gone.
type errLockGone struct{ reason string }

func (e *errLockGone) Error() string { return "the lock is gone: " + e.reason }

// session is one command's pair of connections: one holds the advisory
// lock for the whole command, the other does the work.
type session struct {
	lock, conn *pgx.Conn
	key        int64
	command    string
	gated      bool // the pending .sql migrations passed the SQLGate
	pooled     bool // the connections go through a transaction pooler
	sqlReady   bool // a .sql migration's record committed: state schema current, lease claimed
	sqlRunner  *sqlrun.Runner
	mon        *pgexec.Monitor // names blockers of strata's statements; closed with the session
	warm       chan struct{}   // closed once the monitor's connection is open (or failed)
	st         *state.Store    // writes check the lease of this run
	holder     state.Holder

	ctx    context.Context // cancelled, with an *errLockGone cause, when the lock is lost
	cancel context.CancelCauseFunc
	mu     sync.Mutex // the lock connection
	stop   chan struct{}
	done   chan struct{}
}

func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *Migrator) open(ctx context.Context, command string) (*session, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	// The work connection's server backend, outside a transaction: see
	// pooled below.
	var workPID int
	var workStart time.Time
	if err := conn.QueryRow(ctx, backendQuery).Scan(&workPID, &workStart); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("read the work connection's backend: %w", err)
	}
	// The lock connection sends every query with the simple protocol: an
	// extended-protocol query leaves its unnamed portal, and the snapshot
	// the portal holds, until the next query, and in the lock's open
	// transaction that snapshot would hold back VACUUM and make every
	// CREATE INDEX CONCURRENTLY wait for strata's own lock connection.
	lockCfg := m.cfg.Copy()
	lockCfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	lock, err := pgx.ConnectConfig(ctx, lockCfg)
	if err != nil {
		err = pgerr.Connect(err, "")
		conn.Close(context.Background())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "53300" { // too_many_connections
			return nil, fmt.Errorf("strata needs two connections to the database (one holds its lock, one does the work; plus one per backfill worker beyond the first), and the second was refused: %w\nhint: raise the role's or database's CONNECTION LIMIT (or the pooler's pool size for strata's role) to at least 2", err)
		}
		return nil, err
	}
	key := pgexec.AdvisoryKey(m.opts.StateSchema)
	host, _ := os.Hostname()
	// Who holds the lock is readable before the lease is claimed (and on a
	// database without a state schema yet): in the lock transaction's
	// application_name (SET LOCAL: nothing outlives it on a pooler).
	setup := lockConnSettings + "; SELECT set_config('application_name', " +
		pgquery.Literal(holderTag(os.Getpid(), host, time.Now(), command)) + ", true)"
	if err := pgexec.LockTx(ctx, lock, key, m.opts.LockWait, setup); err != nil {
		err = m.busy(ctx, lock, err)
		lock.Close(context.Background())
		conn.Close(context.Background())
		return nil, err
	}
	s := &session{lock: lock, conn: conn, key: key, command: command,
		st:     &state.Store{Schema: m.opts.StateSchema, RunID: newRunID()},
		holder: state.Holder{PID: os.Getpid(), Host: host, Command: command, Schema: m.opts.Schema}}
	s.holder.RunID = s.st.RunID
	// In the lock's transaction: the backend that holds the lock.
	if err := lock.QueryRow(ctx, `SELECT pg_backend_pid(), backend_start, now() FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&s.holder.BackendPID, &s.holder.BackendStart, &s.holder.StartedAt); err != nil {
		lock.Close(context.Background())
		conn.Close(context.Background())
		return nil, fmt.Errorf("read the lock connection's backend: %w", err)
	}
	// A transaction pooler gives a client a server connection for one
	// transaction at a time. The lock connection's transaction keeps its
	// server connection; the work connection may reach another one with
	// each statement outside a transaction. pgbouncer hands out the server
	// connection used last, so the lock connection then got the work
	// connection's backend; else the work connection's next statement
	// reaches another backend than before (its own is never the lock's on
	// a direct connection or through a session pooler).
	s.pooled = workPID == s.holder.BackendPID && workStart.Equal(s.holder.BackendStart)
	if !s.pooled {
		var pid int
		var start time.Time
		if err := conn.QueryRow(ctx, backendQuery).Scan(&pid, &start); err != nil {
			lock.Close(context.Background())
			conn.Close(context.Background())
			return nil, fmt.Errorf("read the work connection's backend: %w", err)
		}
		s.pooled = pid != workPID || !start.Equal(workStart)
	}
	if s.pooled {
		m.logf("strata's connections go through a transaction pooler: its lock is held in a transaction that stays open; statements that cannot run in a transaction are refused")
	}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.keepalive()
	// Open the monitor's connection now, in the background, so that the
	// first statement that waits for a lock finds out its blockers at
	// once (see pgexec.FirstLockTimeout). Without it, strata still works.
	s.mon, s.warm = m.exec.Monitor, make(chan struct{})
	go func() {
		defer close(s.warm)
		if s.mon != nil {
			_ = s.mon.Do(s.ctx, func(*pgx.Conn) error { return nil })
		}
	}()
	// Claim the lease before reading anything: a strata that lost the lock
	// cannot commit after this. Without a state schema there is nothing to
	// protect yet; the transaction that installs it claims it (claim).
	installed, err := m.store.Installed(ctx, s.conn)
	if err == nil && installed {
		err = m.exec.InTx(s.ctx, s.conn, s.claim)
	}
	if err != nil {
		s.close()
		return nil, s.wrap(err)
	}
	return s, nil
}

// backendQuery reads the connection's server backend: its pid and start.
const backendQuery = `SELECT pg_backend_pid(), backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`

// lockConnSettings start the lock connection's transaction: no idle or
// statement timeout of the server's, a role's or a database's ends it
// (transaction_timeout exists from PostgreSQL 17 on), and the server
// notices a vanished client sooner, freeing the lock. All are SET LOCAL:
// nothing outlives the transaction on a pooler's server connection.
const lockConnSettings = "SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL statement_timeout = 0; " +
	"SET LOCAL tcp_keepalives_idle = 10; SET LOCAL tcp_keepalives_interval = 5; SET LOCAL tcp_keepalives_count = 3; " +
	"SELECT set_config('transaction_timeout', '0', true) WHERE current_setting('server_version_num')::int >= 170000"

// claim moves the state schema to this release's layout (an installation
// from before lacks the lease table, or the columns of layout 4) and claims
// the lease, on tx.
func (s *session) claim(tx pgx.Tx) error {
	ok, err := s.st.Current(s.ctx, tx)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.st.Init(s.ctx, tx); err != nil {
			return err
		}
	}
	if err := s.verify(s.ctx, tx); err != nil {
		return err
	}
	return s.st.Claim(s.ctx, tx, s.holder)
}

// busy turns pgexec's ErrBusy into a *BusyError naming the holder.
func (m *Migrator) busy(ctx context.Context, lock *pgx.Conn, err error) error {
	var be *pgexec.BusyError
	if !errors.As(err, &be) {
		return err
	}
	out := &BusyError{StateSchema: m.opts.StateSchema, BackendPID: be.BackendPID, Err: err}
	// The holder claims the lease right after it took the lock: give it a
	// moment to record who it is.
	for deadline := time.Now().Add(time.Second); ; {
		h, lerr := m.store.Lease(ctx, lock)
		if lerr != nil || h == nil || (h.BackendPID != be.BackendPID && time.Now().After(deadline)) {
			// No lease (yet) for that backend: its application_name
			// says who it is.
			out.Holder = holderFromTag(ctx, lock, be.BackendPID)
			return out
		}
		if h.BackendPID == be.BackendPID {
			out.Holder = h
			return out
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keepalive pings the lock connection until close, cancelling the session
// when the lock is gone.
func (s *session) keepalive() {
	defer close(s.done)
	t := time.NewTicker(keepaliveEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if err := s.ping(); err != nil {
			s.cancel(err)
			return
		}
	}
}

// ping checks on the lock connection that its backend holds the lock.
func (s *session) ping() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	var held bool
	err := s.lock.QueryRow(ctx, pgexec.HeldQuery, s.key, s.holder.BackendPID, s.holder.BackendStart).Scan(&held)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil // closing
		}
		return &errLockGone{reason: "its connection failed: " + pgexec.Message(err)}
	}
	if !held {
		return &errLockGone{reason: "its connection's backend no longer holds it"}
	}
	return nil
}

// quiet runs fn with the lock connection idle: no keepalive ping runs
// meanwhile. A statement outside a transaction (CREATE or DROP INDEX
// CONCURRENTLY, ...) waits for every transaction that had a snapshot when
// it looked, to its end; a ping running at that instant has one, and the
// lock's transaction only ends with the command, so the statement would
// wait until its deadline. Losing the lock meanwhile is still caught: each
// step's record checks it (verify).
func (s *session) quiet(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn()
}

// verify checks, on q (the transaction about to commit a step or a
// batch), that the lock connection's backend still holds the lock.
func (s *session) verify(ctx context.Context, q state.Querier) error {
	if cause := context.Cause(s.ctx); cause != nil {
		var gone *errLockGone
		if errors.As(cause, &gone) {
			return gone
		}
	}
	var held bool
	if err := q.QueryRow(ctx, pgexec.HeldQuery, s.key, s.holder.BackendPID, s.holder.BackendStart).Scan(&held); err != nil {
		return fmt.Errorf("check the lock: %w", err)
	}
	if !held {
		return &errLockGone{reason: fmt.Sprintf("server backend %d of its lock connection no longer holds it", s.holder.BackendPID)}
	}
	return nil
}

// wrap turns an error caused by the loss of the lock into a
// *LockLostError; other errors pass.
func (s *session) wrap(err error) error {
	if err == nil {
		return nil
	}
	var gone *errLockGone
	reason := ""
	switch {
	case errors.As(err, &gone):
		reason = gone.reason
	case errors.Is(err, state.ErrLeaseLost):
		reason = "another strata took over the state schema (" + err.Error() + ")"
	case s.ctx.Err() != nil && errors.As(context.Cause(s.ctx), &gone):
		reason = gone.reason
	default:
		return err
	}
	out := &LockLostError{StateSchema: s.st.Schema, Command: s.command, Reason: reason, Err: err}
	var se *StepError
	if errors.As(err, &se) {
		out.Step = se.Step
	}
	return out
}

func (s *session) close() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.cancel(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.conn != nil {
		s.conn.Close(ctx)
	}
	_ = pgexec.UnlockTx(ctx, s.lock)
	s.lock.Close(ctx)
	if s.warm != nil {
		<-s.warm
	}
	if s.mon != nil {
		s.mon.Close()
	}
}

// guardedStore is the session's store for backfills: each batch's
// checkpoint checks, in the batch's transaction, the lock and the lease.
type guardedStore struct{ s *session }

func (g guardedStore) Checkpoints(ctx context.Context, q backfill.Querier, schema string) ([]backfill.Checkpoint, error) {
	return g.s.st.Checkpoints(ctx, q, schema)
}

func (g guardedStore) SaveCheckpoint(ctx context.Context, q backfill.Querier, schema string, c *backfill.Checkpoint) error {
	if err := g.s.verify(ctx, q); err != nil {
		return err
	}
	return g.s.st.SaveCheckpoint(ctx, q, schema, c)
}

// holderTag renders who holds the lock for the lock connection's
// application_name (at most 63 bytes: the host is cut).
func holderTag(pid int, host string, started time.Time, command string) string {
	head := fmt.Sprintf("strata lock %d %d %s ", pid, started.Unix(), command)
	if room := 63 - len(head); len(host) > room {
		host = host[:max(room, 0)]
	}
	return head + host
}

// holderFromTag reads the holderTag of the server backend pid; nil when it
// has none.
func holderFromTag(ctx context.Context, conn *pgx.Conn, pid int) *state.Holder {
	var tag string
	if err := conn.QueryRow(ctx, `SELECT application_name FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&tag); err != nil {
		return nil
	}
	f := strings.Fields(tag)
	if len(f) < 5 || f[0] != "strata" || f[1] != "lock" {
		return nil
	}
	p, err1 := strconv.Atoi(f[2])
	sec, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &state.Holder{PID: p, StartedAt: time.Unix(sec, 0), Command: f[4], Host: strings.Join(f[5:], " "), BackendPID: pid}
}
