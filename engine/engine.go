// Package engine runs strata's zero-downtime migrations: it plans the steps of
// an expand phase from the migration files and the database's catalog, and
// executes start, complete and abort, recording every step so that a crash
// at any point can be resumed or aborted.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/planner"
	"github.com/stratapg/strata/state"
)

// Load reads and validates the migrations of dir in fsys (an os.DirFS, an
// embed.FS, ...) for this Migrator's managed schema.
func (m *Migrator) Load(fsys fs.FS, dir string) ([]*migration.Migration, error) {
	migs, err := migration.Load(fsys, dir)
	if err != nil {
		return nil, err
	}
	return m.validate(migs)
}

// LoadDir reads and validates the migrations in a folder of the operating
// system's file system; errors name files as dir/file.
func (m *Migrator) LoadDir(dir string) ([]*migration.Migration, error) {
	migs, err := migration.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return m.validate(migs)
}

func (m *Migrator) validate(migs []*migration.Migration) ([]*migration.Migration, error) {
	var errs []error
	for _, mg := range migs {
		if err := mg.ValidateWith(m.validateOptions()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return migs, nil
}

// validateOptions are what this Migrator's migrations are validated for.
func (m *Migrator) validateOptions() migration.ValidateOptions {
	return migration.ValidateOptions{Schema: m.opts.Schema, StateSchema: m.opts.StateSchema, Style: m.opts.VersionSchemaStyle}
}

func (m *Migrator) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, m.cfg)
	if err != nil {
		return nil, pgerr.Connect(err, "")
	}
	return conn, nil
}

// Init installs the state schema; safe to re-run.
func (m *Migrator) Init(ctx context.Context) error {
	s, err := m.open(ctx, "init")
	if err != nil {
		return err
	}
	defer s.close()
	ctx = s.ctx
	return s.wrap(m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		if err := m.store.Init(ctx, tx); err != nil {
			return err
		}
		return s.claim(tx)
	}))
}

// phase reads the phase in progress (nil when none or not installed).
func (m *Migrator) phase(ctx context.Context, q state.Querier) (*state.Phase, error) {
	ok, err := m.store.Installed(ctx, q)
	if err != nil || !ok {
		return nil, err
	}
	return m.store.Phase(ctx, q, m.opts.Schema)
}

func (m *Migrator) history(ctx context.Context, q state.Querier) ([]state.HistoryEntry, error) {
	ok, err := m.store.Installed(ctx, q)
	if err != nil || !ok {
		return nil, err
	}
	return m.store.History(ctx, q, m.opts.Schema)
}

// pending returns the migrations not yet completed, checking that none of
// them comes before (in the folder's order: natural order of the file
// names) a migration that is already completed.
func pending(migs []*migration.Migration, hist []state.HistoryEntry) ([]*migration.Migration, error) {
	done := map[string]bool{}
	for _, h := range hist {
		done[h.Name] = true
	}
	last := -1 // the last completed migration in folder order
	for i, mg := range migs {
		if done[mg.Name] {
			last = i
		}
	}
	var out []*migration.Migration
	for i, mg := range migs {
		if done[mg.Name] {
			continue
		}
		if i < last {
			return nil, &planner.PlanError{Where: mg.File, Msg: fmt.Sprintf("migration %q comes before %q (%s) in the folder, which is already completed; rename the file so it sorts last (migrations run in natural order of their file names)",
				mg.Name, migs[last].Name, path.Base(migs[last].File))}
		}
		out = append(out, mg)
	}
	return out, nil
}

// latestSchema is the version schema of the latest completed
// expand/contract migration (.sql migrations have none).
func latestSchema(hist []state.HistoryEntry) string {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].VersionSchema != "" {
			return hist[i].VersionSchema
		}
	}
	return ""
}

