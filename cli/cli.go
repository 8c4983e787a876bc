// Package cli is strata's command line. Main is the whole program: it takes
// its arguments and streams, so tests run it in-process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/planreport"
	"github.com/stratapg/strata/migration"
)

type globals struct {
	url            string
	dir            string
	schema         string
	stateSchema    string
	lockTimeout    time.Duration
	lockDeadline   time.Duration
	lockWait       time.Duration
	batchSize      int
	batchTarget    time.Duration
	workers        int
	maxRate        float64
	maxLag         time.Duration
	vacuumFraction float64
	maxAppLatency  time.Duration
	ignoreDisk     bool
	quiet          bool
	allowChanged   bool
	configPath     string
	project        *project
	// dropScenarios lets start and migrate drop the scenarios holding
	// copies of tables the phase changes.
	dropScenarios bool
	// versionStyle is --version-schema-style; upTo is start's and
	// migrate's --migration.
	versionStyle string
	upTo         string
	// rawArgs are the arguments as given (latest tells its --url from the
	// global one by where it stands).
	rawArgs []string

	stdout, stderr io.Writer
	mu             sync.Mutex
	root           *cobra.Command
}

// Main runs strata with args (without the program name) and returns the
// process exit status: 0 on success, 1 on any error or refusal, 2 on a usage
// error.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, rawArgs: args}
	// Nothing strata writes to stderr shows a password it was given.
	stderr = &redactWriter{w: stderr, g: g}
	g.stderr = stderr
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Change PostgreSQL schemas and data safely while applications keep running",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	g.root = root
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.url, "url", "", "database URL (default $DATABASE_URL, else the libpq PG* variables)")
	pf.StringVar(&g.dir, "dir", "migrations", "folder of migration files")
	pf.StringVar(&g.schema, "schema", "public", "managed schema")
	pf.StringVar(&g.stateSchema, "state-schema", "strata", "schema for strata's own state")
	pf.DurationVar(&g.lockTimeout, "lock-timeout", engine.DefaultLockTimeout, "lock_timeout for every DDL statement: the longest the application may queue behind strata")
	pf.DurationVar(&g.lockDeadline, "lock-deadline", 10*time.Minute, "total time to keep retrying a statement that hits lock_timeout")
	pf.DurationVar(&g.lockWait, "lock-wait", 0, "how long to wait for another strata process to finish (0: refuse at once)")
	pf.IntVar(&g.batchSize, "batch-size", 1000, "rows in the first backfill batch (the size then adapts to --batch-target)")
	pf.DurationVar(&g.batchTarget, "batch-target", 150*time.Millisecond, "duration each backfill batch aims at (negative: keep --batch-size fixed)")
	pf.IntVar(&g.workers, "backfill-workers", 1, "parallel workers per table backfill, over disjoint key ranges")
	pf.Float64Var(&g.maxRate, "max-rows-per-second", 0, "throttle backfills to this many rows per second (0: no limit)")
	pf.DurationVar(&g.maxLag, "max-replication-lag", 0, "pause backfills while a standby's replication lag exceeds this (0: do not check; the role needs pg_monitor)")
	pf.Float64Var(&g.vacuumFraction, "backfill-vacuum-every", 0, "share of a table's rows backfilled between two VACUUMs that let later batches reuse the space (0: 0.1; negative: no space reuse, the table grows by about its size)")
	pf.DurationVar(&g.maxAppLatency, "max-app-latency", 0, "application latency target: backfill batches last at most half of it, and slow down while an application statement runs longer (0: off)")
	pf.BoolVar(&g.ignoreDisk, "ignore-disk-check", false, "start even when the free disk strata can see is less than the backfills' worst case")
	pf.StringVar(&g.versionStyle, "version-schema-style", migration.StyleStrata, "version schemas new phases create: strata (<schema>_<name>, views of the tables that differ) or reshape (migration_<name>, a view of every table)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only results and errors")
	pf.StringVar(&g.configPath, "config", "", "project file (default $STRATA_CONFIG, else ./strata.toml if present)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.applyConfig(cmd) }
	root.PersistentPostRunE = func(cmd *cobra.Command, _ []string) error { return g.afterHooks(cmd) }

	root.AddCommand(
		g.initCmd(), g.startCmd(), g.completeCmd(), g.abortCmd(), g.migrateCmd(),
		g.statusCmd(), g.clientsCmd(), g.schemaNameCmd(), g.planCmd(), g.lintCmd(),
		g.historyCmd(), g.newCmd(), g.baselineCmd(), g.configCmd(), g.foreignCmd(), g.dumpCmd(), g.driftCmd(), g.doctorCmd(),
		g.scenarioCmd(), g.convertCmd(), g.versionCmd(), g.latestCmd(),
	)
	requireSubcommand(root)
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		return g.renderError(err, cmd)
	}
	return 0
}

