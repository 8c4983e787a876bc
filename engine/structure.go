package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/catalog"
	"github.com/stratapg/strata/doctor"
	"github.com/stratapg/strata/dump"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/state"
)

// Structure reads the managed schema's structure and the names of the
// migrations applied to it, in one snapshot. It takes no lock and changes
// nothing.
func (m *Migrator) Structure(ctx context.Context) (*catalog.Schema, []string, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.Background())
	return m.structure(ctx, conn)
}

func (m *Migrator) structure(ctx context.Context, conn *pgx.Conn) (*catalog.Schema, []string, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(context.Background())
	s, err := catalog.Read(ctx, tx, m.opts.Schema)
	if err != nil {
		return nil, nil, err
	}
	applied := []string{}
	ok, err := m.store.Installed(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		hist, err := m.store.History(ctx, tx, m.opts.Schema)
		if err != nil {
			return nil, nil, err
		}
		for _, h := range hist {
			applied = append(applied, h.Name)
		}
	}
	return s, applied, nil
}

// Dump returns the text of strata dump for the managed schema.
func (m *Migrator) Dump(ctx context.Context) (string, error) {
	s, applied, err := m.Structure(ctx)
	if err != nil {
		return "", err
	}
	return dump.Text(s, applied), nil
}

// ReplayResult is the structure the migration folder produces.
type ReplayResult struct {
	Schema *catalog.Schema
	// Replayed are the migrations replayed (those the database's history
	// lists as applied); Pending those of the folder it does not.
	Replayed, Pending []string
}

// Replay replays the folder's migrations that the database lists as
// applied into a temporary database that it creates and drops on the same
// server (or into the empty database at shadowURL, which it leaves), and
// reads the structure they give.
func (m *Migrator) Replay(ctx context.Context, migs []*migration.Migration, shadowURL string) (*ReplayResult, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var done map[string]state.HistoryEntry
	if ok, err := m.store.Installed(ctx, conn); err != nil {
		return nil, err
	} else if ok {
		hist, err := m.store.History(ctx, conn, m.opts.Schema)
		if err != nil {
			return nil, err
		}
		done = map[string]state.HistoryEntry{}
		for _, h := range hist {
			done[h.Name] = h
		}
	}
	res := &ReplayResult{Replayed: []string{}, Pending: []string{}}
	var replay []*migration.Migration
	for _, mg := range migs {
		if _, ok := done[mg.Name]; ok {
			replay = append(replay, mg)
			res.Replayed = append(res.Replayed, mg.Name)
		} else {
			res.Pending = append(res.Pending, mg.Name)
		}
	}
	var shadow *Migrator
	opts := m.opts
	opts.SQLGate, opts.Logf, opts.Progress, opts.AfterStep, opts.AfterBatch = nil, nil, nil, nil, nil
	opts.AllowChanged = true
	if shadowURL != "" {
		if shadow, err = New(shadowURL, opts); err != nil {
			return nil, fmt.Errorf("--shadow-url: %w", err)
		}
	} else {
		name := "strata_drift_" + newRunID()
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("create the temporary database %s: %w (hint: strata's role needs CREATEDB, or pass --shadow-url with an empty database)", name, err)
		}
		defer func() {
			if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				m.logf("could not drop the temporary database %s: %v", name, err)
			}
		}()
		cfg := m.cfg.Copy()
		cfg.Database = name
		shadow = newMigrator(cfg, "", opts)
	}
	sc, err := shadow.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer sc.Close(context.Background())
	if _, err := sc.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{m.opts.Schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create schema %s in the replay database: %w", m.opts.Schema, err)
	}
	// The runs of the database's history, one at a time: migrations that
	// were started together are replayed together, and one that started
	// after another completed is replayed after it completed (it may fill
	// a table from the previous version, which a single run would not
	// have).
	for _, end := range runEnds(replay, done) {
		if _, err := shadow.Migrate(ctx, replay[:end]); err != nil && !errors.Is(err, ErrNothingPending) {
			return nil, fmt.Errorf("replay the migrations: %w", err)
		}
	}
	res.Schema, _, err = shadow.structure(ctx, sc)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// runEnds returns, for migs (applied ones, in order), the end index of
