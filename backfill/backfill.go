// Package backfill fills new columns of existing rows in batches, close to
// the speed of a single UPDATE but without ever holding more than one short
// transaction's row locks:
//
//   - Each batch is one short transaction over a bounded key range, whose end
//     is found by an index range scan from the last key, so a batch costs the
//     same at the start and at the end of the table.
//   - The batch size adapts to aim at a target batch duration.
//   - Optional parallel workers fill disjoint key ranges, split at quantiles
//     of a sample of the key.
//   - The range ends at the largest key that existed when the backfill
//     began: rows inserted later are handled by the sync triggers, so the
//     backfill does not chase them.
//   - Each worker's last key is checkpointed in the same transaction as its
//     batch, so a crash resumes exactly where it stopped.
//   - Tables without a usable key are filled by physical (ctid) page ranges.
//   - Optional throttle (rows per second) and a pause while replication lag
//     exceeds a limit.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/plan"
)

// Spec says which table to fill and how: the backfill step of a plan.
type Spec = plan.BackfillSpec

// RangePlaceholder marks where a Spec.Statement takes the batch's key range.
const RangePlaceholder = plan.RangePlaceholder

// Checkpoint is the progress of one worker's range of a backfill step: the
// step's name with "#" and the range's number, the last key filled and the
// key the range ends at. Key values are text; in ctid mode the key is a
// page number.
type Checkpoint struct {
	Step         string
	Table        string
	LastKey      []*string // nil before the first batch
	UpperKey     []*string // nil when the table was empty
	RowsDone     int64
	RowsEstimate int64
	SizeBefore   int64 // table size in bytes when the backfill began
	Done         bool
	StartedAt    time.Time
	UpdatedAt    time.Time
	// RunRowsStart is RowsDone when the current run (the first, or the
	// resume that last picked the range up) began; RunElapsed how long
	// that run had been filling the range at this checkpoint. Rates count
	// only this run's rows (see Rate).
	RunRowsStart int64
	RunElapsed   time.Duration
	// runStart is when this run picked the range up (not stored).
	runStart time.Time
}

// Rate is the backfill rate strata reports everywhere (progress lines,
// status in text and JSON): the rows this run filled over the time it ran.
// Rows an earlier, interrupted run filled do not count.
func Rate(rowsThisRun int64, elapsed time.Duration) float64 {
	if s := elapsed.Seconds(); s > 0 && rowsThisRun > 0 {
		return float64(rowsThisRun) / s
	}
	return 0
}

// RunRate is Rate over the checkpoints of one table (its workers' ranges):
// this run's rows of all ranges over the longest a range has run.
func RunRate(cps []Checkpoint) float64 {
	var rows int64
	var elapsed time.Duration
	for _, c := range cps {
		rows += max(c.RowsDone-c.RunRowsStart, 0)
		elapsed = max(elapsed, c.RunElapsed)
	}
	return Rate(rows, elapsed)
}

// Querier is a connection or a transaction (*pgx.Conn, pgx.Tx) that a
// CheckpointStore runs its statements on.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CheckpointStore keeps the checkpoints of the backfills of each managed
// schema; *state.Store is one. A checkpoint saved on a batch's transaction
// commits with the batch.
type CheckpointStore interface {
	// Checkpoints lists every checkpoint of a managed schema.
	Checkpoints(ctx context.Context, q Querier, schema string) ([]Checkpoint, error)
	// SaveCheckpoint inserts or updates a checkpoint of a managed schema.
	SaveCheckpoint(ctx context.Context, q Querier, schema string, c *Checkpoint) error
}

