package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Default watch windows (documented in docs/cli.md).
const (
	// DefaultClientsWatch is how long `strata clients` samples.
	DefaultClientsWatch = 10 * time.Second
	// DefaultCompleteWatch is how long `strata complete` samples before it
	// changes anything.
	DefaultCompleteWatch = 2 * time.Second
	// DefaultClientsInterval is the time between two samples.
	DefaultClientsInterval = 100 * time.Millisecond
)

// Which version a VersionClients is about.
const (
	VersionOld    = "old"    // the phase's old version
	VersionNew    = "new"    // the phase's new version
	VersionLatest = "latest" // no phase: the latest completed migration's version
)

// Clients is what a watch saw: per version, the sessions seen using it. Its
// JSON form is part of strata's command-line contract (`strata clients
// --json`).
type Clients struct {
	Schema string `json:"schema"` // the managed schema
	State  string `json:"state"`  // "idle" or "in_progress"
	// PhaseStartedAt is when the phase in progress began; sessions
	// connected before it are "probably old".
	PhaseStartedAt *time.Time `json:"phase_started_at,omitempty"`
	WatchSeconds   float64    `json:"watch_seconds"`
	Samples        int        `json:"samples"`
	// Versions: while in progress the old then the new version; when idle
	// the latest completed version, if any.
	Versions []VersionClients `json:"versions"`
}

// VersionClients lists the sessions seen using one version.
type VersionClients struct {
	Version string `json:"version"` // VersionOld, VersionNew or VersionLatest
	// Schema is the version schema, or the managed schema when BaseTables.
	Schema string `json:"schema"`
	// BaseTables is true for an old version that uses the base tables
	// (the phase of the first migration).
	BaseTables bool `json:"base_tables"`
	// Sessions, ordered by pid: first those seen using the version, then
	// the probably old ones.
	Sessions []Session `json:"sessions"`
}

// Session is one PostgreSQL session (backend). Fields that
// pg_stat_activity hides from strata's role (without pg_read_all_stats) are
// empty or null.
type Session struct {
	PID             int32      `json:"pid"`
	Role            string     `json:"role"`
	ApplicationName string     `json:"application_name"`
	ClientAddr      *string    `json:"client_addr"` // null: a Unix socket, or hidden
	BackendStart    *time.Time `json:"backend_start"`
	// State is pg_stat_activity.state at the last sample that saw the
	// session (e.g. "idle in transaction").
	State string `json:"state"`
	// Seen: the session held (or waited for) a lock on a relation of the
	// version in at least one sample; Relations names them and
	// SeenSamples counts the samples.
	Seen        bool     `json:"seen"`
	SeenSamples int      `json:"seen_samples"`
	Relations   []string `json:"relations"`
	// ProbablyOld: listed under the old version because it connected
	// before the phase started and was not seen using the new version.
	ProbablyOld bool `json:"probably_old"`
}

// OldInUse returns the sessions seen using the phase's old version (not
// the probably old ones).
func (c *Clients) OldInUse() []Session {
	var out []Session
	for _, v := range c.Versions {
		if v.Version != VersionOld {
			continue
		}
		for _, s := range v.Sessions {
			if s.Seen {
				out = append(out, s)
			}
		}
	}
	return out
}

// Old returns the old version's entry, or nil when there is no phase.
func (c *Clients) Old() *VersionClients {
	for i := range c.Versions {
		if c.Versions[i].Version == VersionOld {
			return &c.Versions[i]
		}
	}
	return nil
}

// ClientsOptions tune a watch. Zero values mean the defaults.
type ClientsOptions struct {
	Watch    time.Duration // how long to sample; 0 takes one sample
	Interval time.Duration // time between samples; default DefaultClientsInterval
}

// ErrOldVersionInUse is matched (errors.Is) by the *OldVersionInUseError
// that CompleteWith returns with RequireIdleOld.
var ErrOldVersionInUse = errors.New("the old version is still in use")

// OldVersionInUseError refuses a complete: sessions were seen using the
// old version during the watch. Nothing was changed.
type OldVersionInUseError struct {
	Clients  *Clients
	Sessions []Session // the sessions seen using the old version
}

func (e *OldVersionInUseError) Error() string {
	old := e.Clients.Old()
	pids := make([]string, len(e.Sessions))
	for i, s := range e.Sessions {
		pids[i] = fmt.Sprintf("%d (%s)", s.PID, s.ApplicationName)
	}
	return fmt.Sprintf("complete refused: %d session(s) used the old version %s in the last %s: pid %s",
		len(e.Sessions), old.Schema, time.Duration(e.Clients.WatchSeconds*float64(time.Second)), strings.Join(pids, ", "))
}

