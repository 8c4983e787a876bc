// Package pgerr turns the errors of connecting to PostgreSQL into
// user-facing ones: classified (server down, unknown host, wrong password,
// missing database or role, TLS), each with a hint, and scrubbed of
// passwords (see Redact).
package pgerr

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kind is what went wrong when connecting.
type Kind int

// The kinds of connection errors.
const (
	Other       Kind = iota
	BadString        // the connection string does not parse
	Refused          // nothing listens at host:port
	NoSocket         // no server at a Unix socket
	UnknownHost      // the host name does not resolve
	Timeout          // the server did not answer in time
	AuthFailed       // wrong password (or other authentication failure)
	NoRole           // the role does not exist
	NoDatabase       // the database does not exist
	NotAllowed       // pg_hba.conf has no entry for this connection
	TLS              // TLS required, refused or the certificate is not trusted
	TooMany          // too many connections
	Starting         // the server is starting up or shutting down
)

// ConnError is a classified connection error. Error() is one line
// "what: why" then, when there is a next step, "\nhint: ...". It never
// includes the connection string or its password; Err is the driver's
// error, for errors.As.
type ConnError struct {
	Kind     Kind
	Addr     string // host:port or socket, "" when unknown
	User     string
	Database string
	Reason   string // why, in words
	// Source names where the connection string came from, for hints:
	// "--url", "DATABASE_URL", "strata.toml:3", "the PG* variables"; ""
	// reads "the connection string".
	Source string
	Err    error
}

func (e *ConnError) Error() string {
	what := "connect"
	if e.Addr != "" {
		what = "connect to " + e.Addr
	}
	if e.Kind == BadString {
		what = "read the connection string"
		if e.Source != "" {
			what += " from " + e.Source
		}
	}
	msg := what + ": " + e.Reason
	if h := e.Hint(); h != "" {
		msg += "\nhint: " + h
	}
	return msg
}

func (e *ConnError) Unwrap() error { return e.Err }

func (e *ConnError) source() string {
	if e.Source == "" {
		return "the connection string"
	}
	return e.Source
}

// Hint is the next step for the error, or "".
func (e *ConnError) Hint() string {
	src := e.source()
	switch e.Kind {
	case BadString:
		return "write it as postgres://user:password@host:5432/dbname (escape @ : / ? # in the password as %40 %3A %2F %3F %23) or as host=... port=... user=... dbname=..."
	case Refused:
		return "is PostgreSQL running there? check the host and port in " + src
	case NoSocket:
		return "is PostgreSQL running on this machine? set the host in " + src + " (or PGHOST) to its socket folder or address"
	case UnknownHost:
		return "check the host name in " + src
	case Timeout:
		return "check the host and port in " + src + ", and that a firewall lets the connection through"
	case AuthFailed:
		return "check the password for role " + quote(e.User) + " (in " + src + ", PGPASSWORD or the password file); in a URL, escape @ : / as %40 %3A %2F"
	case NoRole:
		return "check the user name in " + src + ", or create the role (CREATE ROLE " + quote(e.User) + " LOGIN)"
	case NoDatabase:
		return "check the database name in " + src + ", or create it: createdb " + shellWord(e.Database)
	case NotAllowed:
		return "the server's pg_hba.conf must allow this host, user and database; ask its administrator"
	case TLS:
		return "set sslmode in " + src + " to what the server supports (disable, prefer, require, verify-full) and, to verify it, sslrootcert"
	case TooMany:
		return "wait for connections to close, or raise max_connections or the role's CONNECTION LIMIT"
	case Starting:
		return "wait for the server to finish starting (or shutting down) and run the command again"
	}
	return ""
}

func quote(s string) string { return strconv.Quote(s) }

// shellWord quotes s for a shell when it needs it.
func shellWord(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_.-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Connect classifies err, an error of pgx.Connect or pgconn.Connect for
// connString, into a *ConnError. Errors that are not about connecting (a
// canceled context) come back unchanged. passwords (see Passwords) are
// scrubbed from the reason.
func Connect(err error, connString string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		return Parse(err, connString)
	}
	e := &ConnError{Kind: Other, Err: err}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Config != nil {
		e.User, e.Database = ce.Config.User, ce.Config.Database
		e.Addr = addr(ce.Config.Host, ce.Config.Port)
	}
	last := lastAttempt(err)
	e.Kind, e.Reason = classify(last)
	pw := Passwords(connString)
	if ce != nil && ce.Config != nil && ce.Config.Password != "" {
		pw = append(pw, ce.Config.Password)
	}
	if p := os.Getenv("PGPASSWORD"); p != "" {
		pw = append(pw, p)
	}
	e.Reason = Redact(e.Reason, pw)
	return e
}

func addr(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", strings.TrimSuffix(host, "/"), port)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// lastAttempt is the error of the attempt that tells most: pgx tries each
// host, and with sslmode=prefer TLS and then plain, and joins their
// errors. An error from the server (a wrong password, a missing
// database) beats one from the way to it (TLS refused); among equals, the
// last one wins.
func lastAttempt(err error) error {
	leaves := flatten(err)
	for i := len(leaves) - 1; i >= 0; i-- {
		var pgErr *pgconn.PgError
		if errors.As(leaves[i], &pgErr) {
			return leaves[i]
		}
	}
	if len(leaves) == 0 {
		return err
	}
	return leaves[len(leaves)-1]
}

// flatten lists the errors joined anywhere in err's chain (err itself when
// there is none).
func flatten(err error) []error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, x := range j.Unwrap() {
				out = append(out, flatten(x)...)
			}
			return out
		}
	}
	return []error{err}
}

