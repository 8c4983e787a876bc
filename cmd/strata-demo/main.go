// Command strata-demo shows strata's main job end to end: an old and a new
// version of an application keep reading and writing the same table while a
// migration changes a column's type, adds a NOT NULL column and renames a
// column underneath them.
//
//	go run ./cmd/withpg -- go run ./cmd/strata-demo     (make demo)
//
// It uses the server in $STRATA_TEST_DATABASE_URL (set by withpg) or else
// $DATABASE_URL, where it (re)creates a database called strata_demo. strata
// itself runs in-process through cli.Main with the arguments a user would
// type, so what it prints is the real command-line output.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/cli"
)

const (
	demoDB      = "strata_demo"
	initialRows = 20000
	newSchema   = "public_001_users_v2"
)

// The migration: score becomes an integer, users get a NOT NULL
// display_name computed from name, and name is renamed to full_name.
const migrationFile = `description = "users v2: integer scores, display names, full_name"

# score was text; the new version stores an integer. up turns an old value
# into a new one, down a new value into an old one.
[[actions]]
type = "alter_column"
table = "users"
column = "score"
up = "CASE WHEN score ~ '^[-+]?[0-9]{1,9}$' THEN score::integer END"
down = "score::text"
  [actions.changes]
  type = "integer"
  default = "0"

# A NOT NULL column: existing rows and rows the old version writes get up.
[[actions]]
type = "add_column"
table = "users"
up = "coalesce(initcap(name), '')"
  [actions.column]
  name = "display_name"
  type = "text"
  nullable = false

# The new version calls name full_name.
[[actions]]
type = "alter_column"
table = "users"
column = "name"
changes = { name = "full_name" }
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "\nstrata-demo: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()

	server := os.Getenv("STRATA_TEST_DATABASE_URL")
	if server == "" {
		server = os.Getenv("DATABASE_URL")
	}
	if server == "" {
		return errors.New("set STRATA_TEST_DATABASE_URL or DATABASE_URL to a PostgreSQL server where this user may CREATE DATABASE\n" +
			"(or run it as `make demo`, which starts a throwaway server)")
	}

	title("strata demo: change a table's schema while two app versions use it")

	// --- a fresh database with a users table ---
	dbURL, err := freshDatabase(ctx, server)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", demoDB, err)
	}
	defer admin.Close(context.Background())
	var version string
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	cfg := admin.Config()
	say("database %s on %s:%d (PostgreSQL %s)", demoDB, cfg.Host, cfg.Port, version)

	_, err = admin.Exec(ctx, `
		CREATE TABLE users (
			id    bigserial PRIMARY KEY,
			name  text NOT NULL,
			score text NOT NULL DEFAULT '0'
		);
		INSERT INTO users (name, score)
		SELECT 'user ' || g, (g % 1000)::text FROM generate_series(1, `+fmt.Sprint(initialRows)+`) g;
		ANALYZE users;`)
	if err != nil {
		return fmt.Errorf("create users: %w", err)
	}
	say("table users(id bigserial, name text, score text) with %d rows", initialRows)

	// --- the migration file, in ./migrations of a temporary folder ---
	work, err := os.MkdirTemp("", "strata-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Mkdir(filepath.Join(work, "migrations"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "migrations", "001_users_v2.toml"), []byte(migrationFile), 0o644); err != nil {
		return err
	}
	if err := os.Chdir(work); err != nil {
		return err
	}
	// strata reads its connection from DATABASE_URL, as a user's shell would
	// provide it; the migrations folder defaults to ./migrations.
	os.Setenv("DATABASE_URL", dbURL)
	say("migration file %s:", filepath.Join(work, "migrations", "001_users_v2.toml"))
	say("  1. alter_column users.score: text -> integer   (with up and down)")
	say("  2. add_column users.display_name text NOT NULL (up = coalesce(initcap(name), ''))")
	say("  3. alter_column users.name: rename to full_name")

	// --- the old app version ---
	title("v1 of the app is live")
	v1 := &app{name: "v1", url: dbURL}
	if err := v1.connect(ctx); err != nil {
		return err
	}
	say("v1 reads and writes users(name, score text) through the base tables")
	v1.run(ctx)
	time.Sleep(500 * time.Millisecond)

	// --- start ---
	title("expand: strata start, while v1 keeps working")
	if err := strata(ctx, "init"); err != nil {
		return err
	}
	if err := strata(ctx, "schema-name"); err != nil {
		return err
	}
	if err := strata(ctx, "--batch-size", "2000", "start"); err != nil {
		return err
	}

	// --- the new app version, deployed next to the old one ---
	title("v2 of the app is deployed next to v1")
	v2 := &app{name: "v2", url: withSearchPath(dbURL, newSchema+",public")}
	if err := v2.connect(ctx); err != nil {
		return err
	}
	say("v2 connects with options=-c search_path=%s,public", newSchema)
	say("and reads and writes users(full_name, score integer, display_name)")
	v2.run(ctx)
	time.Sleep(3 * time.Second)

	// Each version sees the other's writes, in its own shape.
	if err := showCrossRows(ctx, v1, v2); err != nil {
		return err
	}
	if err := strata(ctx, "status"); err != nil {
		return err
	}

	// --- the roll-out is done: v1 goes away, then complete ---
	title("contract: v1 is retired, then strata complete, while v2 keeps working")
	v1.stop()
	say("v1 stopped: %s", v1.summary())
	if err := strata(ctx, "complete"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	v2.stop()
	say("v2 stopped: %s", v2.summary())
	if err := strata(ctx, "status"); err != nil {
		return err
	}

	// --- check and sum up ---
	title("result")
	var rows, badRows int64
	err = admin.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE display_name IS DISTINCT FROM initcap(full_name))
		FROM users`).Scan(&rows, &badRows)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	var cols string
	err = admin.QueryRow(ctx, `SELECT string_agg(format('%s %s%s', column_name, data_type, CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'`).Scan(&cols)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	wantRows := int64(initialRows) + v1.inserts.Load() + v2.inserts.Load()
	errs := v1.errs.Load() + v2.errs.Load()
	say("users is now (%s)", cols)
	say("rows: %d (%d at the start + %d inserted by v1 + %d inserted by v2)", rows, initialRows, v1.inserts.Load(), v2.inserts.Load())
	say("operations: v1 %d, v2 %d; errors: %d", v1.ops.Load(), v2.ops.Load(), errs)
	say("finished in %s", time.Since(began).Round(100*time.Millisecond))
	switch {
	case errs > 0:
		return fmt.Errorf("%d application errors (first: %s)", errs, firstNonEmpty(v1.firstError(), v2.firstError()))
	case rows != wantRows:
		return fmt.Errorf("users has %d rows, want %d", rows, wantRows)
	case badRows > 0:
		return fmt.Errorf("%d rows have a wrong display_name", badRows)
	}
	fmt.Println("\nZero errors: both app versions worked throughout the migration.")
	return nil
}

