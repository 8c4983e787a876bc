package cli_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"
)

// sessionsKey is the Env.Values key of the script's open sessions.
type sessionsKey struct{}

type sessions map[string]*pgx.Conn

func scriptSessions(ts *testscript.TestScript) sessions {
	s, _ := ts.Value(sessionsKey{}).(sessions)
	if s == nil {
		ts.Fatalf("no sessions for this script")
	}
	return s
}

// cmdSession keeps named connections open across the script's commands,
// like the sessions of a running app:
//
//	session NAME [-role R] [-app A] [-search_path P] 'SQL'
//	session NAME -close
//
// The first use of NAME connects (as role R, which has no password or the
// password R, with application_name A and options=-c search_path=P); each
// use runs SQL on it and prints the rows as the sql command does.
func cmdSession(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("session", flag.ContinueOnError)
	role := fs.String("role", "", "connect as `role`")
	app := fs.String("app", "", "application_name")
	searchPath := fs.String("search_path", "", "options=-c search_path=`path`")
	closeIt := fs.Bool("close", false, "close the session")
	if len(args) == 0 {
		ts.Fatalf("usage: session NAME [-role R] [-app A] [-search_path P] 'SQL' | session NAME -close")
	}
	name := args[0]
	if err := fs.Parse(args[1:]); err != nil || (fs.NArg() != 1) == !*closeIt {
		ts.Fatalf("usage: session NAME [-role R] [-app A] [-search_path P] 'SQL' | session NAME -close")
	}
	all := scriptSessions(ts)
	conn := all[name]
	if *closeIt {
		if conn == nil {
			ts.Fatalf("session %s is not open", name)
		}
		conn.Close(context.Background())
		delete(all, name)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn == nil {
		cfg, err := pgx.ParseConfig(scriptDB(ts))
		ts.Check(err)
		if *role != "" {
			cfg.User, cfg.Password = *role, *role
		}
		if *app != "" {
			cfg.RuntimeParams["application_name"] = *app
		}
		if *searchPath != "" {
			cfg.RuntimeParams["options"] = "-c search_path=" + *searchPath
		}
		conn, err = pgx.ConnectConfig(ctx, cfg)
		ts.Check(err)
		all[name] = conn
		fmt.Fprintf(ts.Stdout(), "pid %d\n", conn.PgConn().PID())
	}
	runScriptSQL(ts, ctx, conn, fs.Arg(0), neg, "session "+name)
}

// cmdAppRole creates a login role that is not a superuser, named after the
// script's database with the suffix _app and with that name as its
// password, and sets $APP_ROLE to its name. The role is dropped when the
// script ends.
func cmdAppRole(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: approle")
	}
	cfg, err := pgx.ParseConfig(scriptDB(ts))
	ts.Check(err)
	role := cfg.Database + "_app"
	q := pgx.Identifier{role}.Sanitize()
	admin := connect(ts, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = admin.Exec(ctx, "CREATE ROLE "+q+" LOGIN NOSUPERUSER PASSWORD '"+strings.ReplaceAll(role, "'", "''")+"'")
	admin.Close(ctx)
	ts.Check(err)
	ts.Setenv("APP_ROLE", role)
	ts.Defer(func() {
		ctx := context.Background()
		for name, c := range scriptSessions(ts) {
			c.Close(ctx)
			delete(scriptSessions(ts), name)
		}
		admin := connect(ts, "")
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP OWNED BY "+q); err != nil {
			ts.Logf("drop owned by %s: %v", role, err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+q); err != nil {
			ts.Logf("drop role %s: %v", role, err)
		}
	})
}
