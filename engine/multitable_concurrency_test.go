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

const (
	jcAccounts   = 50
	jcPartitions = 64
)

// jcUser is what a user is, as the test last wrote it: in the old version's
// shape (one account and role per user), which the new-version clients keep
// to by writing 1:N-shaped data only (one membership per user).
type jcUser struct {
	acc  int32
	role string
	name string
}

// jcLedger is the test's record of every live user. Users are split into
// partitions (by id); a client works on a user only while it holds the
// user's partition, so no two clients ever write the same user at once
// (two app instances writing the same user concurrently would be the app's
// conflict, not strata's), yet every partition is taken by old- and
// new-version clients alike, so each version keeps writing users the other
// one wrote. A user a client inserts joins the ledger when its transaction
// has committed.
type jcLedger struct {
	mu    sync.Mutex
	users map[int32]jcUser
	ids   [jcPartitions][]int32
	pos   map[int32]int
	parts [jcPartitions]sync.Mutex

	inserts, deletes atomic.Int64
	// by is the version that last wrote each user ("" for the initial
	// rows); cross counts the writes of each version to a user the other
	// version wrote last.
	by    map[int32]string
	cross map[string]int
}

// wrote records that version wrote user id (under its partition's lock).
func (l *jcLedger) wrote(id int32, version string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.by[id]; b != "" && b != version {
		l.cross[version]++
	}
	l.by[id] = version
}

func (l *jcLedger) add(id int32, u jcUser) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users[id] = u
	p := id % jcPartitions
	l.pos[id] = len(l.ids[p])
	l.ids[p] = append(l.ids[p], id)
}

func (l *jcLedger) get(id int32) jcUser {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.users[id]
}

func (l *jcLedger) set(id int32, u jcUser) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users[id] = u
}

func (l *jcLedger) remove(id int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.users, id)
	p := id % jcPartitions
	i := l.pos[id]
	last := l.ids[p][len(l.ids[p])-1]
	l.ids[p][i] = last
	l.pos[last] = i
	l.ids[p] = l.ids[p][:len(l.ids[p])-1]
	delete(l.pos, id)
}

// pick returns a random user of partition p, or 0. Recent picks one of the
// partition's last 32 users, mostly ones inserted during the test (by
// either version), so that each version keeps writing users the other one
// wrote, not only the 100,000 users of before start.
func (l *jcLedger) pick(p int, rnd *rand.Rand, recent bool) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.ids[p]
	if len(ids) == 0 {
		return 0
	}
	if recent && len(ids) > 32 {
		ids = ids[len(ids)-32:]
	}
	return ids[rnd.IntN(len(ids))]
}

// jcClient is one app connection writing continuously as one version.
type jcClient struct {
	no      int
	version string // "old" or "new"
	conn    *pgx.Conn
	led     *jcLedger
	seq     *atomic.Int64
	gate    *sync.RWMutex // held (read) during each operation: the test pauses every client by taking it
	stop    *atomic.Bool  // checked between operations: no write is cut off
	errs    *concErrs
	rnd     *rand.Rand
	ops     atomic.Int64
	stopped chan struct{}
}

func (c *jcClient) run(ctx context.Context) {
	defer close(c.stopped)
	for !c.stop.Load() && ctx.Err() == nil {
		c.gate.RLock()
		err := c.op(ctx)
		c.gate.RUnlock()
		if err != nil {
			c.errs.add("%s client %d: %v", c.version, c.no, err)
		}
		c.ops.Add(1)
	}
}

func (c *jcClient) op(ctx context.Context) error {
	k := c.rnd.IntN(100)
	if k < 20 {
		return c.insert(ctx)
	}
	p := c.rnd.IntN(jcPartitions)
	c.led.parts[p].Lock()
	defer c.led.parts[p].Unlock()
	id := c.led.pick(p, c.rnd, c.rnd.IntN(2) == 0)
	if id == 0 {
		return nil
	}
	u := c.led.get(id)
	n := c.seq.Add(1)
	switch {
	case k < 45: // move the user to another account
		u.acc = 1 + (u.acc+int32(c.rnd.IntN(jcAccounts-1)))%jcAccounts
		if c.version == "old" {
			return c.write(ctx, id, u, "move", `UPDATE users SET account_id = $1 WHERE id = $2`, u.acc, id)
		}
		return c.write(ctx, id, u, "move", `UPDATE account_users SET account_id = $1 WHERE user_id = $2`, u.acc, id)
	case k < 65: // change the role
		u.role = fmt.Sprintf("%s-role-%d", c.version, n)
		if c.version == "old" {
			return c.write(ctx, id, u, "role", `UPDATE users SET account_role = $1 WHERE id = $2`, u.role, id)
		}
		return c.write(ctx, id, u, "role", `UPDATE account_users SET role = $1 WHERE user_id = $2`, u.role, id)
	case k < 80: // rename (both versions write users itself)
		u.name = fmt.Sprintf("%s-name-%d", c.version, n)
		return c.write(ctx, id, u, "rename", `UPDATE users SET name = $1 WHERE id = $2`, u.name, id)
	default:
		return c.delete(ctx, id)
	}
}

