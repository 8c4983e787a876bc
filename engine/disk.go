package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// SpaceOptions configure the space and pacing of backfills (embedded in
// Options).
type SpaceOptions struct {
	// VacuumFraction is the share of a table's rows filled between two
	// VACUUMs of space reuse; 0 is backfill.DefaultVacuumFraction,
	// negative turns space reuse off.
	VacuumFraction float64
	// AppRest is the pause after a batch while the application is active,
	// as a multiple of the batch's duration; 0 is backfill.DefaultAppRest,
	// negative: never pause.
	AppRest float64
	// MaxAppLatency caps batch durations at half of it and slows the
	// backfill while an application statement runs longer; 0 is off.
	MaxAppLatency time.Duration
	// IgnoreDiskCheck lets start go on when the free disk strata can see
	// is less than the worst case of its backfills.
	IgnoreDiskCheck bool
}

// statfs is syscall.Statfs; tests replace it.
var statfs = syscall.Statfs

// ErrDiskSpace is matched by the error of a start refused because the free
// disk strata can see is less than its backfills' worst case.
var ErrDiskSpace = errors.New("not enough free disk for the backfills' worst case")

// TableSpace is the size report of one table a plan backfills.
type TableSpace struct {
	Table string `json:"table"`
	// Size is pg_total_relation_size (heap, TOAST, indexes) now.
	Size int64 `json:"size_bytes"`
	// Expected is the extra size expected with space reuse; Worst the
	// extra size when nothing can be reused (every row written twice).
	Expected int64 `json:"expected_extra_bytes"`
	Worst    int64 `json:"worst_extra_bytes"`
}

// DiskReport is what a plan's backfills may need and the free disk strata
// can see.
type DiskReport struct {
	Tables []TableSpace `json:"tables"`
	// Free is the free space of the file system of the data directory (or
	// the tables' tablespace) in bytes, -1 when strata cannot see it.
	Free int64 `json:"free_bytes"`
	// Where says which file system, or why it is not visible.
	Where string `json:"free_where"`
}

// Worst sums the worst case of every table.
func (d *DiskReport) Worst() int64 {
	var n int64
	for _, t := range d.Tables {
		n += t.Worst
	}
	return n
}

func (m *Migrator) vacuumFraction() float64 {
	switch {
	case m.opts.VacuumFraction < 0:
		return 0
	case m.opts.VacuumFraction == 0:
		return backfill.DefaultVacuumFraction
	}
	return m.opts.VacuumFraction
}

// diskReport sizes the backfills of steps and looks for the free disk.
func (m *Migrator) diskReport(ctx context.Context, conn rowQuerier, steps []Step) (*DiskReport, error) {
	d := &DiskReport{Tables: []TableSpace{}, Free: -1}
	seen := map[string]bool{}
	var first string
	for _, st := range steps {
		if st.Kind != plan.KindBackfill || st.Backfill == nil {
			continue
		}
		tq := pgx.Identifier{st.Backfill.Schema, st.Backfill.Table}.Sanitize()
		if seen[tq] {
			continue
		}
		seen[tq] = true
		var size int64
		// The table may not exist yet (created by the same plan): size 0.
		if err := conn.QueryRow(ctx, `SELECT coalesce(pg_total_relation_size(to_regclass($1)), 0)`, tq).Scan(&size); err != nil {
			return nil, fmt.Errorf("size of %s: %w", tq, err)
		}
		d.Tables = append(d.Tables, TableSpace{Table: st.Backfill.Table, Size: size,
			Expected: backfill.ExpectedExtra(size, m.vacuumFraction()), Worst: size})
		if first == "" {
			first = tq
		}
	}
	if first == "" {
		return d, nil
	}
	d.Free, d.Where = m.freeDisk(ctx, conn, first)
	return d, nil
}