type usageError struct{ error }

func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "flag needs an argument") ||
		strings.HasPrefix(msg, "invalid argument") || strings.Contains(msg, "accepts ")
}

func (g *globals) logf(format string, args ...any) {
	if g.quiet {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(g.stderr, format+"\n", args...)
}

func (g *globals) connString() string {
	if g.url != "" {
		return g.url
	}
	return os.Getenv("DATABASE_URL")
}

// checkStyle checks --version-schema-style, naming where its value came
// from.
func (g *globals) checkStyle() error {
	if slices.Contains(migration.Styles, g.versionStyle) {
		return nil
	}
	src := "flag --version-schema-style"
	if g.project != nil && g.project.sources["version-schema-style"] != "" {
		src = g.project.sources["version-schema-style"]
	}
	return usageError{fmt.Errorf("--version-schema-style %q (from %s): want %s", g.versionStyle, src, strings.Join(migration.Styles, " or "))}
}

func (g *globals) migrator() (*engine.Migrator, error) {
	if err := g.checkStyle(); err != nil {
		return nil, err
	}
	prog := newProgress(g.stderr, g.quiet)
	opts := engine.Options{
		Schema: g.schema, StateSchema: g.stateSchema,
		LockTimeout: g.lockTimeout, LockDeadline: g.lockDeadline, LockWait: g.lockWait,
		BatchSize: g.batchSize, BatchTarget: g.batchTarget, Workers: g.workers,
		MaxRowsPerSecond: g.maxRate, MaxReplicationLag: g.maxLag,
		SpaceOptions: engine.SpaceOptions{VacuumFraction: g.vacuumFraction, MaxAppLatency: g.maxAppLatency,
			IgnoreDiskCheck: g.ignoreDisk},
		Logf:     g.logf,
		Progress: prog.report,
		SQLGate: g.sqlGate(sync.OnceValue(func() int {
			v, err := g.serverMajor(context.Background())
			if err != nil {
				return 0
			}
			return v
		})),
		AllowChanged:       g.allowChanged,
		BeforeStart:        g.scenarioGuard,
		VersionSchemaStyle: g.versionStyle,
	}
	installCrashHooks(&opts)
	return engine.New(g.connString(), opts)
}

// load reads the migrations folder.
func (g *globals) load(m *engine.Migrator) ([]*migration.Migration, error) {
	info, err := os.Stat(g.dir)
	if err != nil {
		return nil, fmt.Errorf("migrations folder %s: %w", g.dir, errors.Unwrap(err))
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("migrations folder %s: not a folder", g.dir)
	}
	return m.LoadDir(g.dir)
}

func (g *globals) initCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Install strata's state schema (safe to re-run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := g.migrator()
			if err != nil {
				return err
			}
			if err := m.Init(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "strata state schema %q is ready\n", g.stateSchema)
			return nil
		},
	}
}

// loaded runs fn with a Migrator and the validated migrations of --dir.
func (g *globals) loaded(fn func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		m, err := g.migrator()
		if err != nil {
			return err
		}
		migs, err := g.load(m)
		if err != nil {
			return err
		}
		return fn(cmd.Context(), m, migs)
	}
}

func (g *globals) startCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start the expand phase for all pending migrations",
		Args:  cobra.NoArgs,
		RunE: g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
			migs, err := g.uptoMigrations(ctx, m, migs)
			if err != nil {
				return err
			}
			res, err := m.Start(ctx, migs)
			if errors.Is(err, engine.ErrNothingPending) {
				fmt.Fprintln(g.stdout, "nothing to start: no pending migrations")
				return nil
			}
			if err != nil {
				return err
			}
			if len(res.Applied) > 0 {
				fmt.Fprintf(g.stdout, "applied %s\n", strings.Join(res.Applied, ", "))
			}
			if len(res.Migrations) > 0 {
				fmt.Fprintf(g.stdout, "started %s\nnew version schema: %s (clients put it first on their search_path: %s; see docs/poolers.md)\n",
					strings.Join(res.Migrations, ", "), res.VersionSchema, engine.SearchPath(res.VersionSchema, g.schema))
			}
			return nil
		}),
	}
	g.allowChangedFlag(cmd)
	g.migrationFlag(cmd)
	return cmd
}

