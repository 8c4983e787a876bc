package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/migration"
)

// concurrencyMigration changes items.val from text to numeric (up/down) and
// adds a NOT NULL column "whole" filled by `up` from the old version's val
// (tables/big_items's numeric_val.toml).
func concurrencyMigration(t testing.TB) string {
	t.Helper()
	return loadFixture(t, "tables/big_items").file("numeric_val.toml")
}

// concRow is what the test last wrote to a row: val in its text form (the
// text and numeric forms agree: no exponent, scale kept) and the expected
// final value of whole.
type concRow struct {
	val   string
	whole int64
}

// concLedger is the test's own record of every live row and of which client
// owns it. A row is modified (updated or deleted) only by its owner, so the
// record of each row changes in the same order as the row itself. Rows are
// owned by id modulo the number of clients, whoever inserted them, so old-
// and new-version clients modify each other's rows.
type concLedger struct {
	mu      sync.Mutex
	rows    map[int64]concRow
	owned   [][]int64
	pos     map[int64]int
	inserts atomic.Int64
	deletes atomic.Int64
}

func newConcLedger(n, clients int) *concLedger {
	l := &concLedger{rows: make(map[int64]concRow, n*2), owned: make([][]int64, clients), pos: make(map[int64]int, n*2)}
	for id := int64(1); id <= int64(n); id++ {
		l.add(id, concRow{val: fmt.Sprint(id), whole: id})
	}
	return l
}

// add records a new row; the caller holds mu or has exclusive access.
func (l *concLedger) add(id int64, r concRow) {
	l.rows[id] = r
	o := int(id % int64(len(l.owned)))
	l.pos[id] = len(l.owned[o])
	l.owned[o] = append(l.owned[o], id)
}

func (l *concLedger) insert(id int64, r concRow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(id, r)
}

func (l *concLedger) set(id int64, r concRow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows[id] = r
}

func (l *concLedger) remove(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.rows, id)
	o := int(id % int64(len(l.owned)))
	i := l.pos[id]
	last := l.owned[o][len(l.owned[o])-1]
	l.owned[o][i] = last
	l.pos[last] = i
	l.owned[o] = l.owned[o][:len(l.owned[o])-1]
	delete(l.pos, id)
}

// pick returns a random row owned by client c, or 0 when it owns none.
func (l *concLedger) pick(c int, rnd *rand.Rand) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.owned[c]
	if len(ids) == 0 {
		return 0
	}
	return ids[rnd.IntN(len(ids))]
}

// client is one app connection writing continuously as one version.
type concClient struct {
	no      int
	version string // "old" or "new"
	conn    *pgx.Conn
	led     *concLedger
	seq     *atomic.Int64
	ops     atomic.Int64
	errs    *concErrs
	rnd     *rand.Rand
	stop    *atomic.Bool // checked between operations: no write is ever cut off
	stopped chan struct{}
}

type concErrs struct {
	mu   sync.Mutex
	errs []string
	n    int
}

func (e *concErrs) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.errs) < 20 {
		e.errs = append(e.errs, fmt.Sprintf(format, args...))
	}
}

// value returns a fresh value that no other write uses: its text and
// numeric forms are identical, and its floor is intPart.
func (c *concClient) value() (text string, intPart int64) {
	n := c.seq.Add(1)
	intPart = 1_000_000 + n
	return fmt.Sprintf("%d.%02d", intPart, n%97+1), intPart
}

func (c *concClient) run(ctx context.Context) {
	defer close(c.stopped)
	for !c.stop.Load() && ctx.Err() == nil {
		var err error
		op := c.rnd.IntN(100)
		switch {
		case op < 35:
			err = c.insert(ctx)
		case op < 85:
			err = c.update(ctx)
		default:
			err = c.delete(ctx)
		}
		if err != nil {
			c.errs.add("%s client %d: %v", c.version, c.no, err)
		}
		c.ops.Add(1)
	}
}

func (c *concClient) insert(ctx context.Context) error {
	v, whole := c.value()
	var id int64
	var err error
	if c.version == "old" {
		err = c.conn.QueryRow(ctx, "INSERT INTO items (val) VALUES ($1) RETURNING id", v).Scan(&id)
	} else {
		whole = -c.seq.Add(1) // anything but floor(val): the new version sets it itself
		err = c.conn.QueryRow(ctx, "INSERT INTO items (val, whole) VALUES ($1::numeric, $2) RETURNING id", v, whole).Scan(&id)
	}
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	c.led.insert(id, concRow{val: v, whole: whole})
	c.led.inserts.Add(1)
	return nil
}

