// Package pgbouncer runs a throwaway pgbouncer in front of a test server,
// so that tests can check what works through a connection pooler.
//
// Start writes pgbouncer.ini and userlist.txt into a new temporary
// directory, starts pgbouncer in the foreground on a free port of 127.0.0.1
// and waits until it accepts connections; Stop kills it and removes the
// directory. pgbouncer refuses to run as root: when the current process is
// root it runs as Options.User, else $STRATA_PG_USER, else "postgres" (as
// internal/pgcluster runs the server). The process gets SIGKILL when the
// test process dies (Pdeathsig), so it never outlives the tests.
//
// server_reset_query is empty, also in session mode: a setting a client
// leaves on its session stays on the server connection for the next client
// to see, as it does in transaction mode, so tests can check for leaks.
package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stratapg/strata/internal/pgcluster"
)

// ErrNotInstalled is returned (wrapped) when no pgbouncer binary is found.
var ErrNotInstalled = errors.New("pgbouncer: not installed (Debian package pgbouncer)")

// Options configure Start.
type Options struct {
	// PoolMode is pgbouncer's pool_mode; default "transaction".
	PoolMode string
	// PoolSize is default_pool_size: server connections per (database,
	// user) pool; default 3.
	PoolSize int
	// Users are the login roles clients may use (pgbouncer's auth_file;
	// authentication is trust). Each maps to its [users] settings, e.g.
	// "pool_mode=session", or "".
	Users map[string]string
	// User is the OS user pgbouncer runs as when the process is root.
	User string
}

// Bouncer is a running pgbouncer.
type Bouncer struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Find returns the path of the pgbouncer binary.
func Find() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: not in PATH nor /usr/sbin", ErrNotInstalled)
}

// Start runs pgbouncer in front of the server of serverURL (its host and
// port; every database is forwarded).
func Start(ctx context.Context, serverURL string, opts Options) (*Bouncer, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	srv, err := pgconn.ParseConfig(serverURL)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: parse server URL: %w", err)
	}
	if opts.PoolMode == "" {
		opts.PoolMode = "transaction"
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 3
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		if cred, err = pgcluster.ServerCredential(opts.User); err != nil {
			return nil, fmt.Errorf("pgbouncer: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "strata-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	b := &Bouncer{dir: dir, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			b.Stop()
		}
	}()
	if b.port, err = pgcluster.FreePort(); err != nil {
		return nil, err
	}
	users := make([]string, 0, len(opts.Users))
	for u := range opts.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	var userlist, userSettings strings.Builder
	for _, u := range users {
		fmt.Fprintf(&userlist, "%q \"\"\n", u)
		if s := opts.Users[u]; s != "" {
			fmt.Fprintf(&userSettings, "%s = %s\n", u, s)
		}
	}
	host := srv.Host
	if strings.HasPrefix(host, "/") {
		host = "127.0.0.1" // pgbouncer's user cannot be assumed to reach the socket directory
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[users]
%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
server_reset_query =
logfile = %s
`, host, srv.Port, userSettings.String(), b.port, filepath.Join(dir, "userlist.txt"), opts.PoolMode, opts.PoolSize,
		filepath.Join(dir, "pgbouncer.log"))
	for name, text := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": userlist.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("pgbouncer: %w", err)
		}
	}
	if cred != nil {
		for _, p := range []string{dir, filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "userlist.txt")} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("pgbouncer: %w", err)
			}
		}
	}
	b.cmd = exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	b.cmd.Dir = dir
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	defer out.Close()
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgbouncer: start %s: %w", bin, err)
	}
	go func() { b.cmd.Wait(); close(b.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("pgbouncer: exited at start-up: %s", b.Log())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pgbouncer: not listening on %s after 30s: %s", b.Addr(), b.Log())
		}
	}
	ok = true
	return b, nil
}

// ForTest starts a pgbouncer for t in front of serverURL and stops it in
// t.Cleanup. Without pgbouncer the test is skipped loudly, or fails when
// the environment variable CI is "true".
func ForTest(t testing.TB, serverURL string, opts Options) *Bouncer {
	t.Helper()
	if _, err := Find(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgbouncer: NOT INSTALLED and CI=true, failing: %v", err)
		}
		t.Skipf("pgbouncer: NOT INSTALLED, SKIPPING: %v (apt-get install pgbouncer; .ci/run installs it)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Start(ctx, serverURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", b.Log())
		}
		b.Stop()
	})
	return b
}

// Addr is pgbouncer's host:port.
func (b *Bouncer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// URL is a connection URL through pgbouncer for a role and database.
func (b *Bouncer) URL(role, database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: b.Addr(), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Log returns pgbouncer's log so far.
func (b *Bouncer) Log() string {
	var s []string
	for _, f := range []string{"stdout.log", "pgbouncer.log"} {
		if data, err := os.ReadFile(filepath.Join(b.dir, f)); err == nil && len(data) > 0 {
			s = append(s, strings.TrimSpace(string(data)))
		}
	}
	return strings.Join(s, "\n")
}

// Stop kills pgbouncer and removes its directory.
func (b *Bouncer) Stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Kill()
		<-b.done
	}
	os.RemoveAll(b.dir)
}
