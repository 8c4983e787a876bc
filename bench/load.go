package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Operation kinds of the load generator.
const (
	opRead = iota
	opUpdate
	opInsert
)

var opNames = [...]string{"read", "update", "insert"}

// mix gives the percentage of reads and updates; the rest are inserts.
type mix struct{ read, update int }

var (
	mixLock  = mix{read: 60, update: 30} // 10% inserts
	mixWrite = mix{read: 0, update: 80}  // 20% inserts
	mixRead  = mix{read: 100}
)

// role says which app version a client is.
type role int

const (
	roleOld role = iota // base tables, search_path public, always
	roleNew             // the new version: uses the version schema once there is one, the base tables before
)

// sample is one operation as a client saw it.
type sample struct {
	at   time.Duration // when it was sent, since the generator's start
	lat  time.Duration
	kind int8
	new  bool // sent by a client on the new version
	err  bool
	grp  int8 // the client's group (loadSpec.groups)
}

type loadSpec struct {
	db      string
	clients int
	roles   func(i int) role
	tables  func(i int) string // nil: every client uses t
	groups  func(i int) int8   // nil: group 0; groups are compared in one window
	rows    int64              // ids 1..rows exist
	mix     mix
	rate    float64 // total ops/s offered; 0: closed loop
	simple  bool    // simple protocol (no prepared statements)
}

// gen is a running load generator.
type gen struct {
	e      *env
	spec   loadSpec
	t0     time.Time
	nextID *atomic.Int64
	schema atomic.Pointer[string] // the new version's schema, once it exists

	wg      sync.WaitGroup
	clients []*client

	errMu    sync.Mutex
	errCount int
	errMsgs  map[string]int
}

type client struct {
	g       *gen
	i       int
	role    role
	stop    atomic.Bool
	conn    *pgx.Conn
	onNew   bool
	samples []sample
	rng     *rand.Rand
	done    chan struct{}
	table   string
	grp     int8
	sql     stmts
}

// startLoad connects the clients and starts them. nextID hands out keys for
// inserts, shared across generators on the same table.
func startLoad(ctx context.Context, e *env, spec loadSpec, nextID *atomic.Int64, newSchema string) (*gen, error) {
	g := &gen{e: e, spec: spec, nextID: nextID, errMsgs: map[string]int{}}
	if newSchema != "" {
		g.schema.Store(&newSchema)
	}
	for i := 0; i < spec.clients; i++ {
		c := &client{g: g, i: i, role: roleOld, done: make(chan struct{}), rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano())))}
		if spec.roles != nil {
			c.role = spec.roles(i)
		}
		c.table = "t"
		if spec.tables != nil {
			c.table = spec.tables(i)
		}
		if spec.groups != nil {
			c.grp = spec.groups(i)
		}
		c.sql = stmtsFor(c.table)
		if err := c.connect(ctx); err != nil {
			for _, c := range g.clients {
				c.conn.Close(context.Background())
			}
			return nil, err
		}
		g.clients = append(g.clients, c)
	}
	g.t0 = time.Now()
	for _, c := range g.clients {
		g.wg.Add(1)
		go c.run(ctx)
	}
	return g, nil
}

// halfAndHalf makes the first half of the clients old-version clients and
// the second half new-version ones.
func halfAndHalf(clients int) func(int) role {
	return func(i int) role {
		if i < clients/2 {
			return roleOld
		}
		return roleNew
	}
}

// setSchema tells the new-version clients that the new version exists: they
// reconnect to it (an app deploy).
func (g *gen) setSchema(s string) { g.schema.Store(&s) }

// since is a generator timestamp.
func (g *gen) since(t time.Time) time.Duration { return t.Sub(g.t0) }

// stopRole stops the clients of one role and waits for their current
// operation to finish.
func (g *gen) stopRole(r role) {
	for _, c := range g.clients {
		if c.role == r {
			c.stop.Store(true)
		}
	}
	for _, c := range g.clients {
		if c.role == r {
			<-c.done
		}
	}
}

// stop stops every client and waits for them.
func (g *gen) stop() {
	for _, c := range g.clients {
		c.stop.Store(true)
	}
	g.wg.Wait()
}