func (c *concClient) update(ctx context.Context) error {
	id := c.led.pick(c.no, c.rnd)
	if id == 0 {
		return c.insert(ctx)
	}
	v, whole := c.value()
	var sql string
	var args []any
	if c.version == "old" {
		sql, args = "UPDATE items SET val = $1 WHERE id = $2", []any{v, id}
	} else {
		whole = -c.seq.Add(1)
		sql, args = "UPDATE items SET val = $1::numeric, whole = $2 WHERE id = $3", []any{v, whole, id}
	}
	tag, err := c.conn.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("update %d: %w", id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("update %d: %d rows affected, want 1", id, tag.RowsAffected())
	}
	c.led.set(id, concRow{val: v, whole: whole})
	return nil
}

func (c *concClient) delete(ctx context.Context) error {
	id := c.led.pick(c.no, c.rnd)
	if id == 0 {
		return nil
	}
	tag, err := c.conn.Exec(ctx, "DELETE FROM items WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete %d: %w", id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("delete %d: %d rows affected, want 1", id, tag.RowsAffected())
	}
	c.led.remove(id)
	c.led.deletes.Add(1)
	return nil
}

// loadClient is a client of the concurrency tests: it counts its
// operations and closes a channel when it has stopped.
type loadClient interface {
	opCount() int64
	done() <-chan struct{}
}

// clientGroup runs the clients of one version until stopped.
type clientGroup[C loadClient] struct {
	clients []C
	stopF   atomic.Bool
}

func (g *clientGroup[C]) ops() int64 {
	var n int64
	for _, c := range g.clients {
		n += c.opCount()
	}
	return n
}

// stop lets every client finish the operation it is in, so that the ledger
// records every write that committed, then waits for them.
func (g *clientGroup[C]) stop() {
	g.stopF.Store(true)
	for _, c := range g.clients {
		<-c.done()
	}
}

type concGroup = clientGroup[*concClient]

func (c *concClient) opCount() int64        { return c.ops.Load() }
func (c *concClient) done() <-chan struct{} { return c.stopped }