// freshDatabase (re)creates strata_demo on the server and returns its URL.
func freshDatabase(ctx context.Context, server string) (string, error) {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connect to the server: %w", err)
	}
	defer conn.Close(context.Background())
	db := pgx.Identifier{demoDB}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop %s: %w", demoDB, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return "", fmt.Errorf("create %s: %w", demoDB, err)
	}
	return withDatabase(server, demoDB), nil
}

// withDatabase returns a connection string (URL or key=value) for another
// database on the same server.
func withDatabase(connString, dbname string) string {
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + dbname
		u.RawPath = ""
		return u.String()
	}
	return strings.TrimSpace(connString) + " dbname=" + dbname
}

// withSearchPath adds the startup option that makes a client a version:
// options=-c search_path=...
func withSearchPath(connString, path string) string {
	opt := "-c search_path=" + path
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("options", opt)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String()
	}
	return strings.TrimSpace(connString) + " options='" + opt + "'"
}

// strata runs the strata command line in-process, as a user would type it,
// and shows its output indented.
func strata(ctx context.Context, args ...string) error {
	fmt.Printf("\n$ strata %s\n", strings.Join(args, " "))
	out := &indent{w: os.Stdout, prefix: "  | "}
	code := cli.Main(ctx, args, strings.NewReader(""), out, out)
	out.flush()
	if code != 0 {
		return fmt.Errorf("strata %s: exit status %d", strings.Join(args, " "), code)
	}
	return nil
}

// app is one version of the application: two workers that insert, update
// and read users rows in the shape that version knows.
type app struct {
	name  string
	url   string
	conns []*pgx.Conn

	stopping atomic.Bool
	wg       sync.WaitGroup

	ops, inserts, errs atomic.Int64
	mu                 sync.Mutex
	firstErr           string
	lastID             atomic.Int64 // the last row this version inserted
}

const workers = 2

func (a *app) connect(ctx context.Context) error {
	for range workers {
		conn, err := pgx.Connect(ctx, a.url)
		if err != nil {
			return fmt.Errorf("%s: connect: %w", a.name, err)
		}
		a.conns = append(a.conns, conn)
	}
	return nil
}

// run starts the workers. They run until stop; a query in flight is allowed
// to finish, so every committed insert is counted.
func (a *app) run(ctx context.Context) {
	for i, conn := range a.conns {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer conn.Close(context.Background())
			a.work(ctx, conn, i)
		}()
	}
}

func (a *app) stop() {
	a.stopping.Store(true)
	a.wg.Wait()
}