// Plan computes the plan for the pending migrations without changing
// anything in the database. During a phase it returns ErrPhaseInProgress:
// PhasePlan returns the phase's stored plan.
func (m *Migrator) Plan(ctx context.Context, migs []*migration.Migration) (*Plan, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	defer m.exec.Monitor.Close()
	// During a phase the catalog is half-way between two versions: the
	// pending migrations cannot be planned against it. PhasePlan shows the
	// stored plan of the phase instead.
	ph, err := m.phase(ctx, conn)
	if err != nil {
		return nil, err
	}
	if ph != nil {
		return nil, fmt.Errorf("%w: %v is %s; its stored plan is shown by strata plan", ErrPhaseInProgress, ph.Names(), ph.State)
	}
	pend, hist, err := m.pending(ctx, conn, migs)
	if err != nil {
		return nil, err
	}
	// The .sql migrations before the first expand/contract one run as they
	// are; the plan is the phase that follows them.
	_, group := leadingSQL(pend)
	if len(group) == 0 {
		return nil, ErrNothingPending
	}
	pend = group
	return m.plan(ctx, conn, pend, latestSchema(hist))
}

// pending reads the history and returns it with the migrations not yet
// completed.
func (m *Migrator) pending(ctx context.Context, q state.Querier, migs []*migration.Migration) ([]*migration.Migration, []state.HistoryEntry, error) {
	hist, err := m.history(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	pend, err := pending(migs, hist)
	return pend, hist, err
}

// StartResult tells what start did.
type StartResult struct {
	// Applied are the .sql migrations that ran (before the phase).
	Applied []string
	// Migrations are the expand/contract migrations of the phase.
	Migrations    []string
	VersionSchema string
	Resumed       bool
}

// Start begins the expand phase for all pending migrations, or resumes an
// interrupted start of the same migrations.
func (m *Migrator) Start(ctx context.Context, migs []*migration.Migration) (*StartResult, error) {
	s, err := m.open(ctx, "start")
	if err != nil {
		return nil, err
	}
	defer s.close()
	res, err := m.start(s.ctx, s, migs)
	return res, s.wrap(err)
}

func (m *Migrator) start(ctx context.Context, s *session, migs []*migration.Migration) (*StartResult, error) {
	if m.opts.MaxReplicationLag > 0 {
		// Before anything changes: a lag this role cannot read is refused.
		if err := backfill.CheckReplicationLagReadable(ctx, s.conn); err != nil {
			return nil, err
		}
	}
	ph, err := m.phase(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	if ph != nil {
		if ph.State != state.Starting {
			return nil, fmt.Errorf("%w: %v is %s\nhint: run strata complete to finish it, or strata abort to undo it", ErrPhaseInProgress, ph.Names(), ph.State)
		}
		pend, _, err := m.pending(ctx, s.conn, migs)
		if err != nil {
			return nil, err
		}
		_, group := leadingSQL(pend)
		if !sameMigrations(ph.Migrations, group) {
			return nil, fmt.Errorf("%w: an interrupted start of %v is recorded, but the pending migrations are now different\nhint: run strata abort first", ErrPhaseInProgress, ph.Names())
		}
		if err := s.refusePhase(ph, plan.Start); err != nil {
			return nil, err
		}
		m.logf("resuming the interrupted start of %v", ph.Names())
		if err := m.useThrottle(ctx, s, ph); err != nil {
			return nil, err
		}
		if err := m.runStart(ctx, s, ph); err != nil {
			return nil, err
		}
		return &StartResult{Migrations: ph.Names(), VersionSchema: ph.VersionSchema, Resumed: true}, nil
	}
	pend, hist, err := m.pending(ctx, s.conn, migs)
	if err != nil {
		return nil, err
	}
	if len(pend) == 0 {
		return nil, ErrNothingPending
	}
	if err := m.checkChanged(migs, hist); err != nil {
		return nil, err
	}
	if m.opts.BeforeStart != nil {
		if err := m.opts.BeforeStart(ctx, pend); err != nil {
			return nil, err
		}
	}
	sqls, group := leadingSQL(pend)
	if !s.gated {
		if err := m.gate(sqls); err != nil {
			return nil, err
		}
	}
	if err := s.refuseNoTxSQL(sqls); err != nil {
		return nil, err
	}
	res := &StartResult{}
	prev := latestSchema(hist)
	for _, mg := range sqls {
		if err := m.runSQL(ctx, s, mg, prev); err != nil {
			return nil, err
		}
		res.Applied = append(res.Applied, mg.Name)
	}
	if len(group) == 0 {
		res.VersionSchema = prev
		return res, nil
	}
	pend = group
	pl, err := m.planStart(ctx, s.conn, pend, prev)
	if err != nil {
		return nil, err
	}
	if err := s.refuseNonTx(plan.Start, pl.Start); err != nil {
		if pe, ok := err.(*PoolerError); ok {
			pe.Applied = res.Applied
		}
		return nil, err
	}
	raw, err := json.Marshal(pl)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	throttle, err := json.Marshal(m.throttle())
	if err != nil {
		return nil, fmt.Errorf("encode throttle settings: %w", err)
	}
	ph = &state.Phase{Schema: m.opts.Schema, State: state.Starting, VersionSchema: pl.VersionSchema,
		PreviousSchema: pl.PreviousSchema, Plan: raw, ToolVersion: Version, Throttle: throttle}
	for _, mg := range pend {
		ph.Migrations = append(ph.Migrations, state.MigrationRef{Name: mg.Name, Checksum: mg.Checksum, File: mg.File})
	}
	err = m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		if err := m.store.Init(ctx, tx); err != nil {
			return err
		}
		if err := s.claim(tx); err != nil {
			return err
		}
		return s.st.CreatePhase(ctx, tx, ph)
	})
	if err != nil {
		return nil, err
	}
	m.logf("starting %v: old version %s, new version %s", ph.Names(), orBase(pl.PreviousSchema), pl.VersionSchema)
	// Re-read so the cursors and timestamps come from the database.
	if ph, err = m.store.Phase(ctx, s.conn, m.opts.Schema); err != nil {
		return nil, err
	}
	if err := m.runStart(ctx, s, ph); err != nil {
		return nil, err
	}
	res.Migrations, res.VersionSchema = ph.Names(), ph.VersionSchema
	return res, nil
}

