// Package pgtest gives tests fresh, empty PostgreSQL databases.
//
// Every test that needs a database calls New, which clones a per-server
// template database into a new database named after the test and drops it
// (WITH (FORCE)) when the test ends. Databases are cheap (a few milliseconds),
// so each test, or even each subtest, should get its own.
//
// Where the server comes from, in order:
//
//  1. The environment variable STRATA_TEST_DATABASE_URL: a URL (or key=value
//     DSN) of a server where the user may CREATE DATABASE. Used as is; New
//     connects to it only to create and drop databases. `go run ./cmd/withpg`
//     sets it for everything it runs.
//  2. Otherwise, a throwaway cluster started once per test process with
//     internal/pgcluster (server binaries from STRATA_PG_BINDIR,
//     `pg_config --bindir`, or /usr/lib/postgresql/*/bin). Packages should
//     call Main from TestMain to stop it when their tests are done; if they
//     do not, the cluster's watchdog stops it and removes its files as soon
//     as the test process exits, so nothing leaks either way.
//  3. Otherwise the test is skipped with a message starting
//     "pgtest: NO POSTGRESQL AVAILABLE". When the environment variable CI is
//     "true", the test fails instead: under CI a missing server is an error.
//
// The template database (see TemplateName) is shared by all test processes
// using the same server; it is created on first use under an advisory lock,
// marked IS_TEMPLATE with ALLOW_CONNECTIONS false, and never dropped.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratapg/strata/internal/pgcluster"
)

// EnvDatabaseURL is the environment variable naming an existing server to
// create test databases on.
const EnvDatabaseURL = "STRATA_TEST_DATABASE_URL"

// TemplateName is the template every test database is cloned from. Bump the
// suffix whenever setupTemplate changes what goes into it.
const TemplateName = "strata_tmpl_v1"

// opTimeout bounds each administrative operation (create, drop, connect).
const opTimeout = 2 * time.Minute

// DB is a database created for one test.
type DB struct {
	// Name is the database name, e.g. "t_testfoo_bar_1a2b3c4d".
	Name string
	// URL is a full connection URL (or DSN) for this database.
	URL string
}

type server struct {
	adminURL string
	admin    *pgxpool.Pool
	major    int
	version  string
	cluster  *pgcluster.Cluster // nil when the server came from the environment
	strategy string             // CREATE DATABASE ... STRATEGY; "" when not supported

	err         error
	unavailable bool // err means "no server to be had" rather than "broken"
}

var (
	srvOnce sync.Once
	srv     *server
)

// getServer returns the process's server, skipping or failing t if there
// is none.
func getServer(t testing.TB) *server {
	t.Helper()
	srvOnce.Do(func() { srv = startServer() })
	if srv.err != nil {
		if srv.unavailable {
			unavailable(t, srv.err)
		}
		t.Fatalf("pgtest: %v", srv.err)
	}
	return srv
}

func unavailable(t testing.TB, reason error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("pgtest: NO POSTGRESQL AVAILABLE and CI=true, failing: %v", reason)
	}
	t.Skipf("pgtest: NO POSTGRESQL AVAILABLE, SKIPPING: %v\n"+
		"  (set %s, install the PostgreSQL server (initdb/pg_ctl/postgres) or set STRATA_PG_BINDIR, "+
		"or run the tests via `go run ./cmd/withpg -- go test ...`)", reason, EnvDatabaseURL)
}

func startServer() *server {
	s := &server{adminURL: os.Getenv(EnvDatabaseURL)}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if s.adminURL == "" {
		c, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			s.err, s.unavailable = err, errors.Is(err, pgcluster.ErrNoBinaries)
			return s
		}
		s.cluster = c
		s.adminURL = c.URL("postgres")
	}
	if err := s.init(ctx); err != nil {
		s.err = err
		s.shutdown()
	}
	return s
}

func (s *server) init(ctx context.Context) error {
	where := "the self-started cluster"
	if s.cluster == nil {
		where = EnvDatabaseURL
	}
	cfg, err := pgxpool.ParseConfig(s.adminURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", where, err)
	}
	cfg.MaxConns = 4
	s.admin, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", where, err)
	}
	var num int
	err = s.admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('server_version')").Scan(&num, &s.version)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", where, err)
	}
	s.major = num / 10000
	if s.major < 13 {
		return fmt.Errorf("server %s is too old: PostgreSQL 13 or newer is required", s.version)
	}
	if s.major >= 15 {
		s.strategy = defaultStrategy
	}
	if err := s.ensureTemplate(ctx); err != nil {
		return err
	}
	return nil
}