func (e *OldVersionInUseError) Is(target error) bool { return target == ErrOldVersionInUse }

// Clients samples pg_stat_activity and pg_locks for o.Watch and reports, per
// version, the sessions seen using it. It reads only what PostgreSQL shows
// about other sessions: it adds nothing to the application's queries, takes
// no lock of its own on the application's tables and changes nothing.
func (m *Migrator) Clients(ctx context.Context, o ClientsOptions) (*Clients, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return m.watchClients(ctx, conn, o)
}

// watcher accumulates samples.
type watcher struct {
	c *Clients
	// the schemas whose relations are sampled
	oldSchema, newSchema string
	// baseOfNew: managed-schema relations read by a view of the new version
	// schema; a session that locks one without locking anything in the new
	// version schema uses the old version (through its view or the base
	// table directly).
	baseOfNew map[uint32]bool
	started   *time.Time
	sessions  map[sessionKey]*sessionAcc
}

type sessionKey struct {
	pid   int32
	start int64
}

type sessionAcc struct {
	s           Session
	rels        map[string]map[string]bool // version -> relations
	samples     map[string]int             // version -> samples seen
	beforeStart bool
}

func (m *Migrator) watchClients(ctx context.Context, conn *pgx.Conn, o ClientsOptions) (*Clients, error) {
	if o.Interval <= 0 {
		o.Interval = DefaultClientsInterval
	}
	w := &watcher{c: &Clients{Schema: m.opts.Schema, State: "idle", Versions: []VersionClients{}},
		sessions: map[sessionKey]*sessionAcc{}}
	ph, err := m.phase(ctx, conn)
	if err != nil {
		return nil, err
	}
	if ph != nil {
		w.c.State = "in_progress"
		t := ph.StartedAt
		w.c.PhaseStartedAt, w.started = &t, &t
		w.oldSchema, w.newSchema = ph.PreviousSchema, ph.VersionSchema
		old := VersionClients{Version: VersionOld, Schema: ph.PreviousSchema}
		if old.Schema == "" {
			old.Schema, old.BaseTables = m.opts.Schema, true
		}
		w.c.Versions = append(w.c.Versions, old, VersionClients{Version: VersionNew, Schema: ph.VersionSchema})
		if w.baseOfNew, err = m.viewBases(ctx, conn, ph.VersionSchema); err != nil {
			return nil, err
		}
	} else {
		hist, err := m.history(ctx, conn)
		if err != nil {
			return nil, err
		}
		if s := latestSchema(hist); s != "" {
			w.newSchema = s
			w.c.Versions = append(w.c.Versions, VersionClients{Version: VersionLatest, Schema: s})
		}
	}
	begin := time.Now()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		if err := w.sample(ctx, conn, m.opts.Schema); err != nil {
			return nil, err
		}
		w.c.Samples++
		if time.Since(begin)+o.Interval > o.Watch {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	w.c.WatchSeconds = o.Watch.Seconds()
	w.finish()
	return w.c, nil
}

// viewBases returns the managed-schema relations that the views of the
// version schema vs read.
func (m *Migrator) viewBases(ctx context.Context, conn *pgx.Conn, vs string) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT d.refobjid
		FROM pg_class v
		JOIN pg_namespace vn ON vn.oid = v.relnamespace
		JOIN pg_rewrite r ON r.ev_class = v.oid
		JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
			AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid
		JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_namespace tn ON tn.oid = t.relnamespace
		WHERE vn.nspname = $1 AND tn.nspname = $2`, vs, m.opts.Schema)
	if err != nil {
		return nil, fmt.Errorf("clients: read the views of %s: %w", vs, err)
	}
	out := map[uint32]bool{}
	for rows.Next() {
		var oid uint32
		if err := rows.Scan(&oid); err != nil {
			return nil, fmt.Errorf("clients: %w", err)
		}
		out[oid] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clients: read the views of %s: %w", vs, err)
	}
	return out, nil
}

// sampleSQL lists the client sessions of this database other than strata's,
// each with the relations of the given schemas it holds or waits for a lock
// on.
const sampleSQL = `WITH l AS (
	SELECT l.pid, n.nspname::text AS nsp, c.relname::text AS rel, c.oid AS oid
	FROM pg_locks l
	JOIN pg_class c ON c.oid = l.relation
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE l.locktype = 'relation'
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND n.nspname = ANY($1::text[])
)
SELECT a.pid, a.usename::text, a.application_name, host(a.client_addr), a.backend_start, a.state,
	COALESCE(array_agg(l.nsp) FILTER (WHERE l.pid IS NOT NULL), '{}'),
	COALESCE(array_agg(l.rel) FILTER (WHERE l.pid IS NOT NULL), '{}'),
	COALESCE(array_agg(l.oid) FILTER (WHERE l.pid IS NOT NULL), '{}')
FROM pg_stat_activity a
LEFT JOIN l ON l.pid = a.pid
WHERE a.datname = current_database() AND a.backend_type = 'client backend'
	AND a.pid <> pg_backend_pid() AND a.application_name IS DISTINCT FROM 'strata' AND a.application_name NOT LIKE 'strata lock %'
GROUP BY a.pid, a.usename, a.application_name, a.client_addr, a.backend_start, a.state`

func (w *watcher) sample(ctx context.Context, conn *pgx.Conn, managed string) error {
	var schemas []string
	for _, s := range []string{w.oldSchema, w.newSchema} {
		if s != "" {
			schemas = append(schemas, s)
		}
	}
	if len(w.baseOfNew) > 0 {
		schemas = append(schemas, managed)
	}
	rows, err := conn.Query(ctx, sampleSQL, schemas)
	if err != nil {
		return fmt.Errorf("clients: sample pg_locks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Session
		var app, state *string
		var nsps, rels []string
		var oids []uint32
		if err := rows.Scan(&s.PID, &s.Role, &app, &s.ClientAddr, &s.BackendStart, &state, &nsps, &rels, &oids); err != nil {
			return fmt.Errorf("clients: sample pg_locks: %w", err)
		}
		if app != nil {
			s.ApplicationName = *app
		}
		if state != nil {
			s.State = *state
		}
		w.add(s, nsps, rels, oids)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clients: sample pg_locks: %w", err)
	}
	return nil
}

// add classifies one sampled session.
func (w *watcher) add(s Session, nsps, rels []string, oids []uint32) {
	key := sessionKey{pid: s.PID}
	if s.BackendStart != nil {
		key.start = s.BackendStart.UnixNano()
	}
	acc := w.sessions[key]
	if acc == nil {
		acc = &sessionAcc{rels: map[string]map[string]bool{}, samples: map[string]int{}}
		acc.beforeStart = w.started != nil && s.BackendStart != nil && s.BackendStart.Before(*w.started)
		w.sessions[key] = acc
	}
	acc.s.PID, acc.s.Role, acc.s.ApplicationName = s.PID, s.Role, s.ApplicationName
	acc.s.ClientAddr, acc.s.BackendStart = s.ClientAddr, s.BackendStart
	seen := map[string][]string{}
	var bases []string
	usesNew := false
	for i := range nsps {
		name := nsps[i] + "." + rels[i]
		switch {
		case nsps[i] == w.newSchema && w.started == nil:
			seen[VersionLatest] = append(seen[VersionLatest], name)
		case nsps[i] == w.newSchema:
			seen[VersionNew] = append(seen[VersionNew], name)
			usesNew = true
		case nsps[i] == w.oldSchema && w.oldSchema != "":
			seen[VersionOld] = append(seen[VersionOld], name)
		case w.baseOfNew[oids[i]]:
			bases = append(bases, name)
		}
	}
	if !usesNew && len(seen[VersionOld]) == 0 && len(bases) > 0 {
		seen[VersionOld] = append(seen[VersionOld], bases...)
	}
	for v, names := range seen {
		if acc.rels[v] == nil {
			acc.rels[v] = map[string]bool{}
		}
		for _, n := range names {
			acc.rels[v][n] = true
		}
		acc.samples[v]++
	}
	if len(seen) > 0 || acc.s.State == "" {
		acc.s.State = s.State
	}
}

// finish fills the versions' session lists.
func (w *watcher) finish() {
	for i := range w.c.Versions {
		v := &w.c.Versions[i]
		v.Sessions = []Session{}
		for _, acc := range w.sessions {
			s := acc.s
			s.Relations = []string{}
			if n := acc.samples[v.Version]; n > 0 {
				s.Seen, s.SeenSamples = true, n
				for r := range acc.rels[v.Version] {
					s.Relations = append(s.Relations, r)
				}
				sort.Strings(s.Relations)
			} else if v.Version == VersionOld && acc.beforeStart && acc.samples[VersionNew] == 0 {
				s.ProbablyOld = true
			} else {
				continue
			}
			v.Sessions = append(v.Sessions, s)
		}
		sort.Slice(v.Sessions, func(a, b int) bool {
			x, y := v.Sessions[a], v.Sessions[b]
			if x.Seen != y.Seen {
				return x.Seen
			}
			return x.PID < y.PID
		})
	}
}