func (g *globals) allowChangedFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&g.allowChanged, "allow-changed", false, "go on although a completed migration's file has changed")
	cmd.Flags().BoolVar(&g.dropScenarios, "drop-scenarios", false, "drop the scenarios that hold copies of tables the phase changes (else start refuses)")
}

// phaseCmd is complete or abort: act on the phase in progress and say so.
func (g *globals) phaseCmd(use, short, done string, act func(*engine.Migrator, context.Context) ([]string, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := g.migrator()
			if err != nil {
				return err
			}
			names, err := act(m, cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s %s\n", done, strings.Join(names, ", "))
			return nil
		},
	}
}

func (g *globals) abortCmd() *cobra.Command {
	return g.phaseCmd("abort", "Abort the phase in progress: undo everything start did", "aborted", (*engine.Migrator).Abort)
}

func (g *globals) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Start then complete all pending migrations (for new databases and development)",
		Args:  cobra.NoArgs,
		RunE: g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
			migs, err := g.uptoMigrations(ctx, m, migs)
			if err != nil {
				return err
			}
			res, err := m.Migrate(ctx, migs)
			if errors.Is(err, engine.ErrNothingPending) {
				fmt.Fprintln(g.stdout, "nothing to migrate: no pending migrations")
				return nil
			}
			if err != nil {
				return err
			}
			// In folder order (natural order of the file names).
			ran := map[string]bool{}
			for _, n := range append(append([]string(nil), res.Applied...), res.Migrations...) {
				ran[n] = true
			}
			var all []string
			for _, mg := range migs {
				if ran[mg.Name] {
					all = append(all, mg.Name)
				}
			}
			fmt.Fprintf(g.stdout, "migrated %s\n", strings.Join(all, ", "))
			if res.VersionSchema != "" {
				fmt.Fprintf(g.stdout, "version schema: %s\n", res.VersionSchema)
			}
			return nil
		}),
	}
	g.allowChangedFlag(cmd)
	g.migrationFlag(cmd)
	return cmd
}

func (g *globals) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show completed, in-progress and pending migrations",
		Args:  cobra.NoArgs,
		RunE: g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
			st, err := m.Status(ctx, migs)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			latest := "(none)"
			if st.LatestCompleted != nil {
				latest = *st.LatestCompleted
			}
			fmt.Fprintf(g.stdout, "schema:           %s\n", st.Schema)
			fmt.Fprintf(g.stdout, "state:            %s", st.State)
			if st.Phase != "" {
				fmt.Fprintf(g.stdout, " (%s)", st.Phase)
			}
			fmt.Fprintln(g.stdout)
			fmt.Fprintf(g.stdout, "latest completed: %s\n", latest)
			fmt.Fprintf(g.stdout, "in progress:      %s\n", listOrNone(st.InProgress))
			fmt.Fprintf(g.stdout, "pending:          %s\n", listOrNone(st.Pending))
			if st.VersionSchema != "" {
				fmt.Fprintf(g.stdout, "version schema:   %s\n", st.VersionSchema)
				fmt.Fprintf(g.stdout, "search_path:      %s\n", st.SearchPath)
			}
			if st.OldSearchPath != "" {
				fmt.Fprintf(g.stdout, "old search_path:  %s\n", st.OldSearchPath)
			}
			for _, b := range st.Backfills {
				fmt.Fprintf(g.stdout, "backfill %s: %d rows of ~%d, done=%v; table %s, extra %s now, ~%s expected\n", b.Table, b.RowsDone, b.RowsEstimate, b.Done,
					bytesText(b.SizeBefore), bytesText(max(b.SizeNow-b.SizeBefore, 0)), bytesText(b.ExpectedExtra))
			}
			if len(st.Changed) > 0 {
				fmt.Fprintf(g.stdout, "changed since completed (checksum differs): %s\n", strings.Join(st.Changed, ", "))
			}
			if len(st.Missing) > 0 {
				fmt.Fprintf(g.stdout, "completed but the file is missing: %s\n", strings.Join(st.Missing, ", "))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

func (g *globals) schemaNameCmd() *cobra.Command {
	var searchPath bool
	cmd := &cobra.Command{
		Use:   "schema-name",
		Short: "Print the version schema name of the newest migration (needs no database)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkStyle(); err != nil {
				return err
			}
			m, err := engine.New("", engine.Options{Schema: g.schema, StateSchema: g.stateSchema, VersionSchemaStyle: g.versionStyle})
			if err != nil {
				return err
			}
			migs, err := g.load(m)
			if err != nil {
				return err
			}
			if len(migs) == 0 {
				return fmt.Errorf("no migration files in %s", g.dir)
			}
			vs := migration.VersionSchemaFor(migs[len(migs)-1], g.schema, g.versionStyle)
			if searchPath {
				fmt.Fprintln(g.stdout, engine.SearchPath(vs, g.schema))
				return nil
			}
			fmt.Fprintln(g.stdout, vs)
			return nil
		},
	}
	cmd.Flags().BoolVar(&searchPath, "search-path", false, "print the search_path its clients set (\"<version schema>, <managed schema>\") instead")
	return cmd
}