// defaultStrategy is the CREATE DATABASE strategy used on PostgreSQL 15+
// (older servers have no STRATEGY option and always copy files).
// Measured on PG 15 with the pgcluster settings (fsync=off, 256MB
// shared_buffers), cloning the ~7.5 MB empty template: on a lightly loaded
// machine FILE_COPY took ~35 ms and WAL_LOG ~145 ms sequentially (4 in
// parallel: ~18 vs ~16 ms each); under heavy CPU load the two were within
// noise, with equal server CPU time. WAL_LOG writes ~6.5 MB of WAL per clone,
// FILE_COPY ~7.5 MB of files plus two checkpoints. Re-measure with
// `go test ./internal/pgtest -run '^$' -bench CreateDatabase`.
var defaultStrategy = "FILE_COPY"

// templateLockKey is the pg_advisory_lock key serializing template creation
// across processes sharing a server.
const templateLockKey = 0x5374726174610001

func (s *server) ensureTemplate(ctx context.Context) error {
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		return fmt.Errorf("template: lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(templateLockKey))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", TemplateName).Scan(&exists); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if exists {
		return nil
	}
	tmpl := pgx.Identifier{TemplateName}.Sanitize()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+tmpl+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
	if err != nil {
		// E.g. a server whose template0 uses an ICU locale that rejects this.
		if _, err2 := conn.Exec(ctx, "CREATE DATABASE "+tmpl+" TEMPLATE template0"); err2 != nil {
			return fmt.Errorf("template: create %s: %w", TemplateName, errors.Join(err, err2))
		}
	}
	if err := setupTemplate(ctx, s.adminURL); err != nil {
		conn.Exec(context.Background(), "DROP DATABASE "+tmpl)
		return err
	}
	// Nobody may connect to the template, so cloning never fails with
	// "source database is being accessed by other users".
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+tmpl+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	return nil
}

// setupTemplate installs whatever every test database should start with.
// Today that is nothing: test databases are empty. If this ever changes,
// bump TemplateName.
func setupTemplate(ctx context.Context, adminURL string) error {
	_, _ = ctx, adminURL
	return nil
}

func (s *server) shutdown() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cluster != nil {
		s.cluster.Stop()
	}
}

// Main runs the tests and then stops the self-started cluster, if any.
// Packages with database tests should use it:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Not calling it leaks nothing: a self-started cluster dies with the test
// process anyway (see package pgcluster); Main just does it sooner.
func Main(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.shutdown()
	}
	os.Exit(code)
}

// ServerURL returns the URL of the server's administrative database
// ("postgres" on a self-started cluster; STRATA_TEST_DATABASE_URL as given
// otherwise). Do not create objects there: use New.
func ServerURL(t testing.TB) string {
	t.Helper()
	return getServer(t).adminURL
}

// ServerMajor returns the major version of the test server, e.g. 15.
func ServerMajor(t testing.TB) int {
	t.Helper()
	return getServer(t).major
}

// New returns a fresh, empty database for this test; it is dropped
// (WITH (FORCE)) in t.Cleanup.
func New(t testing.TB) *DB {
	t.Helper()
	s := getServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	var name string
	for attempt := 0; ; attempt++ {
		name = dbName(t.Name())
		err := s.createDB(ctx, name)
		if err == nil {
			break
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" && attempt < 5 { // duplicate_database
			continue
		}
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return &DB{Name: name, URL: withDatabase(s.adminURL, name)}
}

func (s *server) createDB(ctx context.Context, name string) error {
	return s.createDBWith(ctx, name, s.strategy)
}

func (s *server) createDBWith(ctx context.Context, name, strategy string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{TemplateName}.Sanitize()
	if strategy != "" {
		sql += " STRATEGY " + strategy
	}
	_, err := s.admin.Exec(ctx, sql)
	return err
}

// dbName makes a database name from a test name: "t_", the sanitized test
// name, "_" and 8 random hex digits, at most 63 bytes.
func dbName(testName string) string {
	var b strings.Builder
	underscore := true
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	base := strings.TrimSuffix(b.String(), "_")
	const maxBase = 63 - len("t_") - len("_") - 8
	if len(base) > maxBase {
		base = strings.TrimSuffix(base[:maxBase], "_")
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "t_" + base + "_" + hex.EncodeToString(rnd[:])
}

// withDatabase returns connString with its database replaced by dbname.
func withDatabase(connString, dbname string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		if u, err := url.Parse(connString); err == nil {
			u.Path = "/" + dbname
			u.RawPath = ""
			return u.String()
		}
	}
	// key=value form: a later key overrides an earlier one.
	return strings.TrimSpace(connString) + " dbname='" + dbname + "'"
}

// Conn opens a new connection to the database, closed in t.Cleanup.
func (d *DB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", d.Name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Pool opens a new connection pool to the database, closed in t.Cleanup.
func (d *DB) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, d.URL)
	if err != nil {
		t.Fatalf("pgtest: pool for %s: %v", d.Name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("pgtest: pool for %s: %v", d.Name, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Exec runs sql on a short-lived connection and fails the test on error.
// Without args, sql may hold several statements (simple protocol).
func (d *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", d.Name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: exec on %s: %v\nSQL: %s", d.Name, err, sql)
	}
}