func (c *jcClient) write(ctx context.Context, id int32, u jcUser, what, sql string, args ...any) error {
	tag, err := c.conn.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s %d: %w", what, id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%s %d: %d rows affected, want 1", what, id, tag.RowsAffected())
	}
	c.led.set(id, u)
	c.led.wrote(id, c.version)
	return nil
}

func (c *jcClient) insert(ctx context.Context) error {
	n := c.seq.Add(1)
	u := jcUser{acc: 1 + int32(c.rnd.IntN(jcAccounts)), role: fmt.Sprintf("%s-role-%d", c.version, n), name: fmt.Sprintf("%s-user-%d", c.version, n)}
	var id int32
	if c.version == "old" {
		if err := c.conn.QueryRow(ctx, `INSERT INTO users (name, account_id, account_role) VALUES ($1, $2, $3) RETURNING id`,
			u.name, u.acc, u.role).Scan(&id); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	} else {
		// A user and its membership in one transaction.
		err := pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `INSERT INTO users (name) VALUES ($1) RETURNING id`, u.name).Scan(&id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO account_users (account_id, user_id, role) VALUES ($1, $2, $3)`, u.acc, id, u.role)
			return err
		})
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	c.led.add(id, u)
	c.led.wrote(id, c.version)
	c.led.inserts.Add(1)
	return nil
}

func (c *jcClient) delete(ctx context.Context, id int32) error {
	if c.version == "old" {
		tag, err := c.conn.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete %d: %w", id, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("delete %d: %d rows affected, want 1", id, tag.RowsAffected())
		}
	} else {
		// The membership, then the user, in one transaction.
		err := pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM account_users WHERE user_id = $1`, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("%d memberships deleted, want 1", tag.RowsAffected())
			}
			if tag, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("%d users deleted, want 1", tag.RowsAffected())
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete %d: %w", id, err)
		}
	}
	c.led.wrote(id, c.version)
	c.led.remove(id)
	c.led.deletes.Add(1)
	return nil
}

type jcGroup = clientGroup[*jcClient]

func (c *jcClient) opCount() int64        { return c.ops.Load() }
func (c *jcClient) done() <-chan struct{} { return c.stopped }

// jcCheckUsers reads users as (id, account, role, name) rows into a map by
// id; a NULL account or role reads as 0 or "". A user read twice is an
// error (it has more than one membership).
func jcCheckUsers(ctx context.Context, conn *pgx.Conn, sql string) (map[int32]jcUser, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	out := map[int32]jcUser{}
	for rows.Next() {
		var id int32
		var acc *int32
		var role *string
		var u jcUser
		if err := rows.Scan(&id, &acc, &role, &u.name); err != nil {
			return nil, err
		}
		if acc != nil {
			u.acc = *acc
		}
		if role != nil {
			u.role = *role
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("user %d read twice (more than one membership?)", id)
		}
		out[id] = u
	}
	return out, rows.Err()
}

