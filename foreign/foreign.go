// Package foreign keeps a postgres_fdw copy of the migrated database's
// tables up to date in another database: a foreign server, a user mapping
// for a read-only remote role, and the foreign tables of one schema, rebuilt
// atomically after each migration (strata foreign sync / status).
//
// The migrated database is the one strata's --url names (the "source");
// the database that receives the foreign tables is the declaration's Into
// (the "target").
package foreign

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/internal/pgexec"
)

// Decl is one [[foreign]] declaration of strata.toml.
type Decl struct {
	Name         string            `json:"name"`
	Into         string            `json:"-"`
	Schema       string            `json:"schema"`
	RemoteSchema string            `json:"remote_schema"`
	Server       Server            `json:"server"`
	User         string            `json:"user"`
	PasswordEnv  string            `json:"password_env,omitempty"`
	MappingFor   []string          `json:"mapping_for"`
	Tables       []string          `json:"tables,omitempty"`
	Except       []string          `json:"except,omitempty"`
	Options      map[string]string `json:"options,omitempty"`
	ReadOnly     bool              `json:"read_only"`
	After        []string          `json:"after,omitempty"`

	// File and Line say where the declaration is written, for errors.
	File string `json:"-"`
	Line int    `json:"-"`
}

// Server is how the target's server reaches the migrated database. Empty
// fields are taken from strata's own connection settings.
type Server struct {
	Host   string `json:"host,omitempty"`
	Port   string `json:"port,omitempty"`
	DBName string `json:"dbname,omitempty"`
}

// Where names the declaration for errors: `foreign "app" (strata.toml:12)`.
func (d *Decl) Where() string {
	if d.File == "" {
		return fmt.Sprintf("foreign %q", d.Name)
	}
	if d.Line > 0 {
		return fmt.Sprintf("foreign %q (%s:%d)", d.Name, d.File, d.Line)
	}
	return fmt.Sprintf("foreign %q (%s)", d.Name, d.File)
}

// Options are the settings of a sync that do not come from the declaration.
type Options struct {
	// SourceURL is strata's connection to the migrated database.
	SourceURL string
	// SourceSchema is strata's --schema, the default RemoteSchema.
	SourceSchema string
	// StateSchema is strata's state schema; the target records its syncs in
	// a table of a schema of that name.
	StateSchema  string
	LockTimeout  time.Duration
	LockDeadline time.Duration
	// Getenv reads the password variable (default: none set).
	Getenv func(string) string
	// Version is strata's version, recorded with each sync.
	Version string
	Logf    func(format string, args ...any)
}

