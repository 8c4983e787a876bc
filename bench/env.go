package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgcluster"
)

// dbPrefix starts the name of every database the benchmark creates; leftovers
// of an interrupted run are dropped at start-up.
const dbPrefix = "strata_bench_"

// env is the server under test and the databases made on it.
type env struct {
	cfg      *config
	adminURL string
	cluster  *pgcluster.Cluster
	admin    *pgx.Conn
	major    int
	strategy string // " STRATEGY FILE_COPY" on PostgreSQL 15+

	mu        sync.Mutex
	templates map[int64]string
	seq       int
	noCkpt    bool // CHECKPOINT is not allowed for this role
}

// serverSettings for the throwaway cluster of a full run, on top of
// pgcluster's (fsync, synchronous_commit and full_page_writes off). Both sides
// of every comparison run on the same server with the same settings.
func serverSettings(smoke bool) map[string]string {
	if smoke {
		return nil
	}
	mem := memTotal()
	sb := int64(4 << 30)
	if mem > 0 && mem/4 < sb {
		sb = mem / 4
	}
	return map[string]string{
		"shared_buffers":       fmt.Sprintf("%dMB", sb>>20),
		"max_wal_size":         "8GB",
		"maintenance_work_mem": "512MB",
		"work_mem":             "16MB",
	}
}

func newEnv(ctx context.Context, cfg *config) (*env, error) {
	e := &env{cfg: cfg, templates: map[int64]string{}}
	if u := os.Getenv(EnvURL); u != "" {
		log.Printf("using the server of $%s", EnvURL)
		e.adminURL = u
	} else {
		t := time.Now()
		c, err := pgcluster.Start(ctx, pgcluster.Options{Settings: serverSettings(cfg.smoke)})
		if err != nil {
			return nil, err
		}
		e.cluster = c
		e.adminURL = c.URL("postgres")
		log.Printf("started PostgreSQL %s on 127.0.0.1:%d in %s", c.Version(), c.Port(), time.Since(t).Round(time.Millisecond))
	}
	admin, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("connect: %w", redactErr(err))
	}
	e.admin = admin
	var num int
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		e.close()
		return nil, err
	}
	e.major = num / 10000
	if e.major >= 15 {
		e.strategy = " STRATEGY FILE_COPY"
	}
	rows, err := admin.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", dbPrefix+"%")
	if err != nil {
		e.close()
		return nil, err
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		e.close()
		return nil, err
	}
	for _, d := range old {
		log.Printf("dropping leftover database %s", d)
		if err := e.dropDB(ctx, d); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if e.admin != nil {
		e.mu.Lock()
		tmpls := make([]string, 0, len(e.templates))
		for _, t := range e.templates {
			tmpls = append(tmpls, t)
		}
		e.mu.Unlock()
		if e.cluster == nil { // an external server: leave nothing behind
			for _, t := range tmpls {
				_ = e.dropDB(ctx, t)
			}
		}
		e.admin.Close(ctx)
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			log.Printf("stop cluster: %v", err)
		}
	}
}

// dbURL is the connection string of database name on the server.
func (e *env) dbURL(name string) string { return withDatabase(e.adminURL, name) }

// withDatabase returns conn (a URL or a key=value string) pointing at
// database name.
func withDatabase(conn, name string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		if u, err := url.Parse(conn); err == nil {
			u.Path = "/" + name
			u.RawPath = ""
			return u.String()
		}
	}
	// key=value: a later key wins.
	return strings.TrimSpace(conn + " dbname='" + strings.ReplaceAll(name, "'", `\'`) + "'")
}

// connect opens a connection to database db; searchPath, when not empty, is
// sent as a startup parameter (as `options=-c search_path=...` would).
func (e *env) connect(ctx context.Context, db, searchPath string, simple bool) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(e.dbURL(db))
	if err != nil {
		return nil, redactErr(err)
	}
	if searchPath != "" {
		cfg.RuntimeParams["search_path"] = searchPath
	}
	cfg.RuntimeParams["application_name"] = "strata-bench"
	if simple {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, redactErr(err)
	}
	return c, nil
}

func (e *env) dropDB(ctx context.Context, name string) error {
	force := ""
	if e.major >= 13 {
		force = " WITH (FORCE)"
	}
	_, err := e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+force)
	return err
}

// template returns the name of a template database holding table t with n
// rows, vacuumed and analyzed, building it on first use.
//
//	t(id bigint PRIMARY KEY, payload text NOT NULL, amount text NOT NULL)
//
// payload is 32 to 71 characters, amount an integer in text form.
func (e *env) template(ctx context.Context, n int64) (string, error) {
	e.mu.Lock()
	name, ok := e.templates[n]
	e.mu.Unlock()
	if ok {
		return name, nil
	}
	name = fmt.Sprintf("%stmpl_%d", dbPrefix, n)
	t0 := time.Now()
	log.Printf("building template %s (%d rows)", name, n)
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database (the role needs CREATEDB): %w", err)
	}
	built := false
	defer func() {
		if !built {
			_ = e.dropDB(context.Background(), name)
		}
	}()
	conn, err := e.connect(ctx, name, "", false)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	stmts := []string{
		"CREATE TABLE t (id bigint NOT NULL, payload text NOT NULL, amount text NOT NULL)",
		fmt.Sprintf(`INSERT INTO t SELECT g, md5(g::text) || repeat('x', (g %% 40)::int), ((g * 7919) %% 1000003)::text
			FROM generate_series(1::bigint, %d) g`, n),
		"ALTER TABLE t ADD PRIMARY KEY (id)",
		"VACUUM ANALYZE t",
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return "", fmt.Errorf("build template: %s: %w", firstLine(s), err)
		}
	}
	conn.Close(ctx)
	built = true
	e.mu.Lock()
	e.templates[n] = name
	e.mu.Unlock()
	log.Printf("template %s built in %s", name, time.Since(t0).Round(time.Millisecond))
	return name, nil
}

