package state_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgtest"
	"github.com/stratapg/strata/state"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestPhaseLifecycle(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	conn := db.Conn(t)
	s := &state.Store{Schema: "strata state"} // quoting works
	if ok, err := s.Installed(ctx, conn); err != nil || ok {
		t.Fatalf("installed before init: %v %v", ok, err)
	}
	for i := 0; i < 2; i++ { // init is safe to re-run
		if err := s.Init(ctx, conn); err != nil {
			t.Fatalf("init #%d: %v", i+1, err)
		}
	}
	if ph, err := s.Phase(ctx, conn, "public"); err != nil || ph != nil {
		t.Fatalf("phase before any: %v %v", ph, err)
	}
	p := &state.Phase{Schema: "public", State: state.Starting, VersionSchema: "public_10_b",
		Migrations: []state.MigrationRef{{Name: "9_a", Checksum: "c9"}, {Name: "10_b", Checksum: "c10"}},
		Plan:       json.RawMessage(`{"version":1}`), ToolVersion: "test"}
	if err := s.CreatePhase(ctx, conn, p); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePhase(ctx, conn, p); err == nil {
		t.Fatal("a second phase for the same schema was accepted")
	}
	if err := s.Advance(ctx, conn, "public", state.CursorStart, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, conn, "public", "bogus", 1); err == nil {
		t.Fatal("unknown cursor accepted")
	}
	if err := s.SetState(ctx, conn, "public", state.Started); err != nil {
		t.Fatal(err)
	}
	got, err := s.Phase(ctx, conn, "public")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != state.Started || got.StartCursor != 3 || got.VersionSchema != "public_10_b" ||
		!cmp.Equal(got.Names(), []string{"9_a", "10_b"}) {
		t.Fatalf("phase read back: %+v", got)
	}
	if err := s.SaveCheckpoint(ctx, conn, "public", &backfill.Checkpoint{Step: "bf#0", Table: "t", RowsDone: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishComplete(ctx, conn, got, "test"); err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(ctx, conn, "public")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hist {
		names = append(names, h.Name)
	}
	// Completed together: natural order, 9 before 10.
	if diff := cmp.Diff([]string{"9_a", "10_b"}, names); diff != "" {
		t.Errorf("history order (-want +got):\n%s", diff)
	}
	if ph, _ := s.Phase(ctx, conn, "public"); ph != nil {
		t.Error("phase left after FinishComplete")
	}
	if cps, _ := s.Checkpoints(ctx, conn, "public"); len(cps) != 0 {
		t.Errorf("checkpoints left after FinishComplete: %v", cps)
	}
}