// diffUsers compares what a version shows with the ledger.
func diffUsers(what string, got, want map[int32]jcUser) []string {
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: user %d missing, want %+v", what, id, w))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("%s: user %d is %+v, want %+v", what, id, g, w))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected user %d %+v", what, id, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// TestMultiTableConcurrentClients runs old-version clients (the base tables)
// and new-version clients (the version schema), writing users and
// memberships continuously while the canonical 1:N to N:M migration goes
// through start (filling account_users from 100,000 users in batches of
// 1,000), a period of both versions, and complete. Old-version clients run
// from before start until the deploy drains them right before complete;
// new-version clients from the moment the version schema exists (the last
// step of start, so after the backfill) through complete. No client may see
// any error. At quiet points (every client paused between operations) the
// old version's users, the junction table and the new version's users must
// be exactly what the clients wrote, and the junction table exactly what the
// old data implies; after complete, the junction table and the users must
// still be exactly what the clients wrote, in the final shape, with nothing
// of strata's left.
func TestMultiTableConcurrentClients(t *testing.T) {
	const (
		nUsers    = 100_000
		perSide   = 3
		bothPhase = 4 * time.Second
	)
	tStart := time.Now()
	e := newEnv(t, fmt.Sprintf(`
		CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, %d) g;
		CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL,
			account_id int NOT NULL REFERENCES accounts, account_role text NOT NULL);
		INSERT INTO users (name, account_id, account_role)
			SELECT 'user ' || g, 1 + g %% %d, 'role ' || g FROM generate_series(1, %d) g;
		ANALYZE accounts, users;`, jcAccounts, jcAccounts, nUsers),
		func(o *engine.Options) { o.BatchSize = 1000 })
	migs := e.migs("", "001_junction.toml", junctionMigration(t)+loadFixture(t, "multitable/concurrency").file("add_index.toml"))
	vs := migration.VersionSchema("public", "001_junction")

	led := &jcLedger{users: make(map[int32]jcUser, 2*nUsers), pos: make(map[int32]int, 2*nUsers),
		by: make(map[int32]string, 2*nUsers), cross: map[string]int{}}
	for id := int32(1); id <= nUsers; id++ {
		led.add(id, jcUser{acc: 1 + id%jcAccounts, role: fmt.Sprint("role ", id), name: fmt.Sprint("user ", id)})
	}
	var seq atomic.Int64
	var gate sync.RWMutex
	errs := &concErrs{}
	newGroup := func(version string, first int, search string) (*jcGroup, error) {
		g := &jcGroup{}
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
			g.clients = append(g.clients, &jcClient{no: first + i, version: version, conn: conn, led: led, seq: &seq,
				gate: &gate, stop: &g.stopF, errs: errs, rnd: rand.New(rand.NewPCG(uint64(first+i), 7)), stopped: make(chan struct{})})
		}
		for _, c := range g.clients {
			go c.run(e.ctx)
		}
		return g, nil
	}

	check := e.db.Conn(t)
	// quiet pauses every client and compares both versions with the ledger
	// and with each other.
	quiet := func(when string) {
		t.Helper()
		gate.Lock()
		defer gate.Unlock()
		t0 := time.Now()
		led.mu.Lock()
		want := make(map[int32]jcUser, len(led.users))
		for id, u := range led.users {
			want[id] = u
		}
		led.mu.Unlock()
		oldUsers, err := jcCheckUsers(e.ctx, check, `SELECT id, account_id, account_role, name FROM public.users`)
		if err != nil {
			t.Fatalf("%s: read old version: %v", when, err)
		}
		diffs := diffUsers("old version", oldUsers, want)
		var exists bool
		if err := check.QueryRow(e.ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, vs).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			// The junction table as the new version sees it: one membership
			// per user, with the user's account and role.
			newUsers, err := jcCheckUsers(e.ctx, check, `SELECT u.id, m.account_id, m.role, u.name FROM `+pgx.Identifier{vs}.Sanitize()+`.users u
				LEFT JOIN `+pgx.Identifier{vs}.Sanitize()+`.account_users m ON m.user_id = u.id`)
			if err != nil {
				t.Fatalf("%s: read new version: %v", when, err)
			}
			diffs = append(diffs, diffUsers("new version", newUsers, want)...)
		}
		// Row for row: the junction table is what the old data implies.
		var bad int
		if err := check.QueryRow(e.ctx, `SELECT count(*) FROM (SELECT id, account_id, account_role FROM public.users WHERE account_id IS NOT NULL) o
			FULL JOIN public.account_users j ON j.account_id = o.account_id AND j.user_id = o.id
			WHERE o.id IS NULL OR j.user_id IS NULL OR j.role IS DISTINCT FROM o.account_role`).Scan(&bad); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if bad != 0 {
			diffs = append(diffs, fmt.Sprintf("%d rows differ between account_users and what users implies", bad))
		}
		if n := len(diffs); n > 0 {
			if n > 20 {
				diffs = append(diffs[:20], "...")
			}
			t.Errorf("%s: %d differences:\n%s", when, n, strings.Join(diffs, "\n"))
		} else {
			t.Logf("%s: %d users, both versions and the junction table agree with the clients (checked in %s)", when, len(want), time.Since(t0).Round(time.Millisecond))
		}
	}

	oldG, err := newGroup("old", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oldG.stop)
	time.Sleep(300 * time.Millisecond)

	newReady := make(chan *jcGroup, 1)
	watchCtx, stopWatch := context.WithCancel(e.ctx)
	defer stopWatch()
	go func() {
		defer close(newReady)
		conn, err := pgx.Connect(watchCtx, e.db.URL)
		if err != nil {
			errs.add("watcher: %v", err)
			return
		}
		defer conn.Close(context.Background())
		for watchCtx.Err() == nil {
			var ok bool
			if err := conn.QueryRow(watchCtx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", vs).Scan(&ok); err != nil {
				if watchCtx.Err() == nil {
					errs.add("watcher: %v", err)
				}
				return
			}
			if ok {
				g, err := newGroup("new", perSide, pgx.Identifier{vs}.Sanitize())
				if err != nil {
					errs.add("%v", err)
					return
				}
				newReady <- g
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	t0 := time.Now()
	oldBefore := oldG.ops()
	res := e.start(migs)
	startDur := time.Since(t0)
	if res.VersionSchema != vs {
		t.Fatalf("version schema %q, want %q", res.VersionSchema, vs)
	}
	newG := <-newReady
	if newG == nil {
		t.Fatalf("new-version clients never started; errors: %v", errs.errs)
	}
	t.Cleanup(newG.stop)
	t.Logf("setup took %s; start took %s; old clients did %d ops during it", t0.Sub(tStart).Round(time.Millisecond),
		startDur.Round(time.Millisecond), oldG.ops()-oldBefore)

	// Both versions write; quiet points in between.
	oldMid, newMid := oldG.ops(), newG.ops()
	for i := 0; i < 2; i++ {
		time.Sleep(bothPhase / 2)
		quiet(fmt.Sprintf("both versions live, quiet point %d", i+1))
	}
	if oldG.ops() == oldMid || newG.ops() == newMid {
		t.Fatalf("both versions must write while both are live: old did %d ops, new did %d", oldG.ops()-oldMid, newG.ops()-newMid)
	}
	t.Logf("while both were live: old clients did %d ops, new clients %d", oldG.ops()-oldMid, newG.ops()-newMid)

	// The deploy drains the old version; a last quiet point; then complete
	// while the new version keeps writing.
	oldG.stop()
	quiet("old version drained, before complete")
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
	t.Logf("clients: %d inserts, %d deletes, %d ops in total; %d old-version writes to users the new version wrote last, %d new-version writes to users the old version wrote last",
		led.inserts.Load(), led.deletes.Load(), oldG.ops()+newG.ops(), led.cross["old"], led.cross["new"])
	if led.cross["old"] == 0 || led.cross["new"] == 0 {
		t.Errorf("each version must write users the other one wrote")
	}

	// Final: the junction table and the users are what the clients wrote.
	got, err := jcCheckUsers(e.ctx, check, `SELECT u.id, m.account_id, m.role, u.name FROM public.users u
		LEFT JOIN public.account_users m ON m.user_id = u.id`)
	if err != nil {
		t.Fatal(err)
	}
	var orphans int
	if err := check.QueryRow(e.ctx, `SELECT count(*) FROM account_users m WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d memberships of users that do not exist", orphans)
	}
	if diffs := diffUsers("after complete", got, led.users); len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], "...")
		}
		t.Errorf("%d differences after complete:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	cols := queryStrings(t, e.ctx, check, `SELECT c.relname || ': ' || string_agg(attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY attnum)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.oid IN ('public.users'::regclass, 'public.account_users'::regclass) AND attnum > 0 AND NOT attisdropped GROUP BY c.relname ORDER BY 1`)
	want := []string{"account_users: account_id integer not null, user_id integer not null, role text not null", "users: id integer not null, name text not null"}
	if strings.Join(cols, "\n") != strings.Join(want, "\n") {
		t.Errorf("final shape:\n%s\nwant:\n%s", strings.Join(cols, "\n"), strings.Join(want, "\n"))
	}
	e.assertClean("")
	t.Logf("total %s", time.Since(tStart).Round(time.Millisecond))
}