// clone makes a fresh database from the template of n rows; physically
// identical to every other clone of it.
func (e *env) clone(ctx context.Context, n int64, label string) (string, error) {
	tmpl, err := e.template(ctx, n)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.seq++
	name := fmt.Sprintf("%s%s_%d", dbPrefix, label, e.seq)
	e.mu.Unlock()
	_, err = e.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()+e.strategy)
	if err != nil {
		return "", fmt.Errorf("clone %s: %w", tmpl, err)
	}
	return name, nil
}

// settle makes the starting point of a measurement comparable: statistics
// and visibility map current, dirty buffers flushed.
func (e *env) settle(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE t"); err != nil {
		return err
	}
	return e.checkpoint(ctx, conn)
}

func (e *env) checkpoint(ctx context.Context, conn *pgx.Conn) error {
	e.mu.Lock()
	skip := e.noCkpt
	e.mu.Unlock()
	if skip {
		return nil
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			log.Printf("CHECKPOINT not allowed for this role; measurements start without one")
			e.mu.Lock()
			e.noCkpt = true
			e.mu.Unlock()
			return nil
		}
		return err
	}
	return nil
}

func tableSize(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, "SELECT pg_total_relation_size('t')").Scan(&n)
	return n, err
}

// machineInfo describes where the benchmark ran.
type machineInfo struct {
	CPU      string
	Cores    int
	RAM      int64
	PG       string
	Go       string
	Date     time.Time
	Command  string
	Server   string // "throwaway cluster (internal/pgcluster)" or "$STRATA_BENCH_DATABASE_URL"
	Settings [][2]string
	OS       string
	Revision string // git HEAD of the working directory, if any
}

func (e *env) machine(ctx context.Context) machineInfo {
	m := machineInfo{CPU: cpuModel(), Cores: runtime.NumCPU(), RAM: memTotal(), Go: runtime.Version(),
		Date: time.Now().UTC(), Command: command(e.cfg.args), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Revision = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "log", "-1", "--format=%cI %s").Output(); err == nil {
			m.Revision += " (" + strings.TrimSpace(string(out)) + ")"
		}
	}
	if e.admin == nil {
		m.Server = "none (the lint benchmark needs no server)"
		return m
	}
	if e.cluster != nil {
		m.Server = "throwaway cluster started by the benchmark (internal/pgcluster)"
	} else {
		m.Server = "existing server from $" + EnvURL
	}
	_ = e.admin.QueryRow(ctx, "SELECT version()").Scan(&m.PG)
	for _, s := range []string{"shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size", "checkpoint_timeout",
		"fsync", "synchronous_commit", "full_page_writes", "wal_level", "autovacuum", "jit"} {
		var v string
		if err := e.admin.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&v); err == nil {
			m.Settings = append(m.Settings, [2]string{s, v})
		}
	}
	return m
}

func command(args []string) string {
	var b strings.Builder
	b.WriteString("go run ./bench")
	for _, a := range args {
		b.WriteByte(' ')
		if strings.ContainsAny(a, " \t'\"$") {
			b.WriteString(strconv.Quote(a))
		} else {
			b.WriteString(a)
		}
	}
	if os.Getenv(EnvURL) != "" {
		return EnvURL + "=... " + b.String()
	}
	return b.String()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal is the machine's RAM in bytes (0 if unknown).
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// redactErr keeps passwords out of messages about connection strings.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if i := strings.Index(msg, "password="); i >= 0 {
		j := strings.IndexAny(msg[i:], " )")
		if j < 0 {
			j = len(msg) - i
		}
		msg = msg[:i] + "password=xxxxx" + msg[i+j:]
	}
	return errors.New(msg)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// loadSampler records the 1-minute load average every few seconds, so the
// report can say how busy the machine was (other processes make every
// figure noisier).
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
	stop    chan struct{}
	done    chan struct{}
}

func startLoadSampler(every time.Duration) *loadSampler {
	s := &loadSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, ok := loadAvg(); ok {
				s.mu.Lock()
				s.samples = append(s.samples, v)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops sampling and returns min, mean and max.
func (s *loadSampler) finish() (lo, mean, hi float64, n int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return 0, 0, 0, 0
	}
	lo, hi = s.samples[0], s.samples[0]
	for _, v := range s.samples {
		lo, hi = min(lo, v), max(hi, v)
		mean += v
	}
	return lo, mean / float64(len(s.samples)), hi, len(s.samples)
}

func loadAvg() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

// procCPU is the CPU time (user + system) a local process has used so far;
// false when it cannot be read (a remote server, or the process is gone).
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, true
}

// durableSettings are PostgreSQL's defaults, which the throwaway cluster
// turns off for speed.
var durableSettings = []string{"fsync", "synchronous_commit", "full_page_writes"}

// durable switches the server's durability settings to PostgreSQL's
// defaults (on) or back to the cluster's configuration (off); every session
// picks the change up at once (all three settings can change on reload).
func (e *env) durable(ctx context.Context, on bool) error {
	for _, s := range durableSettings {
		q := "ALTER SYSTEM RESET " + s
		if on {
			q = "ALTER SYSTEM SET " + s + " = on"
		}
		if _, err := e.admin.Exec(ctx, q); err != nil {
			return err
		}
	}
	_, err := e.admin.Exec(ctx, "SELECT pg_reload_conf()")
	time.Sleep(200 * time.Millisecond) // let the postmaster signal every backend
	return err
}
