// Package pgcluster starts and stops throwaway PostgreSQL clusters for tests
// and local tooling.
//
// Start runs initdb into a fresh temporary directory, starts the server with
// pg_ctl on a free port of 127.0.0.1 using settings tuned for speed rather
// than durability (fsync=off and friends), and waits until it accepts
// connections. Stop shuts it down with "pg_ctl stop -m immediate" and removes
// the directory.
//
// The cluster never outlives the process that started it: Start also launches
// a small watchdog shell process whose stdin is a pipe held open by this
// process. When this process exits for any reason (Stop not called, panic,
// os.Exit, SIGKILL) the kernel closes the pipe, the watchdog reads EOF and
// stops the server and removes its directory.
//
// initdb and postgres refuse to run as root. When the current process is root,
// the server binaries run as a non-root OS user: Options.User, else the
// environment variable STRATA_PG_USER, else "postgres".
package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned (wrapped) by Start and FindBinDir when no
// PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New("pgcluster: no PostgreSQL server binaries found")

// Environment variables read by this package.
const (
	// EnvBinDir names a directory holding initdb, pg_ctl and postgres.
	EnvBinDir = "STRATA_PG_BINDIR"
	// EnvUser names the OS user the server runs as when the process is root.
	EnvUser = "STRATA_PG_USER"
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// BinDir is the directory holding initdb, pg_ctl and postgres. If empty,
	// FindBinDir decides.
	BinDir string
	// User is the OS user the server runs as when the current process is
	// root. If empty: $STRATA_PG_USER, else "postgres". Ignored when not root.
	User string
	// TempDir is the parent of the cluster's directory; default os.TempDir().
	// When running as root it must be traversable by User.
	TempDir string
	// Settings are extra postgresql.conf settings; they override the
	// defaults Start applies.
	Settings map[string]string
	// StartTimeout bounds initdb plus server start-up; default 2 minutes.
	StartTimeout time.Duration
}

// defaultSettings trade durability for speed: the cluster is thrown away.
var defaultSettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "300",
	"shared_buffers":     "256MB",
	"listen_addresses":   "127.0.0.1",
	"max_wal_size":       "1GB",
	"checkpoint_timeout": "30min",
	"log_line_prefix":    "%m [%p] %q%u@%d ",
}

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	binDir  string
	dir     string // temporary directory holding everything below
	dataDir string
	logFile string
	port    int
	major   int
	version string
	cred    *syscall.Credential // nil when running as the current user

	watchdog     *exec.Cmd
	watchdogPipe *os.File

	stopOnce sync.Once
	stopErr  error
}

// FindBinDir returns the directory holding the PostgreSQL server binaries:
// binDir if not empty, else $STRATA_PG_BINDIR, else `pg_config --bindir`,
// else the newest /usr/lib/postgresql/*/bin, else the directory of initdb
// found in PATH. The error wraps ErrNoBinaries when nothing is found.
func FindBinDir(binDir string) (string, error) {
	if binDir != "" {
		return checkBinDir(binDir, "Options.BinDir")
	}
	if d := os.Getenv(EnvBinDir); d != "" {
		return checkBinDir(d, EnvBinDir)
	}
	var tried []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if hasServerBinaries(d) {
			return d, nil
		}
		tried = append(tried, "pg_config --bindir ("+d+")")
	} else {
		tried = append(tried, "pg_config (not usable)")
	}
	if d := newestDebianBinDir("/usr/lib/postgresql"); d != "" {
		return d, nil
	}
	tried = append(tried, "/usr/lib/postgresql/*/bin")
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d := filepath.Dir(p); hasServerBinaries(d) {
			return d, nil
		}
	}
	tried = append(tried, "initdb in PATH")
	return "", fmt.Errorf("%w (tried %s; install the PostgreSQL server package or set %s)",
		ErrNoBinaries, strings.Join(tried, ", "), EnvBinDir)
}

func checkBinDir(d, source string) (string, error) {
	if !hasServerBinaries(d) {
		return "", fmt.Errorf("%w: %s=%q does not contain initdb, pg_ctl and postgres", ErrNoBinaries, source, d)
	}
	return d, nil
}

