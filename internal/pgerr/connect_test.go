package pgerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestConnectClassifies(t *testing.T) {
	pg := func(code, msg string) error {
		return fmt.Errorf("127.0.0.1:5432 (127.0.0.1): server error: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: msg})
	}
	tlsRefused := errors.New("127.0.0.1:5432 (127.0.0.1): tls error: server refused TLS connection")
	refused := fmt.Errorf("dial error: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	for _, c := range []struct {
		name   string
		err    error
		kind   Kind
		reason string
	}{
		{"wrong password", pg("28P01", `password authentication failed for user "u"`), AuthFailed, `password authentication failed for user "u"`},
		// sslmode=prefer: TLS refused, then the plain attempt's real cause.
		{"tls then wrong password", errors.Join(tlsRefused, pg("28P01", `password authentication failed for user "u"`)), AuthFailed, `password authentication failed for user "u"`},
		{"wrong password then tls", errors.Join(pg("28P01", `password authentication failed for user "u"`), tlsRefused), AuthFailed, `password authentication failed for user "u"`},
		{"tls only", tlsRefused, TLS, "the server does not accept TLS connections (sslmode requires TLS)"},
		{"database", pg("3D000", `database "d" does not exist`), NoDatabase, `database "d" does not exist`},
		{"role", pg("28000", `role "r" does not exist`), NoRole, `role "r" does not exist`},
		{"hba", pg("28000", `no pg_hba.conf entry for host "10.0.0.1", user "u", database "d", no encryption`), NotAllowed, `no pg_hba.conf entry for host "10.0.0.1", user "u", database "d", no encryption`},
		{"too many", pg("53300", "sorry, too many clients already"), TooMany, "sorry, too many clients already"},
		{"starting", pg("57P03", "the database system is starting up"), Starting, "the database system is starting up"},
		{"refused", refused, Refused, "connection refused (no server is listening there)"},
		{"dns", fmt.Errorf("hostname resolving error: %w", &net.DNSError{Err: "no such host", Name: "db.example", IsNotFound: true}), UnknownHost, `unknown host "db.example"`},
		{"timeout", fmt.Errorf("dial error: %w", context.DeadlineExceeded), Timeout, "no answer in time"},
		{"socket", fmt.Errorf("dial error: %w", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)}), NoSocket, "no server listens at this socket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ce *ConnError
			if !errors.As(Connect(c.err, ""), &ce) {
				t.Fatalf("Connect(%v) is not a *ConnError", c.err)
			}
			if ce.Kind != c.kind || ce.Reason != c.reason {
				t.Errorf("kind %d, reason %q; want %d, %q", ce.Kind, ce.Reason, c.kind, c.reason)
			}
			if ce.Hint() == "" {
				t.Error("no hint")
			}
		})
	}
	if err := Connect(context.Canceled, ""); err != context.Canceled {
		t.Errorf("Connect(context.Canceled) = %v, want it unchanged", err)
	}
}

func TestParseNamesTheMistake(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgress://u:pw@h/db", `read the connection string from --url: unknown URL scheme "postgress://": want postgres:// or postgresql://`},
		{"postgresql:/h/db", `read the connection string from --url: "postgresql:" must be followed by // (postgresql://user@host/dbname)`},
		{"postgres://u:p@ss@h/db", `read the connection string from --url: more than one @ before the host: an @ in the user name or password must be written %40`},
	} {
		err := CheckURL(c.in)
		if err == nil {
			err = Parse(errors.New("x"), c.in)
		}
		var ce *ConnError
		if !errors.As(err, &ce) {
			t.Fatalf("%q: %v is not a *ConnError", c.in, err)
		}
		ce.Source = "--url"
		if got := ce.Error(); got != c.want+"\nhint: "+ce.Hint() {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