var roleRE = regexp.MustCompile(`role "[^"]*" does not exist`)

func classify(err error) (Kind, string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "28P01":
			return AuthFailed, pgErr.Message
		case pgErr.Code == "3D000":
			return NoDatabase, pgErr.Message
		case pgErr.Code == "28000" && roleRE.MatchString(pgErr.Message):
			return NoRole, pgErr.Message
		case pgErr.Code == "28000" && strings.Contains(pgErr.Message, "pg_hba.conf"):
			return NotAllowed, pgErr.Message
		case pgErr.Code == "28000":
			return AuthFailed, pgErr.Message
		case pgErr.Code == "53300":
			return TooMany, pgErr.Message
		case pgErr.Code == "57P03":
			return Starting, pgErr.Message
		}
		return Other, pgErr.Message
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return UnknownHost, fmt.Sprintf("unknown host %q", dnsErr.Name)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return Refused, "connection refused (no server is listening there)"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return Timeout, "no answer in time"
	}
	if errors.Is(err, syscall.ENOENT) {
		return NoSocket, "no server listens at this socket"
	}
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return TLS, "the server's TLS certificate is not trusted: " + lastPart(err)
	}
	msg := err.Error()
	if strings.Contains(msg, "server refused TLS connection") {
		return TLS, "the server does not accept TLS connections (sslmode requires TLS)"
	}
	if strings.Contains(msg, "tls error") {
		return TLS, "TLS handshake failed: " + lastPart(err)
	}
	return Other, lastPart(err)
}

// lastPart is the innermost text of err: the driver's message without the
// "failed to connect to ...: host (host): dial error:" chain.
func lastPart(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		if _, ok := u.(interface{ Unwrap() []error }); ok {
			return err.Error()
		}
		err = u
	}
}

var schemeTypo = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):/*`)

// Parse classifies err, the error of parsing connString, as a
// *ConnError of kind BadString naming what is wrong without quoting the
// string.
func Parse(err error, connString string) error {
	e := &ConnError{Kind: BadString, Err: err}
	if m := schemeTypo.FindStringSubmatch(connString); m != nil && !strings.Contains(m[1], "=") {
		scheme := strings.ToLower(m[1])
		rest := connString[len(m[1])+1:]
		switch {
		case scheme != "postgres" && scheme != "postgresql":
			e.Reason = fmt.Sprintf("unknown URL scheme %q: want postgres:// or postgresql://", m[1]+"://")
			return e
		case !strings.HasPrefix(rest, "//"):
			e.Reason = fmt.Sprintf("%q must be followed by // (%s://user@host/dbname)", m[1]+":", m[1])
			return e
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error quotes the whole URL: keep only what is wrong.
		e.Reason = Redact(unquote("not a valid URL: "+ue.Err.Error(), connString), append(Passwords(connString), os.Getenv("PGPASSWORD")))
		return e
	}
	reason := err.Error()
	// "cannot parse `<string>`: <why>": keep the why.
	if i := strings.LastIndex(reason, "`: "); i >= 0 {
		reason = reason[i+3:]
	}
	e.Reason = Redact(unquote(reason, connString), append(Passwords(connString), os.Getenv("PGPASSWORD")))
	return e
}

// CheckURL refuses a postgres:// URL whose user name or password holds an
// unescaped @ or /: the driver would take part of the password for the
// host and print it in its errors. Other strings pass (the driver judges
// them).
func CheckURL(connString string) error {
	scheme, rest, ok := strings.Cut(connString, "://")
	if !ok || !strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql") {
		return nil
	}
	head := rest
	if i := strings.IndexAny(head, "?#"); i >= 0 {
		head = head[:i]
	}
	at := strings.LastIndex(head, "@")
	switch {
	case strings.Count(head, "@") > 1:
		return &ConnError{Kind: BadString, Reason: "more than one @ before the host: an @ in the user name or password must be written %40"}
	case at >= 0 && strings.Contains(head[:at], "/"):
		return &ConnError{Kind: BadString, Reason: "a / before the @ of the host: a / in the user name or password must be written %2F"}
	}
	// "u:pa?ss@host" or "u:x@y?#@host": an @ after the ? or # with no
	// key=value before it.
	if tail := rest[len(head):]; strings.Contains(tail, "@") {
		seg, _, _ := strings.Cut(tail, "@")
		if !strings.Contains(seg, "=") {
			return &ConnError{Kind: BadString, Reason: "an @ after a ? or #: a ? or # in the user name or password must be written %3F or %23"}
		}
	}
	return nil
}

var quotedRE = regexp.MustCompile(`"[^"]*"`)

// unquote drops the fragments of connString the driver quotes back in
// reason: a string it cannot parse has no known password, so any piece of
// it may be one.
func unquote(reason, connString string) string {
	return quotedRE.ReplaceAllStringFunc(reason, func(q string) string {
		if len(q) > 2 && strings.Contains(connString, q[1:len(q)-1]) {
			return "(a part of the string)"
		}
		return q
	})
}