func hasServerBinaries(d string) bool {
	if d == "" {
		return false
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(d, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// newestDebianBinDir returns root/<N>/bin with the highest numeric N that
// holds server binaries, or "".
func newestDebianBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	best, bestVer := "", -1.0
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64) // "15", "9.6"
		if err != nil {
			continue
		}
		d := filepath.Join(root, e.Name(), "bin")
		if v > bestVer && hasServerBinaries(d) {
			best, bestVer = d, v
		}
	}
	return best
}

// Start creates and starts a new cluster. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir, err := FindBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := &Cluster{binDir: binDir}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		cred, err := ServerCredential(opts.User)
		if err != nil {
			return nil, err
		}
		c.cred = cred
		uid, gid = int(cred.Uid), int(cred.Gid)
	}

	parent := opts.TempDir
	if parent == "" {
		parent = os.TempDir()
	}
	if c.cred != nil {
		if err := checkTraversable(parent); err != nil {
			return nil, err
		}
	}
	c.dir, err = os.MkdirTemp(parent, "strata-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: create temporary directory: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			os.RemoveAll(c.dir)
			return nil, fmt.Errorf("pgcluster: chown %s to uid %d: %w", c.dir, uid, err)
		}
	}
	c.dataDir = filepath.Join(c.dir, "data")
	c.logFile = filepath.Join(c.dir, "postgres.log")

	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()

	// The watchdog first, so that even a crash during start-up cleans up.
	if err := c.startWatchdog(); err != nil {
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	if err := c.writeConfig(opts.Settings); err != nil {
		return nil, err
	}
	if err := c.startServer(ctx); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// ServerCredential is the OS user that server processes (postgres,
// pgbouncer) run as when this process is root, which they refuse to be:
// name, else $STRATA_PG_USER, else postgres. It must exist and not be root.
func ServerCredential(name string) (*syscall.Credential, error) {
	if name == "" {
		name = os.Getenv(EnvUser)
	}
	if name == "" {
		name = "postgres"
	}
	return lookupCredential(name)
}

func lookupCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, so the server must run as a non-root OS user, but user %q cannot be used (create it, or set %s): %w", name, EnvUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: user %q has non-numeric uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: user %q has non-numeric gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("pgcluster: running as root, so the server must run as a non-root OS user, but user %q has uid 0 (set %s to another user)", name, EnvUser)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// checkTraversable reports a clear error when a non-root user could not
// reach dir (e.g. TMPDIR under /root).
func checkTraversable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pgcluster: temporary directory %q: %w", dir, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: temporary directory %q: %w", abs, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("pgcluster: temporary directory %q is not reachable by the non-root server user (%s is not world-searchable); set TMPDIR or Options.TempDir to e.g. /tmp", abs, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// command builds a command that runs as the cluster user in the cluster
// directory, in its own process group (so a terminal's Ctrl-C is handled by
// our process, not delivered straight to the server), with PG* variables
// removed from the environment.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	env := []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	return cmd
}

const watchdogScript = `trap '' INT HUP
# Block until the process that started the cluster closes our stdin: it does
# so in Stop, and the kernel does so when that process exits in any way.
while read -r _; do :; done
"$1" stop -D "$2" -m immediate -w -t 30 >/dev/null 2>&1
rm -rf "$3"
`

func (c *Cluster) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pgcluster: watchdog pipe: %w", err)
	}
	cmd := c.command(context.Background(), "/bin/sh", "-c", watchdogScript, "strata-pg-watchdog",
		filepath.Join(c.binDir, "pg_ctl"), c.dataDir, c.dir)
	cmd.Stdin = r
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return fmt.Errorf("pgcluster: start watchdog: %w", err)
	}
	c.watchdog, c.watchdogPipe = cmd, w
	return nil
}

