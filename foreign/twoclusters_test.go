package foreign_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/pgcluster"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestTwoClusters: the application database is on a second server (its own
// port, password authentication for the remote role, DDL statements
// logged), so server = {host, port} really crosses servers. A wrong
// password fails clearly with nothing changed; the right one syncs; the
// password is in no output, error or server log line.
func TestTwoClusters(t *testing.T) {
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{"log_statement": "ddl", "log_min_messages": "info"}})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("SECOND CLUSTER UNAVAILABLE, SKIPPING: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	admin := c.URL("postgres")
	exec(t, admin, "CREATE DATABASE shop")
	appURL := c.URL("shop")
	exec(t, appURL, appSchema)
	// The role lives and dies with the cluster.
	roleName, pw := "reporting", fmt.Sprintf("pw-%d-secret", c.Port()*7919)
	exec(t, admin, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", roleName, pw))
	// The remote role logs in with its password (scram), everyone else as
	// before (trust).
	hba := one(t, admin, "SHOW hba_file")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hba, []byte(fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n%s", roleName, old)), 0o600); err != nil {
		t.Fatal(err)
	}
	exec(t, admin, "SELECT pg_reload_conf()")

	rep := pgtest.New(t)
	requireFDW(t, rep)
	var logs strings.Builder
	password := "wrong-" + pw
	decl := &foreign.Decl{Name: "shop", Into: rep.URL, Schema: "shop", User: roleName, PasswordEnv: "SHOP_PW", ReadOnly: true,
		Server: foreign.Server{Host: "127.0.0.1", Port: fmt.Sprint(c.Port())}, File: "strata.toml", Line: 1}
	opts := foreign.Options{SourceURL: appURL, SourceSchema: "public", Version: "test",
		Getenv: func(string) string { return password },
		Logf:   func(format string, args ...any) { fmt.Fprintf(&logs, format+"\n", args...) }}

	before := snap(t, rep.URL)
	_, err = foreign.Sync(ctx, decl, opts, false)
	want := fmt.Sprintf(`foreign "shop" (strata.toml:1): log in to the migrated database as the remote role %q:`, roleName)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "password authentication failed") || !strings.Contains(err.Error(), "hint: check the role's password (in $SHOP_PW)") {
		t.Fatalf("sync with a wrong password: %v\nwant prefix: %s", err, want)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the wrong password is in the error: %v", err)
	}
	if after := snap(t, rep.URL); after != before {
		t.Errorf("the failed sync changed the reporting database")
	}

	password = pw
	res, err := foreign.Sync(ctx, decl, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 2 {
		t.Errorf("synced %d tables, want 2", res.Tables)
	}
	if got := one(t, rep.URL, "SELECT count(*)::text FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id"); got != "1000" {
		t.Errorf("join across servers: %s", got)
	}
	// Change the password: the mapping is altered in place.
	exec(t, admin, fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", roleName, pw+"2"))
	password = pw + "2"
	res, err = foreign.Sync(ctx, decl, opts, false)
	if err != nil || !res.Changed || len(res.Setup) != 1 || !strings.HasPrefix(res.Setup[0], "alter user mapping for CURRENT_USER") {
		t.Fatalf("sync after a password change: %v %+v", err, res)
	}
	if got := one(t, rep.URL, "SELECT count(*)::text FROM shop.orders"); got != "1000" {
		t.Errorf("query after the password change: %s", got)
	}
	st, err := foreign.Status(ctx, decl, opts)
	if err != nil || st.Role == nil || !st.Role.ReadOnly() || len(st.Drift) != 0 {
		t.Errorf("status: %v %+v", err, st)
	}
	serverLog, err := os.ReadFile(c.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	// The test's own CREATE ROLE and ALTER ROLE set the passwords: those
	// lines are not strata's.
	var strataLog []string
	for _, l := range strings.Split(string(serverLog), "\n") {
		if !strings.Contains(l, " ROLE "+roleName) {
			strataLog = append(strataLog, l)
		}
	}
	for _, p := range []string{pw, pw + "2"} {
		for _, s := range []string{logs.String(), fmt.Sprintf("%+v %+v", res, st), strings.Join(strataLog, "\n")} {
			if strings.Contains(s, p) {
				t.Errorf("the password appears in output or logs: ...%s...", s[max(0, strings.Index(s, p)-200):strings.Index(s, p)])
			}
		}
	}
	if !strings.Contains(string(serverLog), "statement: GRANT") {
		t.Errorf("the server log does not log DDL, so grepping it proves nothing")
	}
}