// Progress is reported after every batch, summed over the workers.
type Progress struct {
	Table        string
	RowsDone     int64
	RowsEstimate int64
	// RowsThisRun are the rows of RowsDone this run filled (after a
	// resume, RowsDone also counts an earlier run's); Elapsed is this
	// run's time, so Rate is this run's rate.
	RowsThisRun int64
	Batches     int
	BatchSize   int // current rows (or pages) per batch of the last worker to report
	Elapsed     time.Duration
	Done        bool
	// SizeBefore and SizeAfter are the table's size in bytes when the
	// backfill began and (once Done) when it ended.
	SizeBefore, SizeAfter int64
	// Paused is set while the backfill waits for replication to catch up.
	Paused string
	// SizeNow is the table's size in bytes at the last VACUUM of space
	// reuse (0 before it); ExpectedExtra the growth expected by the end
	// (see ExpectedExtra); Vacuums the VACUUMs run so far.
	SizeNow, ExpectedExtra int64
	Vacuums                int
	// SpaceBlocked, when set, says what keeps the space of the rows
	// already filled from being reused (naming the pid, slot or prepared
	// transaction) and that the table grows.
	SpaceBlocked string
	// BlockingPIDs, while a batch waits for a lock, are the sessions
	// holding it (pg_blocking_pids); Waited is how long it has waited.
	BlockingPIDs []int
	Waited       time.Duration
}

// Rate is the rows per second of this run (see the function Rate).
func (p Progress) Rate() float64 { return Rate(p.RowsThisRun, p.Elapsed) }

// Runner runs backfills.
type Runner struct {
	Exec   *pgexec.Runner
	Store  CheckpointStore // where checkpoints are kept, e.g. a *state.Store
	Schema string          // managed schema, the checkpoint's scope
	// BatchSize is the first batch's size in rows (pages in ctid mode);
	// default 1000 (pages: 10).
	BatchSize int
	// TargetDuration is the batch duration the size adapts to (default
	// 150ms); negative keeps BatchSize fixed.
	TargetDuration time.Duration
	// MaxBatchSize caps the adaptive size (default 200000 rows).
	MaxBatchSize int
	// Workers fill disjoint key ranges in parallel (default 1). Workers
	// beyond the first need Connect.
	Workers int
	Connect func(ctx context.Context) (*pgx.Conn, error)
	// MaxRowsPerSecond throttles the backfill (all workers together); 0 is
	// no limit.
	MaxRowsPerSecond float64
	// MaxReplicationLag pauses batches while a standby's replication lag
	// (pg_stat_replication) exceeds it; 0 does not check. The role must
	// read the lag (pg_monitor or pg_read_all_stats): Run refuses otherwise
	// (ErrLagHidden).
	MaxReplicationLag time.Duration
	// VacuumFraction is the share of the table's rows filled between two
	// VACUUMs of the table (space reuse); 0 is DefaultVacuumFraction,
	// negative turns space reuse off (the table then grows by about its
	// size).
	VacuumFraction float64
	// AppRest is the pause after each batch, as a multiple of the batch's
	// duration, while application sessions are active in the database
	// (see pace.go); 0 is DefaultAppRest, negative never pauses and does
	// not watch the application (unless MaxAppLatency is set).
	AppRest float64
	// MaxAppLatency, when set, caps the target batch duration at half of
	// it (a row lock is held for a batch) and doubles the pause while a
	// statement of the application has been running longer.
	MaxAppLatency time.Duration
	// NoReindex keeps the indexes that a backfill with space reuse
	// doubled as they are (see reindex.go).
	NoReindex bool
	// Progress, when set, is called after every batch.
	Progress func(Progress)
	// AfterBatch, when set, is called after every committed batch (tests
	// use it to inject crashes).
	AfterBatch func(batch int)
}

func (r *Runner) target() time.Duration {
	if r.TargetDuration == 0 {
		return 150 * time.Millisecond
	}
	return r.TargetDuration
}

func (r *Runner) maxBatch() int {
	if r.MaxBatchSize <= 0 {
		return 200000
	}
	return r.MaxBatchSize
}

func (r *Runner) workers() int {
	if r.Workers <= 1 || r.Connect == nil {
		return 1
	}
	return r.Workers
}

type queries struct {
	upper, first, next, updFirst, upd string
	// The keys of a batch's range, in order (to find a failing row).
	listFirst, list string
}

