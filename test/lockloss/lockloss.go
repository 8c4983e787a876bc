// Package lockloss runs paired strata runs in which the first one loses its
// exclusion lock during a long backfill, and counts, from the database's
// side, the writes the first one committed after the second one began to
// act (overlaps; there must be none). The test of this package and the
// benchmark's -lockloss mode use it.
//
// Each pair runs in a fresh database owned by a plain login role
// (strata_lockloss), with two Migrators in this process (A and B): their
// connections carry strata_test.who = A or B. A deferred constraint trigger
// on the backfilled table and on strata's state tables writes one ledger row
// per committed transaction, at commit, under a transaction advisory lock:
// the ledger's sequence is the commit order. An overlap is a transaction of
// A that committed after B's first.
//
// Modes:
//
//   - kill: once A has committed a few batches, pg_terminate_backend ends
//     the backend of A's lock connection and B starts (--lock-wait 10s). A
//     must stop with "strata lost its lock"; B must resume and finish.
//   - idle: idle_session_timeout = 1s is set for the server (ALTER SYSTEM,
//     reloaded) before A starts, as a DBA's standing policy (a session that
//     is already idle does not read a reloaded setting until it runs
//     something), and for the role once A has committed a few batches; 1.5 s
//     later B starts (--lock-wait 1s). A's lock connection must survive: A
//     finishes, B refuses with "another strata (pid ...)". This mode changes
//     server settings: only use it on a server of one's own.
package lockloss

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgexec"
)

// Mode is how the first strata loses (or would lose) its lock.
type Mode string

// The modes.
const (
	Kill Mode = "kill"
	Idle Mode = "idle"
)

// Role is the login role the strata runs connect as.
const Role = "strata_lockloss"

const rolePassword = "lockloss"

// Config configures a pair.
type Config struct {
	AdminURL string // a superuser's connection to the server
	Mode     Mode
	Rows     int     // rows of the backfilled table; default 6000
	Rate     float64 // backfill rows per second (batches of 50); default 3000 (idle: 1500)
}

// Outcome is what one pair did.
type Outcome struct {
	Overlaps     int   // transactions of A committed after B's first
	ARows, BRows int   // committed transactions of A and of B
	FirstErr     error // A's Start
	SecondErr    error // B's Start
	Problems     []string
}

func (o *Outcome) String() string {
	s := fmt.Sprintf("overlaps %d, A committed %d, B committed %d; A: %v; B: %v", o.Overlaps, o.ARows, o.BRows, o.FirstErr, o.SecondErr)
	if len(o.Problems) > 0 {
		s += "; problems: " + strings.Join(o.Problems, "; ")
	}
	return s
}

const migrationName = "001_widen"

const migrationTOML = `
[[actions]]
type = "alter_column"
table = "items"
column = "val"
up = "val::bigint"
down = "val::int"
  [actions.changes]
  type = "bigint"
`

const setupSQL = `
CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, val int NOT NULL);
INSERT INTO items (val) SELECT g FROM generate_series(1, %d) g;
ANALYZE items;
CREATE TABLE ledger (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, xid bigint UNIQUE NOT NULL,
	who text NOT NULL, what text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION ledger_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- At commit (deferred), one at a time: seq is the commit order.
	PERFORM pg_advisory_xact_lock(74747474);
	INSERT INTO public.ledger (xid, who, what)
	VALUES (txid_current(), coalesce(nullif(current_setting('strata_test.who', true), ''), '?'), TG_TABLE_NAME)
	ON CONFLICT (xid) DO NOTHING;
	RETURN NULL;
END $$;
`

func ledgerTrigger(table string) string {
	return `CREATE CONSTRAINT TRIGGER ledger AFTER INSERT OR UPDATE OR DELETE ON ` + table +
		` DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.ledger_note()`
}