func (c *client) connect(ctx context.Context) error {
	sp := ""
	c.onNew = false
	if c.role == roleNew {
		if s := c.g.schema.Load(); s != nil {
			sp = pgx.Identifier{*s}.Sanitize() + ", public"
			c.onNew = true
		}
	}
	conn, err := c.g.e.connect(ctx, c.g.spec.db, sp, c.g.spec.simple)
	if err != nil {
		return fmt.Errorf("load client %d: %w", c.i, err)
	}
	c.conn = conn
	return nil
}

func (c *client) run(ctx context.Context) {
	g := c.g
	defer g.wg.Done()
	defer close(c.done)
	defer func() { c.conn.Close(context.Background()) }()
	var interval time.Duration
	if g.spec.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(g.spec.clients) / g.spec.rate)
	}
	next := time.Now()
	if interval > 0 {
		next = next.Add(time.Duration(c.rng.Int64N(int64(interval))))
	}
	c.samples = make([]sample, 0, 1<<14)
	for !c.stop.Load() && ctx.Err() == nil {
		if interval > 0 {
			now := time.Now()
			if d := next.Sub(now); d > 0 {
				time.Sleep(d)
			} else if -d > 100*time.Millisecond {
				next = now // fell far behind (blocked): do not burst to catch up
			}
			next = next.Add(interval)
			if c.stop.Load() {
				break
			}
		}
		if c.role == roleNew && !c.onNew && g.schema.Load() != nil {
			c.conn.Close(ctx)
			if err := c.connect(ctx); err != nil {
				g.recordErr(err)
				return
			}
		}
		kind := c.pick()
		t := time.Now()
		err := c.do(ctx, kind)
		lat := time.Since(t)
		c.samples = append(c.samples, sample{at: t.Sub(g.t0), lat: lat, kind: int8(kind), new: c.onNew, err: err != nil, grp: c.grp})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			g.recordErr(fmt.Errorf("%s (%s version): %w", opNames[kind], map[bool]string{false: "old", true: "new"}[c.onNew], err))
			if c.conn.IsClosed() {
				if err := c.connect(ctx); err != nil {
					g.recordErr(err)
					return
				}
			}
		}
	}
}

func (c *client) pick() int { return c.g.spec.mix.pick(c.rng) }

func (m mix) pick(rng *rand.Rand) int {
	x := rng.IntN(100)
	switch {
	case x < m.read:
		return opRead
	case x < m.read+m.update:
		return opUpdate
	default:
		return opInsert
	}
}

func payload(rng *rand.Rand) string {
	return "p" + strconv.FormatUint(rng.Uint64(), 36) + "-0123456789abcdefghijklmnopqrstuvwxyz"[:1+rng.IntN(30)]
}

// stmts are the statements of the load on one table.
type stmts struct {
	read, updOld, updNew, insOld, insNew string
}

func stmtsFor(table string) stmts {
	return stmts{
		read:   "SELECT id, payload, amount FROM " + table + " WHERE id = $1",
		updOld: "UPDATE " + table + " SET payload = $2, amount = $3 WHERE id = $1",
		updNew: "UPDATE " + table + " SET payload = $2, amount = $3, score = $4 WHERE id = $1",
		insOld: "INSERT INTO " + table + " (id, payload, amount) VALUES ($1, $2, $3)",
		insNew: "INSERT INTO " + table + " (id, payload, amount, score) VALUES ($1, $2, $3, $4)",
	}
}

// do runs one single-statement transaction (autocommit) of the given kind
// as the old version (amount text) or the new one (amount bigint, score).
// Reads are the same statement on both versions, so that view and base
// table compare fairly.
func (s stmts) do(ctx context.Context, conn *pgx.Conn, kind int, onNew bool, rng *rand.Rand, rows int64, nextID *atomic.Int64) error {
	id := 1 + rng.Int64N(rows)
	amount := rng.Int64N(1000000)
	switch kind {
	case opRead:
		var gotID int64
		var p string
		var amt any
		err := conn.QueryRow(ctx, s.read, id).Scan(&gotID, &p, &amt)
		if err == pgx.ErrNoRows {
			return nil
		}
		return err
	case opUpdate:
		if onNew {
			_, err := conn.Exec(ctx, s.updNew, id, payload(rng), amount, amount%997)
			return err
		}
		_, err := conn.Exec(ctx, s.updOld, id, payload(rng), strconv.FormatInt(amount, 10))
		return err
	default:
		nid := nextID.Add(1)
		if onNew {
			_, err := conn.Exec(ctx, s.insNew, nid, payload(rng), amount, amount%997)
			return err
		}
		_, err := conn.Exec(ctx, s.insOld, nid, payload(rng), strconv.FormatInt(amount, 10))
		return err
	}
}