// keyQueries renders the statements of key mode. Key values travel as text
// and are cast back to their types, so any key type works.
func keyQueries(s Spec) queries {
	tq := pgx.Identifier{s.Schema, s.Table}.Sanitize()
	var key, keyText, lo, hi []string
	for i, k := range s.Key {
		key = append(key, pgx.Identifier{k}.Sanitize())
		// Aliased so that ORDER BY sees the column, not its text form.
		keyText = append(keyText, fmt.Sprintf("%s::text AS _strata_k%d", pgx.Identifier{k}.Sanitize(), i))
		lo = append(lo, fmt.Sprintf("$%d::text::%s", i+1, s.KeyTypes[i]))
		hi = append(hi, fmt.Sprintf("$%d::text::%s", i+1+len(s.Key), s.KeyTypes[i]))
	}
	k := "ROW(" + strings.Join(key, ", ") + ")"
	l := "ROW(" + strings.Join(lo, ", ") + ")"
	h := "ROW(" + strings.Join(hi, ", ") + ")"
	if len(key) == 1 {
		k, l, h = key[0], lo[0], hi[0]
	}
	desc := make([]string, len(key))
	for i := range key {
		desc[i] = key[i] + " DESC"
	}
	order := strings.Join(key, ", ")
	sel := "SELECT " + strings.Join(keyText, ", ") + " FROM " + tq
	n := len(key)
	return queries{
		upper: sel + " ORDER BY " + strings.Join(desc, ", ") + " LIMIT 1",
		// The end of the next batch: the n-th key after the last one, found
		// by an index range scan of n entries. ($1.. is the upper bound.)
		first: sel + " WHERE " + k + " <= " + l + " ORDER BY " + order + " LIMIT 1 OFFSET $" + strconv.Itoa(n+1),
		next: sel + " WHERE " + k + " > " + l + " AND " + k + " <= " + h +
			" ORDER BY " + order + " LIMIT 1 OFFSET $" + strconv.Itoa(2*n+1),
		updFirst:  batchSQL(s, k+" <= "+l),
		upd:       batchSQL(s, k+" > "+l+" AND "+k+" <= "+h),
		listFirst: sel + " WHERE " + k + " <= " + l + " ORDER BY " + order + " LIMIT $" + strconv.Itoa(n+1),
		list: sel + " WHERE " + k + " > " + l + " AND " + k + " <= " + h +
			" ORDER BY " + order + " LIMIT $" + strconv.Itoa(2*n+1),
	}
}

// batch renders the statement of one batch for a range predicate.
func batchSQL(s Spec, pred string) string {
	if s.Statement != "" {
		return strings.ReplaceAll(s.Statement, RangePlaceholder, pred)
	}
	return "UPDATE " + pgx.Identifier{s.Schema, s.Table}.Sanitize() + " SET " + s.Set + " WHERE " + pred
}

func pageQuery(s Spec) string {
	return batchSQL(s, "ctid >= ('(' || $1::text || ',0)')::tid AND ctid < ('(' || $2::text || ',0)')::tid")
}

// BatchSQL returns the statements one batch runs (after the first): in key
// mode finding the batch's end key and updating the range; in ctid mode
// updating a range of pages. Plans print them.
func BatchSQL(s Spec) []string {
	if len(s.Key) == 0 {
		return []string{pageQuery(s)}
	}
	q := keyQueries(s)
	return []string{q.next, q.upd}
}

// tracker sums the progress of the workers of one table.
type tracker struct {
	r          *Runner
	table      string
	start      time.Time
	mu         sync.Mutex
	rows       map[string]int64
	startRows  int64 // rows done by earlier runs when this one began
	estimate   int64
	batches    int
	sizeBefore int64
	reuse      *reuse
	exec       *pgexec.Runner // Exec, reporting lock waits as progress
	appBusy    time.Time      // when a worker last saw the application active
}

// appSeen records that a worker saw the application active.
func (t *tracker) appSeen() {
	t.mu.Lock()
	t.appBusy = time.Now()
	t.mu.Unlock()
}

// appActive says whether a worker saw the application active in the last
// appBusyWindow.
func (t *tracker) appActive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.appBusy.IsZero() && time.Since(t.appBusy) < appBusyWindow
}

func (t *tracker) report(worker string, rows int64, size int, done bool, paused string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows[worker] = rows
	if paused == "" {
		t.batches++
	}
	var total int64
	for _, v := range t.rows {
		total += v
	}
	if t.r.AfterBatch != nil && paused == "" {
		t.r.AfterBatch(t.batches)
	}
	if t.r.Progress != nil {
		p := Progress{Table: t.table, RowsDone: total, RowsThisRun: total - t.startRows, RowsEstimate: t.estimate, Batches: t.batches,
			BatchSize: size, Elapsed: time.Since(t.start), SizeBefore: t.sizeBefore, Done: done, Paused: paused}
		t.fillSpace(&p)
		t.r.Progress(p)
	}
}

