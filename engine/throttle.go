package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/state"
)

// Throttle is the backfill settings a phase runs with. Start records them
// with the phase; a resumed start, and complete, run with them again unless
// Options.ThrottleGiven says a setting was given anew (it then wins and is
// recorded). Its JSON form is stored in the state schema and shown by
// status: durations are in seconds.
type Throttle struct {
	BatchSize                int     `json:"batch_size"`
	BatchTargetSeconds       float64 `json:"batch_target_seconds"`
	BackfillWorkers          int     `json:"backfill_workers"`
	MaxRowsPerSecond         float64 `json:"max_rows_per_second"`
	MaxReplicationLagSeconds float64 `json:"max_replication_lag_seconds"`
	MaxAppLatencySeconds     float64 `json:"max_app_latency_seconds"`
	BackfillVacuumEvery      float64 `json:"backfill_vacuum_every"`
}

// ThrottleSettings are the names of the settings of a Throttle, as the
// command line spells its flags; Options.ThrottleGiven is asked about these.
var ThrottleSettings = []string{"batch-size", "batch-target", "backfill-workers", "max-rows-per-second",
	"max-replication-lag", "max-app-latency", "backfill-vacuum-every"}

func secs(d time.Duration) float64 { return d.Seconds() }

func dur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// throttle returns the settings of m's options.
func (m *Migrator) throttle() Throttle {
	o := m.opts
	return Throttle{BatchSize: o.BatchSize, BatchTargetSeconds: secs(o.BatchTarget), BackfillWorkers: max(o.Workers, 1),
		MaxRowsPerSecond: o.MaxRowsPerSecond, MaxReplicationLagSeconds: secs(o.MaxReplicationLag),
		MaxAppLatencySeconds: secs(o.MaxAppLatency), BackfillVacuumEvery: o.VacuumFraction}
}

// given says whether the setting name was given for this run (all are when
// Options.ThrottleGiven is nil).
func (m *Migrator) given(name string) bool {
	return m.opts.ThrottleGiven == nil || m.opts.ThrottleGiven(name)
}

// useThrottle makes m run with the settings recorded with ph, except those
// given for this run, and records the result when it differs.
func (m *Migrator) useThrottle(ctx context.Context, s *session, ph *state.Phase) error {
	if len(ph.Throttle) > 0 {
		var t Throttle
		if err := json.Unmarshal(ph.Throttle, &t); err != nil {
			return fmt.Errorf("decode the phase's throttle settings: %w", err)
		}
		o := &m.opts
		for _, n := range ThrottleSettings {
			if m.given(n) {
				continue
			}
			switch n {
			case "batch-size":
				o.BatchSize = t.BatchSize
			case "batch-target":
				o.BatchTarget = dur(t.BatchTargetSeconds)
			case "backfill-workers":
				o.Workers = t.BackfillWorkers
			case "max-rows-per-second":
				o.MaxRowsPerSecond = t.MaxRowsPerSecond
			case "max-replication-lag":
				o.MaxReplicationLag = dur(t.MaxReplicationLagSeconds)
			case "max-app-latency":
				o.MaxAppLatency = dur(t.MaxAppLatencySeconds)
			case "backfill-vacuum-every":
				o.VacuumFraction = t.BackfillVacuumEvery
			}
		}
		if o.BatchSize <= 0 {
			o.BatchSize = 1000
		}
	}
	raw, err := json.Marshal(m.throttle())
	if err != nil {
		return err
	}
	if bytes.Equal(compactJSON(ph.Throttle), raw) {
		return nil
	}
	if err := m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error { return s.st.SetThrottle(ctx, tx, ph.Schema, raw) }); err != nil {
		return err
	}
	ph.Throttle = raw
	return nil
}

// compactJSON re-encodes a stored JSON object in Go's field order (jsonb
// reorders keys), so that equal settings compare equal.
func compactJSON(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	var t Throttle
	if json.Unmarshal(raw, &t) != nil {
		return nil
	}
	b, _ := json.Marshal(t)
	return b
}