// Pair runs one pair and reports what happened; the error is a failure of
// the harness itself.
func Pair(ctx context.Context, cfg Config) (*Outcome, error) {
	if cfg.Rows <= 0 {
		cfg.Rows = 6000
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 3000
		if cfg.Mode == Idle {
			cfg.Rate = 1500 // A must still run when B gives up waiting
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "SET idle_session_timeout = 0"); err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '`+Role+`') THEN
			CREATE ROLE `+Role+` LOGIN PASSWORD '`+rolePassword+`';
		END IF; END $$`); err != nil {
		return nil, fmt.Errorf("create role: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "strata_lockloss_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db+" OWNER "+Role); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = admin.Exec(c, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	}()
	urlFor := func(who string) (string, error) { return roleDSN(cfg.AdminURL, db, who) }
	setupURL, err := urlFor("setup")
	if err != nil {
		return nil, err
	}
	setup, err := pgx.Connect(ctx, setupURL)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", Role, err)
	}
	defer setup.Close(context.Background())
	if _, err := setup.Exec(ctx, "SET idle_session_timeout = 0"); err != nil {
		return nil, err
	}
	if _, err := setup.Exec(ctx, fmt.Sprintf(setupSQL, cfg.Rows)); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	dir, err := os.MkdirTemp("", "strata-lockloss-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, migrationName+".toml"), []byte(migrationTOML), 0o644); err != nil {
		return nil, err
	}

	newMigrator := func(who string, wait time.Duration) (*engine.Migrator, error) {
		u, err := urlFor(who)
		if err != nil {
			return nil, err
		}
		return engine.New(u, engine.Options{BatchSize: 50, BatchTarget: -1, MaxRowsPerSecond: cfg.Rate,
			LockWait: wait, LockDeadline: time.Minute})
	}
	a, err := newMigrator("A", 0)
	if err != nil {
		return nil, err
	}
	bWait := 10 * time.Second
	if cfg.Mode == Idle {
		bWait = time.Second
	}
	bm, err := newMigrator("B", bWait)
	if err != nil {
		return nil, err
	}
	migs, err := a.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	if err := a.Init(ctx); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	for _, tbl := range []string{"public.items", "strata.phase", "strata.backfill", "strata.lease"} {
		var ok bool
		if err := setup.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", tbl).Scan(&ok); err != nil {
			return nil, err
		}
		if ok {
			if _, err := setup.Exec(ctx, ledgerTrigger(tbl)); err != nil {
				return nil, fmt.Errorf("ledger trigger on %s: %w", tbl, err)
			}
		}
	}

	if cfg.Mode == Idle {
		// The server's setting is in place before A starts (a DBA's policy:
		// an idle session does not read a reloaded setting until it runs
		// something); the role's is set during the backfill.
		for _, q := range []string{"ALTER SYSTEM SET idle_session_timeout = '1s'", "SELECT pg_reload_conf()"} {
			if _, err := admin.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("%s: %w", q, err)
			}
		}
		defer func() {
			c, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, q := range []string{"ALTER SYSTEM RESET idle_session_timeout",
				"ALTER ROLE " + Role + " RESET idle_session_timeout", "SELECT pg_reload_conf()"} {
				_, _ = admin.Exec(c, q)
			}
		}()
	}
	out := &Outcome{}
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Start(ctx, migs)
		aDone <- err
	}()
	// Wait until A is backfilling: a few batches committed.
	for {
		var n int
		if err := setup.QueryRow(ctx, "SELECT count(*) FROM ledger WHERE who = 'A' AND what = 'items'").Scan(&n); err != nil {
			return nil, err
		}
		if n >= 3 {
			break
		}
		select {
		case err := <-aDone:
			return nil, fmt.Errorf("the first strata finished before it could be disturbed (%v): make the backfill longer", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	switch cfg.Mode {
	case Kill:
		var n int
		err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l
			JOIN pg_database d ON d.oid = l.database AND d.datname = $2
			WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			  AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid`,
			pgexec.AdvisoryKey("strata"), db).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("terminate A's lock connection: %w", err)
		}
		if n != 1 {
			out.Problems = append(out.Problems, fmt.Sprintf("terminated %d lock backends, want 1", n))
		}
	case Idle:
		q := "ALTER ROLE " + Role + " SET idle_session_timeout = '1s'"
		if _, err := admin.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		time.Sleep(1500 * time.Millisecond)
	default:
		return nil, fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	_, out.SecondErr = bm.Start(ctx, migs)
	out.FirstErr = <-aDone

	// The ledger: committed transactions of each run, in commit order.
	err = setup.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE who = 'A'),
			count(*) FILTER (WHERE who = 'B'),
			count(*) FILTER (WHERE who = 'A' AND seq > (SELECT min(seq) FROM ledger WHERE who = 'B'))
		FROM ledger`).Scan(&out.ARows, &out.BRows, &out.Overlaps)
	if err != nil {
		return nil, fmt.Errorf("read the ledger: %w", err)
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			out.Problems = append(out.Problems, fmt.Sprintf(format, args...))
		}
	}
	switch cfg.Mode {
	case Kill:
		check(out.FirstErr != nil && strings.Contains(out.FirstErr.Error(), "strata lost its lock") &&
			strings.Contains(out.FirstErr.Error(), "hint:"),
			"A (its lock connection terminated) did not stop with a clear error: %v", out.FirstErr)
		check(out.SecondErr == nil, "B did not resume and finish the start: %v", out.SecondErr)
		check(out.BRows > 0, "B committed nothing")
	case Idle:
		check(out.FirstErr == nil, "A (lock connection under idle_session_timeout) did not finish: %v", out.FirstErr)
		check(out.SecondErr != nil && strings.Contains(out.SecondErr.Error(), "another strata (pid"),
			"B did not refuse naming the holder: %v", out.SecondErr)
	}
	// Whoever finished, the start is done once and the data is whole.
	var state string
	if err := setup.QueryRow(ctx, `SELECT coalesce((SELECT state FROM strata.phase), 'none')`).Scan(&state); err != nil {
		return nil, err
	}
	check(state == "started", "phase is %s, want started", state)
	if state == "started" {
		var rows, bad int
		err := setup.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE val IS DISTINCT FROM id)
			FROM "public_`+migrationName+`".items`).Scan(&rows, &bad)
		if err != nil {
			return nil, fmt.Errorf("check the new version: %w", err)
		}
		check(rows == cfg.Rows && bad == 0, "new version: %d rows, %d with a wrong val; want %d, 0", rows, bad, cfg.Rows)
	}
	return out, nil
}

// roleDSN is a key=value connection string for the role on database db of
// adminURL's server, its connections marked strata_test.who = who.
func roleDSN(adminURL, db, who string) (string, error) {
	c, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return "", err
	}
	q := func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	parts := []string{"host=" + q(c.Host), fmt.Sprintf("port=%d", c.Port), "dbname=" + q(db),
		"user=" + Role, "password=" + rolePassword, "options=" + q("-c strata_test.who="+who)}
	if c.TLSConfig == nil {
		parts = append(parts, "sslmode=disable")
	}
	return strings.Join(parts, " "), nil
}