// waiting reports that a batch waits for a lock the sessions of blockers
// hold.
func (t *tracker) waiting(blockers []pgexec.Blocker, waited time.Duration) {
	if t.r.Progress == nil || len(blockers) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var total int64
	for _, v := range t.rows {
		total += v
	}
	p := Progress{Table: t.table, RowsDone: total, RowsThisRun: total - t.startRows, RowsEstimate: t.estimate, Batches: t.batches,
		Elapsed: time.Since(t.start), SizeBefore: t.sizeBefore, Waited: waited}
	for _, b := range blockers {
		p.BlockingPIDs = append(p.BlockingPIDs, b.PID)
	}
	t.fillSpace(&p)
	t.r.Progress(p)
}

// execFor returns r.Exec with its retry hooks also reporting lock waits to
// the progress of tr.
func (r *Runner) execFor(tr *tracker) *pgexec.Runner {
	if r.Exec == nil || r.Progress == nil {
		return r.Exec
	}
	ex := *r.Exec
	onRetry, onBlocked := ex.OnRetry, ex.OnBlocked
	ex.OnRetry = func(attempt int, wait time.Duration, err error) {
		if onRetry != nil {
			onRetry(attempt, wait, err)
		}
		var be *pgexec.BlockedError
		if errors.As(err, &be) {
			tr.waiting(be.Blockers, 0)
		}
	}
	ex.OnBlocked = func(bs []pgexec.Blocker, waited time.Duration) {
		if onBlocked != nil {
			onBlocked(bs, waited)
		}
		tr.waiting(bs, waited)
	}
	return &ex
}

// Run fills the table of spec, resuming from the checkpoints of step.
func (r *Runner) Run(ctx context.Context, conn *pgx.Conn, step string, spec Spec) error {
	if r.MaxReplicationLag > 0 {
		if err := CheckReplicationLagReadable(ctx, conn); err != nil {
			return fmt.Errorf("table %s: %w", spec.Table, err)
		}
	}
	cps, err := r.checkpoints(ctx, conn, step, spec)
	if err != nil {
		return fmt.Errorf("table %s: %w", spec.Table, err)
	}
	tr := &tracker{r: r, table: spec.Table, start: time.Now(), rows: map[string]int64{}}
	tr.exec = r.execFor(tr)
	var todo []*Checkpoint
	for _, c := range cps {
		tr.rows[c.Step] = c.RowsDone
		tr.startRows += c.RowsDone
		// This run's share starts here (a resume starts a new run).
		c.RunRowsStart, c.RunElapsed, c.runStart = c.RowsDone, 0, tr.start
		tr.estimate += c.RowsEstimate
		tr.sizeBefore = c.SizeBefore
		if !c.Done {
			todo = append(todo, c)
		}
	}
	tr.reuse = newReuse(r, spec, float64(tr.estimate))
	var indexesBefore map[string]int64
	if len(todo) > 0 && tr.reuse.interval > 0 && !r.NoReindex {
		// A leftover of a rebuild interrupted by a crash, then the sizes
		// the rebuild after the backfill compares with.
		if err := r.dropLeftovers(ctx, conn, spec); err != nil {
			return fmt.Errorf("table %s: %w", spec.Table, err)
		}
		if err := r.Exec.WithSession(ctx, conn, 0, func() error {
			indexesBefore, err = indexSizes(ctx, conn, spec)
			return err
		}); err != nil {
			return fmt.Errorf("table %s: %w", spec.Table, err)
		}
	}
	if len(todo) > 0 {
		if err := r.runWorkers(ctx, conn, spec, todo, tr); err != nil {
			return fmt.Errorf("table %s: %w", spec.Table, err)
		}
	}
	if len(todo) > 0 && tr.reuse.interval > 0 {
		// The last interval's space, for the application's next updates.
		if err := tr.reuse.vacuum(ctx, conn); err != nil {
			return fmt.Errorf("table %s: %w", spec.Table, err)
		}
	}
	var notes []string
	if blocked, _ := tr.reuse.status(); indexesBefore != nil && blocked == "" {
		// (With the space held back, REINDEX CONCURRENTLY would wait for
		// the same old transaction.)
		if notes, err = r.rebuildGrown(ctx, conn, spec, indexesBefore, tr.appActive()); err != nil {
			return fmt.Errorf("table %s: %w", spec.Table, err)
		}
	}
	var after int64
	if err := r.Exec.WithSession(ctx, conn, 0, func() error {
		after, err = tableSize(ctx, conn, spec)
		return err
	}); err != nil {
		return fmt.Errorf("table %s: %w", spec.Table, err)
	}
	if r.Progress != nil {
		var total int64
		for _, v := range tr.rows {
			total += v
		}
		p := Progress{Table: spec.Table, RowsDone: total, RowsThisRun: total - tr.startRows, RowsEstimate: tr.estimate, Batches: tr.batches,
			Elapsed: time.Since(tr.start), Done: true, SizeBefore: tr.sizeBefore, SizeAfter: after}
		tr.fillSpace(&p)
		p.SizeNow = after
		if len(notes) > 0 {
			p.SpaceBlocked = strings.TrimSpace(p.SpaceBlocked + " " + strings.Join(notes, "; "))
		}
		r.Progress(p)
	}
	return nil
}