// run runs a cluster binary and returns an error including its output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := c.command(ctx, filepath.Join(c.binDir, name), args...)
	// A file rather than a pipe: a daemon child that inherited a pipe would
	// keep Wait from returning.
	out, err := os.CreateTemp(c.dir, name+"-*.out")
	if err != nil {
		return fmt.Errorf("pgcluster: %s: %w", name, err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	if runErr == nil {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		return fmt.Errorf("pgcluster: %s interrupted: %w", name, ctx.Err())
	}
	b, _ := os.ReadFile(out.Name())
	return fmt.Errorf("pgcluster: %s %s failed: %s: %w", name, strings.Join(args, " "), strings.TrimSpace(string(b)), runErr)
}

func (c *Cluster) initdb(ctx context.Context) error {
	return c.run(ctx, "initdb", "-D", c.dataDir, "-A", "trust", "-U", "postgres",
		"--no-sync", "-E", "UTF8", "--locale=C")
}

func (c *Cluster) writeConfig(extra map[string]string) error {
	settings := map[string]string{"unix_socket_directories": c.dir}
	for k, v := range defaultSettings {
		settings[k] = v
	}
	for k, v := range extra {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("\n# added by strata pgcluster (throwaway test cluster)\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: write postgresql.conf: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("pgcluster: write postgresql.conf: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pgcluster: write postgresql.conf: %w", err)
	}
	return nil
}

func (c *Cluster) startServer(ctx context.Context) error {
	const attempts = 5
	var lastErr error
	for i := 0; i < attempts; i++ {
		port, err := FreePort()
		if err != nil {
			return err
		}
		secs := 60
		if dl, ok := ctx.Deadline(); ok {
			secs = max(int(time.Until(dl).Seconds()), 1)
		}
		err = c.run(ctx, "pg_ctl", "start", "-D", c.dataDir, "-l", c.logFile,
			"-w", "-t", strconv.Itoa(secs), "-o", "-p "+strconv.Itoa(port))
		if err == nil {
			c.port = port
			return nil
		}
		logTail := tail(c.logFile, 30)
		lastErr = fmt.Errorf("%w\nserver log %s:\n%s", err, c.logFile, logTail)
		if ctx.Err() != nil || !strings.Contains(logTail, "could not bind") &&
			!strings.Contains(logTail, "could not create any TCP/IP sockets") {
			return lastErr
		}
		// Someone grabbed the port between FreePort and the bind: retry.
	}
	return lastErr
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	return port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady connects until the server answers, then records its version.
func (c *Cluster) waitReady(ctx context.Context) error {
	var lastErr error
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			var num int
			err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('server_version')").Scan(&num, &c.version)
			conn.Close(context.Background())
			if err == nil {
				c.major = num / 10000
				if c.major < 10 { // 9.6 is 90600
					c.major = num / 100
				}
				return nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: server on port %d not ready: %w (last error: %w)", c.port, ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL returns a connection URL for database dbname as user postgres.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// Major returns the server's major version, e.g. 15.
func (c *Cluster) Major() int { return c.major }

// Version returns the server's version string, e.g. "15.20 (Debian 15.20-0+deb12u1)".
func (c *Cluster) Version() string { return c.version }

// BinDir returns the directory of the server binaries in use.
func (c *Cluster) BinDir() string { return c.binDir }

// Dir returns the cluster's temporary directory (data directory, socket,
// server log); it is removed by Stop.
func (c *Cluster) Dir() string { return c.dir }

// LogFile returns the path of the server log (inside Dir).
func (c *Cluster) LogFile() string { return c.logFile }

// Stop shuts the server down immediately and removes its directory. It is
// safe to call more than once; later calls return the first call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	if _, err := os.Stat(filepath.Join(c.dataDir, "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "immediate", "-w")
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgcluster: remove %s: %w", c.dir, err))
		}
	}
	if c.watchdog != nil {
		c.watchdogPipe.Close() // the watchdog finds nothing left to do
		c.watchdog.Wait()
		c.watchdog = nil
	}
	return errors.Join(errs...)
}

// Restart stops the server (fast shutdown) and starts it again on the same
// port and data directory.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.run(ctx, "pg_ctl", "restart", "-D", c.dataDir, "-l", c.logFile, "-m", "fast", "-w",
		"-o", "-p "+strconv.Itoa(c.port)); err != nil {
		return fmt.Errorf("pgcluster: restart: %w\nserver log %s:\n%s", err, c.logFile, tail(c.logFile, 30))
	}
	return c.waitReady(ctx)
}
