package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// A time-sliced A/B comparison: every client holds a connection for side A
// and one for side B, and a clock shared by all clients switches every
// client between A and B every slice. Each side therefore runs alone, with
// every client on it, half of the time, and anything else happening on the
// machine falls on both sides alike (it would have to come and go at the
// slice's period not to). The throughput of a side is the operations started
// in its slices divided by the time of its slices.

// abSide says what one side of the comparison does, per client.
type abSide struct {
	searchPath func(i int) string // startup search_path; "" leaves the default
	table      string
	newVersion func(i int) bool // writes as the new version (amount bigint, score)
}

type abSpec struct {
	db      string
	clients int
	rows    int64
	mix     mix
	simple  bool
	slice   time.Duration
	A, B    abSide
}

// abSliceDefault is the period of the A/B switch.
const abSliceDefault = 200 * time.Millisecond

// measureAB runs the comparison for warmup + d (d is rounded up to whole A+B
// periods) and returns the stats of each side over the last d.
func measureAB(ctx context.Context, e *env, spec abSpec, nextID *atomic.Int64, warmup, d time.Duration) (abRound, []string, error) {
	if spec.slice <= 0 {
		spec.slice = abSliceDefault
	}
	period := 2 * spec.slice
	d = (d + period - 1) / period * period
	warmup = (warmup + period - 1) / period * period
	type abClient struct {
		conns   [2]*pgx.Conn
		sql     [2]stmts
		onNew   [2]bool
		samples []sample
		rng     *rand.Rand
	}
	var clients []*abClient
	closeAll := func() {
		for _, c := range clients {
			for _, cn := range c.conns {
				if cn != nil {
					cn.Close(context.Background())
				}
			}
		}
	}
	defer closeAll()
	for i := 0; i < spec.clients; i++ {
		c := &abClient{rng: rand.New(rand.NewPCG(uint64(i)+7, uint64(time.Now().UnixNano())))}
		clients = append(clients, c)
		for k, side := range []abSide{spec.A, spec.B} {
			sp := ""
			if side.searchPath != nil {
				sp = side.searchPath(i)
			}
			conn, err := e.connect(ctx, spec.db, sp, spec.simple)
			if err != nil {
				return abRound{}, nil, fmt.Errorf("A/B client %d: %w", i, err)
			}
			c.conns[k] = conn
			c.sql[k] = stmtsFor(side.table)
			c.onNew[k] = side.newVersion != nil && side.newVersion(i)
		}
	}
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		errMu   sync.Mutex
		errMsgs = map[string]int{}
	)
	t0 := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.samples = make([]sample, 0, 1<<15)
			for !stop.Load() && ctx.Err() == nil {
				at := time.Since(t0)
				k := int(at/spec.slice) % 2
				kind := spec.mix.pick(c.rng)
				t := time.Now()
				err := c.sql[k].do(ctx, c.conns[k], kind, c.onNew[k], c.rng, spec.rows, nextID)
				c.samples = append(c.samples, sample{at: at, lat: time.Since(t), kind: int8(kind), new: c.onNew[k], err: err != nil, grp: int8(k)})
				if err != nil && ctx.Err() == nil {
					errMu.Lock()
					msg := fmt.Sprintf("%s (side %c): %v", opNames[kind], 'A'+k, err)
					if len(errMsgs) < 20 || errMsgs[msg] > 0 {
						errMsgs[msg]++
					}
					errMu.Unlock()
				}
			}
		}()
	}
	sleepCtx(ctx, warmup+d)
	stop.Store(true)
	wg.Wait()
	if ctx.Err() != nil {
		return abRound{}, nil, ctx.Err()
	}
	var all []sample
	for _, c := range clients {
		all = append(all, c.samples...)
	}
	r := abRound{
		A: window(all, warmup, warmup+d, func(s sample) bool { return s.grp == 0 }),
		B: window(all, warmup, warmup+d, func(s sample) bool { return s.grp == 1 }),
	}
	// Each side had half of the window.
	r.A.TPS *= 2
	r.B.TPS *= 2
	var errs []string
	for m, n := range errMsgs {
		errs = append(errs, fmt.Sprintf("%d× %s", n, m))
	}
	return r, errs, nil
}