// freeDisk is the free space of the file system holding table, when strata
// can see it: PostgreSQL has no function for it, so only when the server
// runs on this machine (a Unix socket or a loopback address, and the data
// directory's postmaster.pid, when readable, names the server's start
// time) and the role may read data_directory (superuser or
// pg_read_all_settings); statfs of the tablespace's directory then.
func (m *Migrator) freeDisk(ctx context.Context, conn rowQuerier, table string) (int64, string) {
	host := m.cfg.Host
	if !(strings.HasPrefix(host, "/") || host == "localhost" || host == "127.0.0.1" || host == "::1") {
		return -1, "not visible: the server is not on this machine (PostgreSQL gives no free-disk figure)"
	}
	var dir, spc *string
	var started int64
	err := conn.QueryRow(ctx, `SELECT CASE WHEN pg_has_role('pg_read_all_settings', 'USAGE') THEN current_setting('data_directory') END,
		nullif(pg_tablespace_location(coalesce(nullif(c.reltablespace, 0), d.dattablespace)), ''),
		extract(epoch FROM pg_postmaster_start_time())::bigint
		FROM pg_class c, pg_database d WHERE c.oid = to_regclass($1) AND d.datname = current_database()`, table).Scan(&dir, &spc, &started)
	if err != nil {
		return -1, "not visible: " + err.Error()
	}
	if dir == nil {
		return -1, "not visible: the role cannot read data_directory (needs pg_read_all_settings)"
	}
	if b, err := os.ReadFile(filepath.Join(*dir, "postmaster.pid")); err == nil {
		lines := strings.Split(string(b), "\n")
		var at int64 = -1 << 62
		if len(lines) >= 3 {
			at, _ = strconv.ParseInt(strings.TrimSpace(lines[2]), 10, 64)
		}
		if d := at - started; d < -2 || d > 2 {
			return -1, "not visible: " + *dir + " on this machine belongs to another server"
		}
	} else if !errors.Is(err, os.ErrPermission) {
		return -1, "not visible: the data directory " + *dir + " is not on this machine"
	}
	path := *dir
	if spc != nil {
		path = *spc
	}
	var fs syscall.Statfs_t
	if err := statfs(path, &fs); err != nil {
		return -1, "not visible: statfs " + path + ": " + err.Error()
	}
	return int64(fs.Bavail) * int64(fs.Bsize), path
}

// planStart plans a start and refuses it when the free disk strata can see
// is less than the worst case of its backfills (unless IgnoreDiskCheck).
func (m *Migrator) planStart(ctx context.Context, conn *pgx.Conn, pend []*migration.Migration, prev string) (*Plan, error) {
	pl, err := m.plan(ctx, conn, pend, prev)
	if err != nil {
		return nil, err
	}
	// In a transaction: SET LOCAL strata's settings (no statement_timeout).
	var d *DiskReport
	if err := m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		d, err = m.diskReport(ctx, tx, pl.Start)
		return err
	}); err != nil || len(d.Tables) == 0 {
		return pl, err
	}
	for _, t := range d.Tables {
		m.logf("backfill of %s: table %s, expected extra size %s (worst case, if space cannot be reused: %s)",
			t.Table, BytesText(t.Size), BytesText(t.Expected), BytesText(t.Worst))
	}
	if d.Free < 0 {
		m.logf("free disk: %s", d.Where)
		return pl, nil
	}
	m.logf("free disk: %s at %s", BytesText(d.Free), d.Where)
	if d.Free < d.Worst() && !m.opts.IgnoreDiskCheck {
		return nil, fmt.Errorf("%w: the backfills of this start may need up to %s of disk if space cannot be reused (an old snapshot, a replication slot or a prepared transaction holding it), and %s has %s free\nhint: free disk space, or run again with --ignore-disk-check if nothing will hold space back (strata names what does in its progress output)",
			ErrDiskSpace, BytesText(d.Worst()), d.Where, BytesText(d.Free))
	}
	return pl, nil
}

// BytesText renders a size for people (backfill.BytesText).
func BytesText(n int64) string { return backfill.BytesText(n) }

// SpaceReport sizes the backfills of a plan's start for people: each
// table's size, the extra size expected with space reuse and the worst
// case, and the free disk strata can see (strata plan prints it).
func (m *Migrator) SpaceReport(ctx context.Context, pl *Plan) (*DiskReport, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var d *DiskReport
	err = m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		d, err = m.diskReport(ctx, tx, pl.Start)
		return err
	})
	return d, err
}

// rowQuerier is a connection or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