// each run the history records: expand/contract migrations of one run
// share the run's start time and version schema; a .sql migration is a run
// of its own.
func runEnds(migs []*migration.Migration, hist map[string]state.HistoryEntry) []int {
	var ends []int
	for i := range migs {
		if i+1 < len(migs) && !isSQL(migs[i]) && !isSQL(migs[i+1]) {
			a, b := hist[migs[i].Name], hist[migs[i+1].Name]
			if a.StartedAt.Equal(b.StartedAt) && a.VersionSchema == b.VersionSchema {
				continue
			}
		}
		ends = append(ends, i+1)
	}
	return ends
}

// RecordFile writes body as dir/name.sql and records it as applied
// without running it (strata baseline NAME, strata drift --write NAME).
// It refuses when the file exists or the history already has name.
func (m *Migrator) RecordFile(ctx context.Context, dir, name, body, source string) (string, error) {
	s, err := m.open(ctx, source)
	if err != nil {
		return "", err
	}
	defer s.close()
	ctx = s.ctx
	path := filepath.Join(dir, name+".sql")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", fmt.Errorf("%s: %w", source, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return "", fmt.Errorf("%s: %w (hint: choose another name; strata never overwrites a migration)", source, err)
	}
	_, err = f.WriteString(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("%s: write %s: %w", source, path, err)
	}
	sum := sha256.Sum256([]byte(body))
	err = m.exec.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		if err := s.st.Init(ctx, tx); err != nil {
			return err
		}
		if err := s.claim(tx); err != nil {
			return err
		}
		hist, err := s.st.AllHistory(ctx, tx, m.opts.Schema)
		if err != nil {
			return err
		}
		for _, h := range hist {
			if h.Name == name {
				return fmt.Errorf("%s: the history already has a migration named %s (hint: choose another name)", source, name)
			}
		}
		return s.st.RecordApplied(ctx, tx, m.opts.Schema, source, Version, []state.Applied{{Name: name, Kind: migration.KindSQL, Checksum: hex.EncodeToString(sum[:])}})
	})
	if err != nil {
		os.Remove(path)
		return "", s.wrap(err)
	}
	return path, nil
}

// Doctor reports what needs attention in the managed schema (see package
// doctor), plus .sql migrations whose run failed half-way. It takes no lock
// and changes nothing.
func (m *Migrator) Doctor(ctx context.Context) ([]doctor.Finding, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	ph, err := m.phase(ctx, tx)
	if err != nil {
		return nil, err
	}
	var major int
	if err := tx.QueryRow(ctx, `SELECT current_setting('server_version_num')::int / 10000`).Scan(&major); err != nil {
		return nil, err
	}
	out, err := doctor.Check(ctx, tx, doctor.Options{Schema: m.opts.Schema, PhaseInProgress: ph != nil, PGMajor: major})
	if err != nil {
		return nil, err
	}
	if ok, err := m.store.Installed(ctx, tx); err != nil {
		return nil, err
	} else if ok {
		all, err := m.store.AllHistory(ctx, tx, m.opts.Schema)
		if err != nil {
			return nil, err
		}
		for _, h := range all {
			if !h.Completed() {
				out = append(out, doctor.Finding{Severity: doctor.Error, Code: "interrupted_migration", Object: h.Name,
					Message: "the migration's run did not complete (" + h.Error + ")",
					Hint:    "fix the cause and run strata migrate again: a no-transaction file continues where it stopped"})
			}
		}
	}
	if ph != nil && ph.State != "" {
		out = append(out, doctor.Finding{Severity: doctor.Warning, Code: "phase_in_progress", Object: strings.Join(ph.Names(), ", "),
			Message: "an expand/contract phase is in progress (" + ph.State + ")", Hint: "strata complete or strata abort it before other schema changes"})
	}
	return out, nil
}