func (o *Options) runner() *pgexec.Runner {
	return &pgexec.Runner{LockTimeout: o.LockTimeout, Deadline: o.LockDeadline,
		OnRetry: func(attempt int, wait time.Duration, err error) {
			o.logf("lock not granted within lock_timeout (attempt %d): %s; retrying in %s", attempt, scrub(pgexec.Message(err)), wait.Round(time.Millisecond))
		}}
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (d *Decl) remoteSchema(o *Options) string {
	if d.RemoteSchema != "" {
		return d.RemoteSchema
	}
	if o.SourceSchema != "" {
		return o.SourceSchema
	}
	return "public"
}

func (d *Decl) mappingFor() []string {
	if len(d.MappingFor) == 0 {
		return []string{"CURRENT_USER"}
	}
	return d.MappingFor
}

func (d *Decl) stagingSchema() string { return d.Schema + "_strata_staging" }

// password returns the mapping's password, or an error when password_env
// names a variable that is not set.
func (d *Decl) password(o *Options) (string, error) {
	if d.PasswordEnv == "" {
		return "", nil
	}
	get := o.Getenv
	if get == nil {
		get = func(string) string { return "" }
	}
	p := get(d.PasswordEnv)
	if p == "" {
		return "", fmt.Errorf("%s: password_env: the environment variable %s is not set (or empty)\nhint: export %s with the password of the remote role %q", d.Where(), d.PasswordEnv, d.PasswordEnv, d.User)
	}
	return p, nil
}

// fail wraps err for people: the declaration, what failed, the reason
// without the password, and a hint.
func (d *Decl) fail(what string, err error, hint string, secrets ...string) error {
	msg := scrub(pgexec.Message(err), secrets...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Detail != "" {
		msg += " (" + scrub(pgErr.Detail, secrets...) + ")"
	}
	out := fmt.Sprintf("%s: %s: %s", d.Where(), what, msg)
	if hint != "" {
		out += "\nhint: " + hint
	}
	return &Error{msg: out, err: err}
}

// Error is a sync or status failure, already worded for people (no
// password in it); Unwrap gives the cause.
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

var passwordRE = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
var urlRE = regexp.MustCompile(`postgres(?:ql)?://[^\s"']+`)

// scrub removes passwords from s: key=value and URL forms, and the given
// secrets wherever they appear.
func scrub(s string, secrets ...string) string {
	s = passwordRE.ReplaceAllString(s, "${1}xxxxx")
	s = urlRE.ReplaceAllStringFunc(s, func(u string) string { return MaskURL(u) })
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// MaskURL returns a connection string with its password replaced by xxxxx.
func MaskURL(u string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		pu, err := url.Parse(u)
		if err != nil {
			return "(unparsable URL)"
		}
		if pu.User != nil {
			if _, ok := pu.User.Password(); ok {
				pu.User = url.UserPassword(pu.User.Username(), "xxxxx")
			}
		}
		q := pu.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			pu.RawQuery = q.Encode()
		}
		return pu.String()
	}
	return passwordRE.ReplaceAllString(u, "${1}xxxxx")
}

// connect opens a connection for strata's own work on it: no statement
// timeout.
func connect(ctx context.Context, connString string) (*pgx.Conn, error) {
	if err := pgerr.CheckURL(connString); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, pgerr.Parse(err, connString)
	}
	cfg.RuntimeParams["statement_timeout"] = "0"
	cfg.RuntimeParams["application_name"] = "strata foreign"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, pgerr.Connect(err, connString)
	}
	return conn, nil
}

// serverOptions returns the foreign server's options: the declaration's,
// then host, port and dbname from the declaration's server or else from
// strata's own connection, then strata's defaults chosen so that joins and
// aggregates run on the remote server.
func (d *Decl) serverOptions(o *Options, commonExtensions []string) (map[string]string, error) {
	cfg, err := pgconn.ParseConfig(o.SourceURL)
	if err != nil {
		return nil, d.fail("read strata's connection settings", errors.New(scrub(err.Error())), "check --url / DATABASE_URL")
	}
	opts := map[string]string{
		"host":   cfg.Host,
		"port":   fmt.Sprint(cfg.Port),
		"dbname": cfg.Database,
		// The remote planner's estimates let the local planner choose to
		// push joins down instead of fetching both tables.
		"use_remote_estimate": "true",
		// Fewer round trips for reporting scans.
		"fetch_size": "10000",
	}
	if len(commonExtensions) > 0 {
		// Immutable functions and operators of extensions on both sides
		// can be shipped to the remote server.
		opts["extensions"] = strings.Join(commonExtensions, ",")
	}
	if d.Server.Host != "" {
		opts["host"] = d.Server.Host
	}
	if d.Server.Port != "" {
		opts["port"] = d.Server.Port
	}
	if d.Server.DBName != "" {
		opts["dbname"] = d.Server.DBName
	}
	for k, v := range d.Options {
		opts[k] = v
	}
	return opts, nil
}

// roleURL is strata's connection to the migrated database, as the remote
// role with the mapping's password.
func (d *Decl) roleURL(o *Options, password string) (string, error) {
	cfg, err := pgconn.ParseConfig(o.SourceURL)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}
	if strings.HasPrefix(cfg.Host, "/") {
		u.Host = ""
	}
	if password != "" {
		u.User = url.UserPassword(d.User, password)
	} else {
		u.User = url.User(d.User)
	}
	q := url.Values{}
	if strings.HasPrefix(cfg.Host, "/") {
		q.Set("host", cfg.Host)
		q.Set("port", fmt.Sprint(cfg.Port))
	}
	if cfg.TLSConfig == nil {
		q.Set("sslmode", "disable")
	} else {
		q.Set("sslmode", "prefer")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