// TestConcurrentVersionsThroughStartAndComplete runs old- and new-version
// clients writing continuously (inserts, updates of random existing rows,
// deletes) while a type change and a NOT NULL column with `up` go through
// start (with its backfill of 100,000 rows), a period of both versions,
// and complete. Old clients drain right before complete, as a deploy does;
// new clients write through complete. No client may see any error, and at
// the end every row must hold exactly what its last writer implied.
func TestConcurrentVersionsThroughStartAndComplete(t *testing.T) {
	const (
		nRows     = 100_000 // the rows of tables/big_items
		perSide   = 3
		nClients  = 2 * perSide
		bothPhase = 2 * time.Second
	)
	e := newEnv(t, tables(t, "big_items"), func(o *engine.Options) { o.BatchSize = 1000 })
	migs := e.migs("", "001_numeric_val.toml", concurrencyMigration(t))
	vs := migration.VersionSchema("public", "001_numeric_val")

	led := newConcLedger(nRows, nClients)
	var seq atomic.Int64
	errs := &concErrs{}
	// newGroup may run on another goroutine: it reports errors, never t.Fatal.
	newGroup := func(version string, first int, search string) (*concGroup, error) {
		g := &concGroup{}
		u := e.db.URL
		if search != "" {
			u = withOption(t, u, "-c search_path="+search+",public")
		}
		for i := 0; i < perSide; i++ {
			conn, err := pgx.Connect(e.ctx, u)
			if err != nil {
				return nil, fmt.Errorf("connect %s client: %w", version, err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			c := &concClient{no: first + i, version: version, conn: conn, led: led, seq: &seq, errs: errs,
				rnd: rand.New(rand.NewPCG(uint64(first+i), 42)), stop: &g.stopF, stopped: make(chan struct{})}
			g.clients = append(g.clients, c)
		}
		for _, c := range g.clients {
			go c.run(e.ctx)
		}
		return g, nil
	}

	// Old-version clients: the base tables, from before start.
	oldG, err := newGroup("old", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oldG.stop)
	time.Sleep(300 * time.Millisecond)

	// New-version clients connect as soon as start has created the version
	// schema.
	newReady := make(chan *concGroup, 1)
	watchCtx, stopWatch := context.WithCancel(e.ctx)
	defer stopWatch()
	go func() {
		conn, err := pgx.Connect(watchCtx, e.db.URL)
		if err != nil {
			errs.add("watcher: %v", err)
			close(newReady)
			return
		}
		defer conn.Close(context.Background())
		for watchCtx.Err() == nil {
			var ok bool
			if err := conn.QueryRow(watchCtx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", vs).Scan(&ok); err != nil {
				if watchCtx.Err() == nil {
					errs.add("watcher: %v", err)
				}
				break
			}
			if ok {
				g, err := newGroup("new", perSide, pgx.Identifier{vs}.Sanitize())
				if err != nil {
					errs.add("%v", err)
					break
				}
				newReady <- g
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(newReady)
	}()

	t0 := time.Now()
	oldBefore := oldG.ops()
	res := e.start(migs)
	startDur := time.Since(t0)
	if res.VersionSchema != vs {
		t.Fatalf("version schema %q, want %q", res.VersionSchema, vs)
	}
	var newG *concGroup
	select {
	case newG = <-newReady:
	case <-time.After(30 * time.Second):
	}
	if newG == nil {
		t.Fatalf("new-version clients never started; errors: %v", errs.errs)
	}
	t.Cleanup(newG.stop)
	t.Logf("start took %s; old clients did %d ops during it", startDur.Round(time.Millisecond), oldG.ops()-oldBefore)

	// Both versions write. Meanwhile, check in single statements (one
	// snapshot each) that every row looks the same through both versions:
	// new == up(old) and old == down(new).
	check := e.db.Conn(t)
	consistency := `SELECT count(*) FROM public.items o FULL JOIN ` + pgx.Identifier{vs}.Sanitize() + `.items n ON n.id = o.id
		WHERE o.id IS NULL OR n.id IS NULL OR n.val IS DISTINCT FROM o.val::numeric
		   OR o.val IS DISTINCT FROM n.val::text OR n.whole IS NULL`
	oldMid, newMid := oldG.ops(), newG.ops()
	deadline := time.Now().Add(bothPhase)
	checks := 0
	for time.Now().Before(deadline) || checks == 0 {
		var bad int
		if err := check.QueryRow(e.ctx, consistency).Scan(&bad); err != nil {
			t.Fatalf("consistency query: %v", err)
		}
		if bad != 0 {
			t.Errorf("%d rows differ between the old and the new version while both are live", bad)
		}
		checks++
		time.Sleep(200 * time.Millisecond)
	}
	if oldG.ops() == oldMid || newG.ops() == newMid {
		t.Fatalf("both versions must write while both are live: old did %d ops, new did %d", oldG.ops()-oldMid, newG.ops()-newMid)
	}

	// The deploy drains the old version, then completes while the new
	// version keeps writing.
	oldG.stop()
	newBefore := newG.ops()
	t1 := time.Now()
	e.complete()
	completeDur := time.Since(t1)
	newDuring := newG.ops() - newBefore
	time.Sleep(time.Second)
	newAfter := newG.ops() - newBefore - newDuring
	newG.stop()
	t.Logf("complete took %s; new clients did %d ops during it and %d after it", completeDur.Round(time.Millisecond), newDuring, newAfter)
	if newAfter == 0 {
		t.Errorf("new-version clients made no progress after complete")
	}

	if errs.n > 0 {
		t.Fatalf("%d client errors, first ones:\n%s", errs.n, strings.Join(errs.errs, "\n"))
	}
	t.Logf("clients: %d inserts, %d deletes, %d ops in total", led.inserts.Load(), led.deletes.Load(), oldG.ops()+newG.ops())

	// Every row holds what its last writer implied.
	conn := e.db.Conn(t)
	rows, err := conn.Query(e.ctx, "SELECT id, val::text, whole FROM public.items")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]concRow{}
	for rows.Next() {
		var id int64
		var r concRow
		if err := rows.Scan(&id, &r.val, &r.whole); err != nil {
			t.Fatal(err)
		}
		got[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := int64(nRows) + led.inserts.Load() - led.deletes.Load()
	if int64(len(got)) != want {
		t.Errorf("table has %d rows, want %d (= %d + %d inserts - %d deletes)", len(got), want, nRows, led.inserts.Load(), led.deletes.Load())
	}
	var diffs []string
	for id, w := range led.rows {
		g, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("id %d: missing, want %+v", id, w))
		case g.val != w.val || g.whole != w.whole:
			diffs = append(diffs, fmt.Sprintf("id %d: got val=%s whole=%d, want val=%s whole=%d", id, g.val, g.whole, w.val, w.whole))
		}
	}
	for id, g := range got {
		if _, ok := led.rows[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("id %d: unexpected row %+v", id, g))
		}
	}
	if n := len(diffs); n > 0 {
		sort.Strings(diffs)
		if n > 20 {
			diffs = append(diffs[:20], "...")
		}
		t.Errorf("%d rows wrong after complete:\n%s", n, strings.Join(diffs, "\n"))
	}
	cols := queryStrings(t, e.ctx, conn, `SELECT attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull
		FROM pg_attribute WHERE attrelid = 'public.items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)
	if strings.Join(cols, ", ") != "id bigint true, val numeric true, whole bigint true" {
		t.Errorf("final columns: %v", cols)
	}
	e.assertClean("")
}