// runWorkers fills the ranges of todo, shared out over the workers: the first
// uses conn, the others connections of their own. The first error cancels the
// other workers; the errors of all workers are returned, joined.
func (r *Runner) runWorkers(ctx context.Context, conn *pgx.Conn, spec Spec, todo []*Checkpoint, tr *tracker) error {
	n := min(r.workers(), len(todo))
	queue := make(chan *Checkpoint, len(todo))
	for _, c := range todo {
		queue <- c
	}
	close(queue)
	g, ctx := errgroup.WithContext(ctx)
	errs := make([]error, n)
	for w := range n {
		g.Go(func() error {
			errs[w] = r.work(ctx, w, conn, spec, queue, n, tr)
			return errs[w]
		})
	}
	_ = g.Wait() // the first of errs
	return errors.Join(errs...)
}

// work is worker w: it fills ranges from queue until the queue is empty or a
// range fails.
func (r *Runner) work(ctx context.Context, w int, conn *pgx.Conn, spec Spec, queue <-chan *Checkpoint, workers int, tr *tracker) error {
	if w > 0 {
		c, err := r.Connect(ctx)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		conn = c
	}
	for cp := range queue {
		if err := r.fill(ctx, conn, spec, cp, workers, tr); err != nil {
			return err
		}
	}
	return nil
}