func (a *app) work(ctx context.Context, conn *pgx.Conn, worker int) {
	rng := rand.New(rand.NewPCG(uint64(worker), uint64(len(a.name))))
	for n := 0; !a.stopping.Load() && ctx.Err() == nil; n++ {
		var err error
		id := 1 + rng.Int64N(initialRows)
		score := rng.IntN(1000)
		switch a.name {
		case "v1": // knows users(id, name, score text)
			switch n % 3 {
			case 0:
				var newID int64
				err = conn.QueryRow(ctx, "INSERT INTO users (name, score) VALUES ($1, $2) RETURNING id",
					fmt.Sprintf("v1 user %d-%d", worker, n), fmt.Sprint(score)).Scan(&newID)
				if err == nil {
					a.inserts.Add(1)
					a.lastID.Store(newID)
				}
			case 1:
				_, err = conn.Exec(ctx, "UPDATE users SET score = $1 WHERE id = $2", fmt.Sprint(score), id)
			case 2:
				var name, s string
				err = conn.QueryRow(ctx, "SELECT name, score FROM users WHERE id = $1", id).Scan(&name, &s)
			}
		case "v2": // knows users(id, full_name, score integer, display_name)
			switch n % 3 {
			case 0:
				var newID int64
				name := fmt.Sprintf("v2 user %d-%d", worker, n)
				err = conn.QueryRow(ctx, "INSERT INTO users (full_name, score, display_name) VALUES ($1, $2, $3) RETURNING id",
					name, score, "V2 User "+fmt.Sprintf("%d-%d", worker, n)).Scan(&newID)
				if err == nil {
					a.inserts.Add(1)
					a.lastID.Store(newID)
				}
			case 1:
				_, err = conn.Exec(ctx, "UPDATE users SET score = score + 1 WHERE id = $1", id)
			case 2:
				var name, display string
				var s int
				err = conn.QueryRow(ctx, "SELECT full_name, score, display_name FROM users WHERE id = $1", id).Scan(&name, &s, &display)
			}
		}
		a.ops.Add(1)
		if err != nil {
			a.errs.Add(1)
			a.mu.Lock()
			if a.firstErr == "" {
				a.firstErr = err.Error()
			}
			a.mu.Unlock()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (a *app) firstError() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.firstErr
}

func (a *app) summary() string {
	return fmt.Sprintf("%d operations (%d inserts), %d errors", a.ops.Load(), a.inserts.Load(), a.errs.Load())
}

// showCrossRows reads the last row each version wrote through the other
// version.
func showCrossRows(ctx context.Context, v1, v2 *app) error {
	old, err := pgx.Connect(ctx, v1.url)
	if err != nil {
		return err
	}
	defer old.Close(context.Background())
	nw, err := pgx.Connect(ctx, v2.url)
	if err != nil {
		return err
	}
	defer nw.Close(context.Background())

	title("each version sees the other's writes")
	var fullName, display string
	var score int
	id := v1.lastID.Load()
	if err := nw.QueryRow(ctx, "SELECT full_name, score, display_name FROM users WHERE id = $1", id).Scan(&fullName, &score, &display); err != nil {
		return fmt.Errorf("v2 reads row %d: %w", id, err)
	}
	say("row %d, written by v1 as (name, score text), read by v2:", id)
	say("    full_name = %q, score = %d (integer), display_name = %q (computed by up)", fullName, score, display)

	var name, scoreText string
	id = v2.lastID.Load()
	if err := old.QueryRow(ctx, "SELECT name, score FROM users WHERE id = $1", id).Scan(&name, &scoreText); err != nil {
		return fmt.Errorf("v1 reads row %d: %w", id, err)
	}
	say("row %d, written by v2 as (full_name, score integer, display_name), read by v1:", id)
	say("    name = %q, score = %q (text, computed by down)", name, scoreText)

	// Both views of every row, read in one snapshot.
	var total, same int64
	err = old.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE o.name = n.full_name AND o.score::integer = n.score
		AND n.display_name IS NOT NULL) FROM public.users o JOIN `+newSchema+`.users n USING (id)`).Scan(&total, &same)
	if err != nil {
		return fmt.Errorf("compare the versions: %w", err)
	}
	say("all rows as v1 sees them vs as v2 sees them: %d of %d consistent", same, total)
	if same != total {
		return fmt.Errorf("%d rows differ between v1 and v2", total-same)
	}
	return nil
}

func title(s string) {
	fmt.Printf("\n== %s\n", s)
}

func say(format string, args ...any) {
	fmt.Printf("   "+format+"\n", args...)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// indent writes whole lines to w, each with a prefix.
type indent struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (d *indent) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf.Write(p)
	for {
		line, err := d.buf.ReadString('\n')
		if err != nil {
			d.buf.WriteString(line) // an incomplete line: wait for the rest
			return len(p), nil
		}
		fmt.Fprint(d.w, d.prefix+line)
	}
}

func (d *indent) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.buf.Len() > 0 {
		fmt.Fprintln(d.w, d.prefix+d.buf.String())
		d.buf.Reset()
	}
}
