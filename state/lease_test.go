package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/state"
)

// v1 is the state schema as strata 0.1.0 installed it (no lease table),
// with a phase in progress.
const v1 = `CREATE SCHEMA strata;
CREATE TABLE strata.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE strata.history (schema_name text NOT NULL, name text NOT NULL, checksum text NOT NULL,
	version_schema text NOT NULL, started_at timestamptz NOT NULL, completed_at timestamptz NOT NULL,
	tool_version text NOT NULL, PRIMARY KEY (schema_name, name));
CREATE TABLE strata.phase (schema_name text PRIMARY KEY,
	state text NOT NULL CHECK (state IN ('starting', 'started', 'completing', 'aborting')),
	migrations jsonb NOT NULL, version_schema text NOT NULL, previous_schema text, plan jsonb NOT NULL,
	start_cursor int NOT NULL DEFAULT 0, complete_cursor int NOT NULL DEFAULT 0, abort_cursor int NOT NULL DEFAULT 0,
	started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), tool_version text NOT NULL);
CREATE TABLE strata.backfill (schema_name text NOT NULL, step text NOT NULL, table_name text NOT NULL,
	last_key jsonb, upper_key jsonb, rows_done bigint NOT NULL DEFAULT 0, rows_estimate bigint NOT NULL DEFAULT 0,
	size_before bigint NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT false,
	started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schema_name, step));
INSERT INTO strata.meta VALUES ('schema_version', '1');
INSERT INTO strata.phase (schema_name, state, migrations, version_schema, plan, start_cursor, tool_version)
	VALUES ('public', 'starting', '[{"name":"1_a","checksum":"c","file":"1_a.toml"}]', 'public_1_a', '{}', 3, '0.1.0');`

// TestInitMigratesV1: Init brings a version 1 state schema forward (the
// lease table) and keeps its phase; re-running it changes nothing.
func TestInitMigratesV1(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, v1)
	ctx := context.Background()
	conn := db.Conn(t)
	s := &state.Store{Schema: "strata"}
	if ok, err := s.LeaseInstalled(ctx, conn); err != nil || ok {
		t.Fatalf("lease table before init: %v %v", ok, err)
	}
	if ok, err := s.Current(ctx, conn); err != nil || ok {
		t.Fatalf("an old layout reads as current: %v %v", ok, err)
	}
	// status reads an old layout as it is (no throttle, no run columns).
	db.Exec(t, `INSERT INTO strata.backfill (schema_name, step, table_name, rows_done) VALUES ('public', 'bf#0', 'items', 42)`)
	if ph, err := s.Phase(ctx, conn, "public"); err != nil || ph == nil || ph.Throttle != nil {
		t.Fatalf("phase of an old layout: %+v %v", ph, err)
	}
	if cps, err := s.Checkpoints(ctx, conn, "public"); err != nil || len(cps) != 1 || cps[0].RowsDone != 42 || cps[0].RunRowsStart != 0 {
		t.Fatalf("checkpoints of an old layout: %+v %v", cps, err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Init(ctx, conn); err != nil {
			t.Fatalf("init #%d: %v", i+1, err)
		}
	}
	if ok, err := s.LeaseInstalled(ctx, conn); err != nil || !ok {
		t.Fatalf("no lease table after init: %v %v", ok, err)
	}
	if ok, err := s.Current(ctx, conn); err != nil || !ok {
		t.Fatalf("layout after init is not current: %v %v", ok, err)
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT value FROM strata.meta WHERE key = 'schema_version'").Scan(&v); err != nil || v != "4" {
		t.Fatalf("schema_version = %q (%v), want 4", v, err)
	}
	ph, err := s.Phase(ctx, conn, "public")
	if err != nil || ph == nil || ph.StartCursor != 3 || ph.Names()[0] != "1_a" {
		t.Fatalf("the phase did not survive: %+v %v", ph, err)
	}
	if h, err := s.Lease(ctx, conn); err != nil || h != nil {
		t.Fatalf("lease before any claim: %+v %v", h, err)
	}
}

// TestLease: a store's writes succeed while the lease names its run, and
// fail with ErrLeaseLost, writing nothing, once another run claimed it.
func TestLease(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	conn := db.Conn(t)
	if err := (&state.Store{Schema: "strata"}).Init(ctx, conn); err != nil {
		t.Fatal(err)
	}
	a := &state.Store{Schema: "strata", RunID: "run-a"}
	b := &state.Store{Schema: "strata", RunID: "run-b"}
	now := time.Now().Truncate(time.Second)
	ha := state.Holder{RunID: "run-a", PID: 11, Host: "ha", Command: "start", Schema: "public", StartedAt: now, BackendPID: 1, BackendStart: now}
	if err := a.Claim(ctx, conn, ha); err != nil {
		t.Fatal(err)
	}
	if h, err := a.Lease(ctx, conn); err != nil || h == nil || h.RunID != "run-a" || h.Host != "ha" || h.PID != 11 || !h.StartedAt.Equal(now) {
		t.Fatalf("lease = %+v, %v; want run-a's", h, err)
	}
	p := &state.Phase{Schema: "public", State: state.Starting, VersionSchema: "public_1",
		Migrations: []state.MigrationRef{{Name: "1"}}, Plan: json.RawMessage(`{}`), ToolVersion: "t"}
	if err := a.CreatePhase(ctx, conn, p); err != nil {
		t.Fatal(err)
	}
	cp := &backfill.Checkpoint{Step: "s#0", Table: "t", RowsDone: 5}
	if err := a.SaveCheckpoint(ctx, conn, "public", cp); err != nil {
		t.Fatal(err)
	}
	// Run b takes over.
	hb := ha
	hb.RunID, hb.PID = "run-b", 22
	if err := b.Claim(ctx, conn, hb); err != nil {
		t.Fatal(err)
	}
	cp.RowsDone = 99
	writes := map[string]error{
		"advance":    a.Advance(ctx, conn, "public", state.CursorStart, 7),
		"set state":  a.SetState(ctx, conn, "public", state.Started),
		"checkpoint": a.SaveCheckpoint(ctx, conn, "public", cp),
		"abort":      a.FinishAbort(ctx, conn, "public"),
	}
	for what, err := range writes {
		if !errors.Is(err, state.ErrLeaseLost) {
			t.Errorf("%s by the run that lost the lease: err = %v, want ErrLeaseLost", what, err)
		}
	}
	ph, err := a.Phase(ctx, conn, "public")
	if err != nil || ph == nil || ph.StartCursor != 0 || ph.State != state.Starting {
		t.Fatalf("the phase changed: %+v %v", ph, err)
	}
	cps, err := a.Checkpoints(ctx, conn, "public")
	if err != nil || len(cps) != 1 || cps[0].RowsDone != 5 {
		t.Fatalf("checkpoints = %+v %v; want rows_done 5", cps, err)
	}
	if err := b.Advance(ctx, conn, "public", state.CursorStart, 1); err != nil {
		t.Fatalf("the lease holder's write: %v", err)
	}
}
