package cli_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stratapg/strata/cli"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestMain makes the test binary double as the strata command: testscript
// copies it into $PATH as "strata", and when a script runs `strata ...` the
// copy starts here and runs cli.Main with the script's arguments,
// environment and streams.
//
// pgtest.Main is not used: it and testscript.Main both end the process, so
// they cannot be nested without skipping the other's clean-up. A cluster
// that pgtest starts itself is stopped by its watchdog when this process
// exits (see internal/pgtest), so nothing is left behind.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"strata": strataMain,
	})
}

func strataMain() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// updateScripts rewrites the scripts' cmp files with what strata printed
// (go test ./cli -run TestScripts -update): review the diff.
var updateScripts = flag.Bool("update", false, "rewrite testdata/script files that cmp compares")

// dbKey is the Env.Values key of the script's database URL.
type dbKey struct{}

// TestScripts runs cli/testdata/script/*.txtar. Each script gets its own
// database, named in $DATABASE_URL and $DB_URL (scripts may change
// DATABASE_URL; the sql and snapshot commands always use the script's
// database; $SHADOW_URL is a second empty one), and these commands besides testscript's own:
//
//	strata ARGS...               the strata CLI (cli.Main)
//	sql [-search_path P] SQL     run SQL (several statements allowed) and print
//	                             the rows of every result as text, columns
//	                             separated by "|", NULL as NULL. -search_path
//	                             connects with options=-c search_path=P, the way
//	                             an app version selects its version schema
//	snapshot FILE                write a catalog snapshot of all non-system
//	                             schemas (pgtest.Snapshot) to FILE
//	pgenv                        replace DATABASE_URL by the libpq variables
//	                             PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
//	session NAME [flags] SQL     run SQL on a connection kept open across the
//	                             script's commands (see cmdSession)
//	approle                      create a login role that is not a superuser,
//	                             named in $APP_ROLE (see cmdAppRole)
//	jsondoc CMD... FILE          FILE, strata CMD's JSON output, matches its
//	                             section of docs/json.md (see cmdJSONDoc)
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			tb, ok := env.T().(testing.TB)
			if !ok {
				return fmt.Errorf("testscript.T is not a testing.TB")
			}
			db := pgtest.New(tb)
			env.Setenv("DATABASE_URL", db.URL)
			env.Setenv("DB_URL", db.URL)
			env.Values[dbKey{}] = db.URL
			// A second empty database, for strata drift --shadow-url.
			env.Setenv("SHADOW_URL", pgtest.New(tb).URL)
			open := sessions{}
			env.Values[sessionsKey{}] = open
			env.Defer(func() {
				for _, c := range open {
					c.Close(context.Background())
				}
			})
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sql":      cmdSQL,
			"snapshot": cmdSnapshot,
			"pgenv":    cmdPGEnv,
			"session":  cmdSession,
			"approle":  cmdAppRole,
			"jsondoc":  cmdJSONDoc,
		},
	})
}

func scriptDB(ts *testscript.TestScript) string {
	u, _ := ts.Value(dbKey{}).(string)
	if u == "" {
		ts.Fatalf("no database for this script")
	}
	return u
}

func connect(ts *testscript.TestScript, searchPath string) *pgx.Conn {
	cfg, err := pgx.ParseConfig(scriptDB(ts))
	ts.Check(err)
	if searchPath != "" {
		cfg.RuntimeParams["options"] = "-c search_path=" + searchPath
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	ts.Check(err)
	return conn
}

func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	searchPath := fs.String("search_path", "", "connect with options=-c search_path=`path`")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: sql [-search_path path] 'SQL'")
	}
	conn := connect(ts, *searchPath)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runScriptSQL(ts, ctx, conn, fs.Arg(0), neg, "sql")
}

// runScriptSQL runs sql on conn (the simple protocol: several statements
// may be given), prints the rows as |-separated lines on stdout, and fails
// the script unless the outcome matches neg (with neg, the error goes to
// stderr). what names the command in messages.
func runScriptSQL(ts *testscript.TestScript, ctx context.Context, conn *pgx.Conn, sql string, neg bool, what string) {
	results, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	for _, r := range results {
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				if v == nil {
					vals[i] = "NULL"
				} else {
					vals[i] = string(v)
				}
			}
			fmt.Fprintln(ts.Stdout(), strings.Join(vals, "|"))
		}
		if r.Err != nil && err == nil {
			err = r.Err
		}
	}
	switch {
	case err != nil && neg:
		fmt.Fprintln(ts.Stderr(), err)
	case err != nil:
		ts.Fatalf("%s: %v", what, err)
	case neg:
		ts.Fatalf("%s: unexpected success", what)
	}
}

func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: snapshot FILE")
	}
	conn := connect(ts, "")
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := pgtest.Snapshot(ctx, conn)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(snap), 0o666))
}

func cmdPGEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: pgenv")
	}
	cfg, err := pgx.ParseConfig(scriptDB(ts))
	ts.Check(err)
	ts.Setenv("DATABASE_URL", "")
	ts.Setenv("PGHOST", cfg.Host)
	ts.Setenv("PGPORT", fmt.Sprint(cfg.Port))
	ts.Setenv("PGUSER", cfg.User)
	ts.Setenv("PGPASSWORD", cfg.Password)
	ts.Setenv("PGDATABASE", cfg.Database)
	if cfg.TLSConfig == nil {
		ts.Setenv("PGSSLMODE", "disable")
	}
}