// checkpoints returns the workers' checkpoints of step, planning the ranges
// on the first run: one range per worker, split at quantiles of a sample of
// the key (or of the pages), all saved in one transaction.
func (r *Runner) checkpoints(ctx context.Context, conn *pgx.Conn, step string, spec Spec) ([]*Checkpoint, error) {
	all, err := r.Store.Checkpoints(ctx, conn, r.Schema)
	if err != nil {
		return nil, err
	}
	var out []*Checkpoint
	for i := range all {
		if all[i].Step == step || strings.HasPrefix(all[i].Step, step+"#") {
			out = append(out, &all[i])
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	size, err := tableSize(ctx, conn, spec)
	if err != nil {
		return nil, err
	}
	tq := pgx.Identifier{spec.Schema, spec.Table}.Sanitize()
	var est float64
	if err := conn.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, tq).Scan(&est); err != nil {
		return nil, fmt.Errorf("estimate rows: %w", err)
	}
	if est < 0 {
		// Never analyzed: ANALYZE samples the table (under SHARE UPDATE
		// EXCLUSIVE, which lets reads and writes go on) for a row estimate
		// the progress report and the worker split can use. In a
		// transaction, so that its settings are SET LOCAL (through a
		// transaction pooler too).
		if err := r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "ANALYZE "+tq)
			return err
		}); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		if err := conn.QueryRow(ctx, `SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass`, tq).Scan(&est); err != nil {
			return nil, fmt.Errorf("estimate rows: %w", err)
		}
	}
	var bounds [][]*string // lower bounds (exclusive) of ranges 1..n-1, and the upper bound last
	if len(spec.Key) == 0 {
		var pages int64
		if err := conn.QueryRow(ctx, `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int`,
			pgx.Identifier{spec.Schema, spec.Table}.Sanitize()).Scan(&pages); err != nil {
			return nil, fmt.Errorf("count pages: %w", err)
		}
		n := int64(r.workers())
		for i := int64(1); i < n && pages > n; i++ {
			s := strconv.FormatInt(pages*i/n, 10)
			bounds = append(bounds, []*string{&s})
		}
		p := strconv.FormatInt(pages, 10)
		bounds = append(bounds, []*string{&p})
		if pages == 0 {
			bounds = nil
		}
	} else {
		q := keyQueries(spec)
		upper, err := scanKey(conn.QueryRow(ctx, q.upper), len(spec.Key))
		if err != nil {
			return nil, fmt.Errorf("find last key: %w", err)
		}
		if upper != nil {
			if n := r.workers(); n > 1 {
				if bounds, err = quantiles(ctx, conn, spec, n, est); err != nil {
					return nil, err
				}
			}
			bounds = append(bounds, upper)
		}
	}
	if bounds == nil {
		c := &Checkpoint{Step: step + "#0", Table: spec.Table, Done: true, SizeBefore: size}
		return []*Checkpoint{c}, r.Store.SaveCheckpoint(ctx, conn, r.Schema, c)
	}
	var lo []*string
	if len(spec.Key) == 0 {
		z := "0"
		lo = []*string{&z}
	}
	for i, hi := range bounds {
		out = append(out, &Checkpoint{Step: fmt.Sprintf("%s#%d", step, i), Table: spec.Table,
			LastKey: lo, UpperKey: hi, RowsEstimate: int64(est) / int64(len(bounds)), SizeBefore: size})
		lo = hi
	}
	err = r.Exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		for _, c := range out {
			if err := r.Store.SaveCheckpoint(ctx, tx, r.Schema, c); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// quantiles splits the key space into n ranges of about equal row counts,
// from a sample of the table that PostgreSQL sorts (so any key type and
// collation works).
func quantiles(ctx context.Context, conn *pgx.Conn, spec Spec, n int, est float64) ([][]*string, error) {
	pct := 100.0
	if est > 0 {
		// About 10,000 sampled rows.
		pct = 100 * 10000 / est
		if pct > 100 {
			pct = 100
		}
		if pct < 0.01 {
			pct = 0.01
		}
	}
	var cols []string
	for i, k := range spec.Key {
		cols = append(cols, fmt.Sprintf("%s::text AS _strata_k%d", pgx.Identifier{k}.Sanitize(), i))
	}
	var order []string
	for _, k := range spec.Key {
		order = append(order, pgx.Identifier{k}.Sanitize())
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s TABLESAMPLE SYSTEM (%g) ORDER BY %s",
		strings.Join(cols, ", "), pgx.Identifier{spec.Schema, spec.Table}.Sanitize(), pct, strings.Join(order, ", ")))
	if err != nil {
		return nil, fmt.Errorf("sample keys: %w", err)
	}
	var sample [][]*string
	for rows.Next() {
		vals := make([]*string, len(spec.Key))
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sample keys: %w", err)
		}
		sample = append(sample, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample keys: %w", err)
	}
	var out [][]*string
	for i := 1; i < n && len(sample) >= n; i++ {
		b := sample[len(sample)*i/n]
		if len(out) > 0 && keyEqual(out[len(out)-1], b) {
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// fill runs the batches of one checkpoint's range.
func (r *Runner) fill(ctx context.Context, conn *pgx.Conn, spec Spec, cp *Checkpoint, workers int, tr *tracker) error {
	mode := "on"
	if spec.Direct {
		mode = "direct"
	}
	size := r.BatchSize
	if size <= 0 {
		size = 1000
		if len(spec.Key) == 0 {
			size = 10
		}
	}
	start := time.Now()
	startRows := cp.RowsDone
	var lastLag time.Time
	pc := newPace(r)
	kq := keyQueries(spec)
	pq := pageQuery(spec)
	for !cp.Done {
		if r.MaxReplicationLag > 0 && time.Since(lastLag) > time.Second {
			if err := r.waitForReplicas(ctx, conn, cp, tr); err != nil {
				return err
			}
			lastLag = time.Now()
		}
		next := *cp
		t0 := time.Now()
		wantXid := tr.reuse.needXid()
		var xid string
		err := tr.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
			next = *cp
			if _, err := tx.Exec(ctx, "SET LOCAL strata.backfill = '"+mode+"'"); err != nil {
				return err
			}
			var rows int64
			var err error
			if len(spec.Key) == 0 {
				rows, err = pageBatch(ctx, tx, pq, cp, &next, size)
			} else {
				rows, err = keyBatch(ctx, tx, kq, len(spec.Key), cp, &next, size)
			}
			if err != nil {
				return err
			}
			if wantXid {
				if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text").Scan(&xid); err != nil {
					return err
				}
			}
			if err := pc.observe(ctx, tx); err != nil {
				return fmt.Errorf("watch the application: %w", err)
			}
			next.RowsDone += rows
			if !next.runStart.IsZero() {
				next.RunElapsed = time.Since(next.runStart)
			}
			return r.Store.SaveCheckpoint(ctx, tx, r.Schema, &next)
		})
		if err != nil {
			return r.rowError(ctx, conn, spec, kq, cp, size, mode, err)
		}
		took := time.Since(t0)
		filled := next.RowsDone - cp.RowsDone
		*cp = next
		var vacuumed time.Duration
		if tr.reuse.done(filled, xid) && !cp.Done {
			v0 := time.Now()
			if err := tr.reuse.vacuum(ctx, conn); err != nil {
				return err
			}
			vacuumed = time.Since(v0)
		}
		tr.report(cp.Step, cp.RowsDone, size, false, "")
		rest := pc.after(took) + pc.restAfter(vacuumed)
		if pc.busy() {
			tr.appSeen()
		}
		if r.target() > 0 && took > 0 {
			// Aim at the target duration, changing by at most 2x a batch.
			f := float64(pc.batchTarget()) / float64(took)
			if f > 2 {
				f = 2
			}
			if f < 0.5 {
				f = 0.5
			}
			size = int(float64(size) * f)
			if size < 1 {
				size = 1
			}
			max := r.maxBatch()
			if len(spec.Key) == 0 {
				max = max / 50
			} else if iv := tr.reuse.interval; iv > 0 {
				// A batch at most half an interval: the table grows by
				// about one interval, not by one interval plus a batch.
				max = min(max, int(iv/2))
			}
			if size > max {
				size = max
			}
		}
		if err := sleepCtx(ctx, rest); err != nil {
			return err
		}
		if r.MaxRowsPerSecond > 0 {
			limit := r.MaxRowsPerSecond / float64(workers)
			want := time.Duration(float64(cp.RowsDone-startRows) / limit * float64(time.Second))
			if ahead := want - time.Since(start); ahead > 0 {
				t := time.NewTimer(ahead)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
	}
	return nil
}

func keyBatch(ctx context.Context, tx pgx.Tx, q queries, n int, cp, next *Checkpoint, size int) (int64, error) {
	var end []*string
	var err error
	if cp.LastKey == nil {
		end, err = scanKey(tx.QueryRow(ctx, q.first, append(anys(cp.UpperKey), size-1)...), n)
	} else {
		end, err = scanKey(tx.QueryRow(ctx, q.next, append(append(anys(cp.LastKey), anys(cp.UpperKey)...), size-1)...), n)
	}
	if err != nil {
		return 0, fmt.Errorf("find batch end: %w", err)
	}
	if end == nil || keyEqual(end, cp.UpperKey) {
		end = cp.UpperKey
		next.Done = true
	}
	var sql string
	var args []any
	if cp.LastKey == nil {
		sql, args = q.updFirst, anys(end)
	} else {
		sql, args = q.upd, append(anys(cp.LastKey), anys(end)...)
	}
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("update batch: %w", err)
	}
	next.LastKey = end
	return tag.RowsAffected(), nil
}

func pageBatch(ctx context.Context, tx pgx.Tx, q string, cp, next *Checkpoint, size int) (int64, error) {
	lo, err := strconv.ParseInt(*cp.LastKey[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad page checkpoint: %w", err)
	}
	hi, err := strconv.ParseInt(*cp.UpperKey[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad page checkpoint: %w", err)
	}
	end := lo + int64(size)
	if end >= hi {
		end = hi
		next.Done = true
	}
	tag, err := tx.Exec(ctx, q, strconv.FormatInt(lo, 10), strconv.FormatInt(end, 10))
	if err != nil {
		return 0, fmt.Errorf("update pages: %w", err)
	}
	e := strconv.FormatInt(end, 10)
	next.LastKey = []*string{&e}
	return tag.RowsAffected(), nil
}

// ErrLagHidden is matched (errors.Is) by the error of a replication-lag
// check whose role cannot read the lag of standbys.
var ErrLagHidden = errors.New("replication lag is hidden from this role")

// CheckReplicationLagReadable returns an error matching ErrLagHidden unless
// the connection's role can read pg_stat_replication's lag columns. Without
// the privileges of pg_read_all_stats (which pg_monitor has) PostgreSQL shows
// every standby with NULL state and lag, which would read as no lag: a
// replication-lag throttle must refuse to run rather than run unthrottled.
func CheckReplicationLagReadable(ctx context.Context, conn *pgx.Conn) error {
	var role string
	var can bool
	err := conn.QueryRow(ctx, `SELECT current_user, pg_has_role('pg_read_all_stats', 'USAGE')`).Scan(&role, &can)
	if err != nil {
		return fmt.Errorf("check replication lag privileges: %w", err)
	}
	if !can {
		return lagHidden(role)
	}
	return nil
}

func lagHidden(role string) error { return &lagHiddenError{role: role} }

type lagHiddenError struct{ role string }

func (e *lagHiddenError) Error() string {
	return fmt.Sprintf("--max-replication-lag: role %q cannot read the replication lag of standbys (pg_stat_replication shows it as NULL without pg_monitor or pg_read_all_stats); hint: GRANT pg_monitor TO %s, or run without --max-replication-lag",
		e.role, pgx.Identifier{e.role}.Sanitize())
}

func (e *lagHiddenError) Is(target error) bool { return target == ErrLagHidden }

// waitForReplicas pauses while any standby lags more than the limit. A
// standby whose details are hidden (NULL state: the role lacks
// pg_read_all_stats) is an error, never "no lag".
func (r *Runner) waitForReplicas(ctx context.Context, conn *pgx.Conn, cp *Checkpoint, tr *tracker) error {
	for {
		var lag float64
		var hidden int64
		var role string
		err := conn.QueryRow(ctx, `SELECT coalesce(max(extract(epoch FROM greatest(write_lag, flush_lag, replay_lag))), 0),
				count(*) FILTER (WHERE state IS NULL), current_user
			FROM pg_stat_replication`).Scan(&lag, &hidden, &role)
		if err != nil {
			return fmt.Errorf("read replication lag: %w", err)
		}
		if hidden > 0 {
			return lagHidden(role)
		}
		d := time.Duration(lag * float64(time.Second))
		if d <= r.MaxReplicationLag {
			return nil
		}
		tr.report(cp.Step, cp.RowsDone, 0, false, fmt.Sprintf("replication lag %s > %s", d.Round(time.Millisecond), r.MaxReplicationLag))
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func tableSize(ctx context.Context, conn *pgx.Conn, spec Spec) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, `SELECT pg_table_size($1::regclass)`, pgx.Identifier{spec.Schema, spec.Table}.Sanitize()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("table size: %w", err)
	}
	return n, nil
}

func anys(k []*string) []any {
	out := make([]any, len(k))
	for i, v := range k {
		out[i] = v
	}
	return out
}

func keyEqual(a, b []*string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || (a[i] != nil && *a[i] != *b[i]) {
			return false
		}
	}
	return true
}

// scanKey reads one key as text values; nil when there is no row.
func scanKey(row pgx.Row, n int) ([]*string, error) {
	vals := make([]*string, n)
	dest := make([]any, n)
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return vals, nil
}