func (c *client) do(ctx context.Context, kind int) error {
	return c.sql.do(ctx, c.conn, kind, c.onNew, c.rng, c.g.spec.rows, c.g.nextID)
}

func (g *gen) recordErr(err error) {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	g.errCount++
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	if len(g.errMsgs) < 20 || g.errMsgs[msg] > 0 {
		g.errMsgs[msg]++
	}
}

// errors returns the distinct error messages, most frequent first.
func (g *gen) errorList() []string {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range g.errMsgs {
		l = append(l, kv{k, v})
	}
	slices.SortFunc(l, func(a, b kv) int { return b.v - a.v })
	var out []string
	for _, x := range l {
		out = append(out, fmt.Sprintf("%d× %s", x.v, x.k))
	}
	return out
}

// samples returns every client's samples; call after stop.
func (g *gen) samples() []sample {
	var all []sample
	for _, c := range g.clients {
		all = append(all, c.samples...)
	}
	return all
}

// stats summarises the operations sent in a time window.
type stats struct {
	Window        time.Duration
	Ops, Errors   int
	TPS           float64 // successful operations per second
	P50, P99, Max time.Duration
	MaxAt         time.Duration // when the slowest operation was sent
	MaxKind       string
}

// window computes stats over samples sent in [from, to) that keep returns
// true for (nil: all).
func window(all []sample, from, to time.Duration, keep func(sample) bool) stats {
	st := stats{Window: to - from}
	var lats []time.Duration
	for _, s := range all {
		if s.at < from || s.at >= to || keep != nil && !keep(s) {
			continue
		}
		st.Ops++
		if s.err {
			st.Errors++
		}
		lats = append(lats, s.lat)
		if s.lat > st.Max {
			st.Max, st.MaxAt, st.MaxKind = s.lat, s.at, opNames[s.kind]
			if s.new {
				st.MaxKind += " (new version)"
			} else {
				st.MaxKind += " (old version)"
			}
		}
	}
	if st.Window > 0 {
		st.TPS = float64(st.Ops-st.Errors) / st.Window.Seconds()
	}
	if len(lats) > 0 {
		sortDurations(lats)
		st.P50 = percentile(lats, 0.50)
		st.P99 = percentile(lats, 0.99)
	}
	return st
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

// percentile of sorted durations, nearest-rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(p*float64(len(sorted))+0.999999) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}

// measure runs a closed-loop load for warmup + d and returns the stats of
// the last d.
func measure(ctx context.Context, e *env, spec loadSpec, nextID *atomic.Int64, schema string, warmup, d time.Duration) (stats, []string, error) {
	st, _, errs, err := measureGroups(ctx, e, spec, nextID, schema, warmup, d)
	return st, errs, err
}

// measureGroups is measure that also returns the stats of each client group.
func measureGroups(ctx context.Context, e *env, spec loadSpec, nextID *atomic.Int64, schema string, warmup, d time.Duration) (stats, map[int8]stats, []string, error) {
	g, err := startLoad(ctx, e, spec, nextID, schema)
	if err != nil {
		return stats{}, nil, nil, err
	}
	sleepCtx(ctx, warmup+d)
	g.stop()
	end := warmup + d
	all := g.samples()
	groups := map[int8]stats{}
	for _, c := range g.clients {
		if _, ok := groups[c.grp]; !ok {
			grp := c.grp
			groups[grp] = window(all, warmup, end, func(s sample) bool { return s.grp == grp })
		}
	}
	return window(all, warmup, end, nil), groups, g.errorList(), ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