func (g *globals) planCmd() *cobra.Command {
	var asJSON bool
	var format string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show every statement the pending migrations would run, with its locks and the linter's verdict (changes nothing)",
		Long: `Plans the pending migrations against the database (reading its catalog, changing
nothing) and prints every SQL statement of each phase (start, backfill, complete,
abort) with the lock it takes on which relations, whether it rewrites or scans
them, whether it runs in a transaction, and the linter's findings.
Exit status 1 when the linter finds an error in the plan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				format = "json"
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format must be text or json, not %q", format)}
			}
			return g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
				return g.plan(ctx, m, migs, format)
			})(cmd, nil)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVar(&asJSON, "json", false, "same as --format json")
	return cmd
}

func (g *globals) plan(ctx context.Context, m *engine.Migrator, migs []*migration.Migration, format string) error {
	// During a phase: its stored plan, which start, complete and abort
	// run from.
	pp, err := m.PhasePlan(ctx)
	if err != nil {
		return err
	}
	if pp != nil {
		fmt.Fprintf(g.stderr, "strata: a phase is in progress (%s of %s): showing its stored plan (start: %d of %d steps done, complete: %d of %d, abort: %d of %d)\n",
			pp.State, strings.Join(pp.Migrations, ", "), pp.StartDone, len(pp.Plan.Start), pp.CompleteDone, len(pp.Plan.Complete),
			pp.AbortDone, len(pp.Plan.Abort))
		return g.report(pp.Plan, format)
	}
	plan, err := m.Plan(ctx, migs)
	if errors.Is(err, engine.ErrNothingPending) {
		fmt.Fprintln(g.stdout, "nothing to plan: no pending migrations")
		return nil
	}
	if err != nil {
		return err
	}
	// The space the backfills may need, in both formats.
	d, err := m.SpaceReport(ctx, plan)
	if err != nil {
		return err
	}
	return g.reportWith(plan, format, spaceOf(d))
}

// spaceOf converts the engine's size report for the plan report (nil when
// nothing is backfilled).
func spaceOf(d *engine.DiskReport) *planreport.Space {
	if d == nil || len(d.Tables) == 0 {
		return nil
	}
	sp := &planreport.Space{Tables: make([]planreport.TableSpace, 0, len(d.Tables)), FreeBytes: d.Free, FreeWhere: d.Where}
	for _, t := range d.Tables {
		sp.Tables = append(sp.Tables, planreport.TableSpace{Table: t.Table, SizeBytes: t.Size, ExpectedExtraBytes: t.Expected, WorstExtraBytes: t.Worst})
	}
	return sp
}

// report prints a plan with its locks and the linter's findings.
func (g *globals) report(plan *engine.Plan, format string) error {
	return g.reportWith(plan, format, nil)
}

// reportWith is report with the backfills' size report (nil: none).
func (g *globals) reportWith(plan *engine.Plan, format string, space *planreport.Space) error {
	rep, err := planreport.Build(plan, plan.PGMajor)
	if err != nil {
		return err
	}
	rep.Space = space
	if format == "json" {
		err = planreport.WriteJSON(g.stdout, rep)
	} else {
		err = planreport.WriteText(g.stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.HasErrors() {
		return errSilent{fmt.Errorf("lint errors")}
	}
	return nil
}