func orBase(s string) string {
	if s == "" {
		return "(base tables)"
	}
	return s
}

func sameMigrations(a []state.MigrationRef, b []*migration.Migration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Checksum != b[i].Checksum {
			return false
		}
	}
	return true
}

// Complete contracts the phase in progress to the new shape.
func (m *Migrator) Complete(ctx context.Context) ([]string, error) {
	return m.CompleteWith(ctx, CompleteOptions{})
}

// CompleteOptions make complete look for sessions still using the old
// version first.
type CompleteOptions struct {
	// Watch samples the sessions (see Clients) for this long before
	// anything changes; 0 does not look.
	Watch time.Duration
	// RequireIdleOld refuses, with an *OldVersionInUseError and nothing
	// changed, when the watch saw a session using the old version.
	RequireIdleOld bool
	// Seen receives what the watch saw, before anything changes.
	Seen func(*Clients)
}

// CompleteWith is Complete, first watching for sessions still using the old
// version as o says.
func (m *Migrator) CompleteWith(ctx context.Context, o CompleteOptions) ([]string, error) {
	s, err := m.open(ctx, "complete")
	if err != nil {
		return nil, err
	}
	defer s.close()
	names, err := m.complete(s.ctx, s, o)
	return names, s.wrap(err)
}

func (m *Migrator) complete(ctx context.Context, s *session, o CompleteOptions) ([]string, error) {
	ph, err := m.phase(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	if ph == nil {
		return nil, ErrNoPhase
	}
	switch ph.State {
	case state.Starting:
		return nil, fmt.Errorf("%w: start of %v has not finished\nhint: run strata start to resume it, or strata abort to undo it", ErrPhaseInProgress, ph.Names())
	case state.Aborting:
		return nil, fmt.Errorf("%w: abort of %v has not finished\nhint: run strata abort to resume it", ErrPhaseInProgress, ph.Names())
	}
	if o.Watch > 0 {
		m.logf("watching for sessions of the old version for %s", o.Watch)
		c, err := m.watchClients(ctx, s.conn, ClientsOptions{Watch: o.Watch})
		if err != nil {
			return nil, err
		}
		if o.Seen != nil {
			o.Seen(c)
		}
		if inUse := c.OldInUse(); o.RequireIdleOld && len(inUse) > 0 {
			return nil, &OldVersionInUseError{Clients: c, Sessions: inUse}
		}
	}
	if err := s.refusePhase(ph, plan.Complete); err != nil {
		return nil, err
	}
	if err := m.useThrottle(ctx, s, ph); err != nil {
		return nil, err
	}
	if err := m.setState(ctx, s, state.Completing); err != nil {
		return nil, err
	}
	ph.State = state.Completing
	m.logf("completing %v", ph.Names())
	if err := m.run(ctx, s, ph, plan.Complete); err != nil {
		return nil, err
	}
	return ph.Names(), nil
}

// Abort undoes the phase in progress, whatever state it is in.
func (m *Migrator) Abort(ctx context.Context) ([]string, error) {
	s, err := m.open(ctx, "abort")
	if err != nil {
		return nil, err
	}
	defer s.close()
	names, err := m.abort(s.ctx, s)
	return names, s.wrap(err)
}

func (m *Migrator) abort(ctx context.Context, s *session) ([]string, error) {
	ph, err := m.phase(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	if ph == nil {
		return nil, ErrNoPhase
	}
	if err := s.refusePhase(ph, plan.Abort); err != nil {
		return nil, err
	}
	if err := m.setState(ctx, s, state.Aborting); err != nil {
		return nil, err
	}
	ph.State = state.Aborting
	m.logf("aborting %v", ph.Names())
	if err := m.run(ctx, s, ph, plan.Abort); err != nil {
		return nil, err
	}
	return ph.Names(), nil
}

// Migrate applies every pending migration in order: each .sql migration
// runs in one go, each run of expand/contract migrations is started and
// completed. Every pending .sql migration passes Options.SQLGate before
// anything runs.
func (m *Migrator) Migrate(ctx context.Context, migs []*migration.Migration) (*StartResult, error) {
	s, err := m.open(ctx, "migrate")
	if err != nil {
		return nil, err
	}
	defer s.close()
	ctx = s.ctx
	pend, hist, err := m.pending(ctx, s.conn, migs)
	if err != nil {
		return nil, s.wrap(err)
	}
	if err := m.checkChanged(migs, hist); err != nil {
		return nil, err
	}
	if err := m.gate(pend); err != nil {
		return nil, err
	}
	if err := s.refuseNoTxSQL(pend); err != nil {
		return nil, err
	}
	s.gated = true
	total := &StartResult{}
	for first := true; ; first = false {
		res, err := m.start(ctx, s, migs)
		if errors.Is(err, ErrNothingPending) && !first {
			return total, nil
		}
		if err != nil {
			return nil, s.wrap(err)
		}
		total.Applied = append(total.Applied, res.Applied...)
		total.Migrations = append(total.Migrations, res.Migrations...)
		total.VersionSchema = res.VersionSchema
		if len(res.Migrations) == 0 {
			continue // only .sql migrations ran: the rest is applied
		}
		if _, err := m.complete(ctx, s, CompleteOptions{}); err != nil {
			return nil, s.wrap(err)
		}
	}
}

// setState moves the phase to a new state, checking the lease.
func (m *Migrator) setState(ctx context.Context, s *session, st string) error {
	return m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error { return s.st.SetState(ctx, tx, m.opts.Schema, st) })
}
