// Package cli is strata's command line. Main is the whole program: it takes
// its arguments and streams, so tests run it in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
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
	// prog shows backfill progress (nil until a Migrator is made).
	prog *progress

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
	root := g.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	if versionAsked(root, args) {
		// -v / --version is a global flag: after a command too.
		fmt.Fprintf(stdout, "strata version %s\n", root.Version)
		return 0
	}
	return g.run(ctx, root)
}

// rootCmd builds the whole command tree, with the completion and help
// commands cobra would otherwise add only when it executes.
func (g *globals) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Change PostgreSQL schemas and data safely while applications keep running",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	g.root = root
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
	pf.BoolP("version", "v", false, "print the version")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.applyConfig(cmd) }
	root.PersistentPostRunE = func(cmd *cobra.Command, _ []string) error { return g.afterHooks(cmd) }

	root.AddCommand(
		g.initCmd(), g.startCmd(), g.completeCmd(), g.abortCmd(), g.migrateCmd(),
		g.statusCmd(), g.clientsCmd(), g.schemaNameCmd(), g.planCmd(), g.lintCmd(),
		g.historyCmd(), g.newCmd(), g.baselineCmd(), g.configCmd(), g.foreignCmd(), g.dumpCmd(), g.driftCmd(), g.doctorCmd(),
		g.scenarioCmd(), g.convertCmd(), g.versionCmd(), g.latestCmd(),
	)
	// The completion commands keep the writer they see now.
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = completionShell
			c.RunE = func(*cobra.Command, []string) error { return completionShell(nil, nil) }
		}
	}
	groupCommands(root)
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			// cobra's help prints "Unknown help topic" and exits 0.
			c.RunE = func(c *cobra.Command, args []string) error {
				cmd, _, err := c.Root().Find(args)
				if err != nil || cmd == nil {
					return usageError{fmt.Errorf("help: unknown command %q: strata help lists the commands", strings.Join(args, " "))}
				}
				cmd.InitDefaultHelpFlag()
				return cmd.Help()
			}
		}
	}
	return root
}

// groupCommands makes every command that only groups others (scenario,
// foreign) refuse an unknown subcommand as a usage error, exit 2 (cobra
// would print the help and exit 0); without one it prints its help.
func groupCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupCommands(sub)
	}
	if !c.HasParent() || !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		msg := fmt.Sprintf("unknown command %q for %q: the commands are %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
		if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(sugg, " or "))
		}
		return usageError{errors.New(msg)}
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// completionShells are the shells `strata completion` writes scripts for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// completionShell refuses a shell cobra has no script for (it would print
// the help and exit 0) and a missing one: usage errors, exit 2.
func completionShell(_ *cobra.Command, args []string) error {
	list := strings.Join(completionShells, ", ")
	if len(args) == 0 {
		return usageError{fmt.Errorf("completion needs a shell: one of %s", list)}
	}
	return usageError{fmt.Errorf("completion: unknown shell %q: the shells are %s", args[0], list)}
}

// versionAsked tells whether args ask for the version (-v, --version)
// wherever the flag stands, parsing them as the command they name would.
func versionAsked(root *cobra.Command, args []string) bool {
	if !slices.ContainsFunc(args, func(a string) bool { return a == "-v" || a == "--version" || strings.HasPrefix(a, "--version=") }) {
		return false
	}
	cmd, rest, err := root.Find(args)
	if err != nil {
		return false
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return false
	}
	v, err := cmd.Flags().GetBool("version")
	return err == nil && v
}

// CheckArgs resolves args (without the program name) against strata's
// command tree without running anything: the command path must exist, every
// flag must be one of that command's (or a global one) with a valid value,
// and the positional arguments must be ones the command accepts. The docs
// test checks every `strata ...` line of README.md and docs/ with it.
func CheckArgs(args []string) error {
	g := &globals{stdout: io.Discard, stderr: io.Discard}
	root := g.rootCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return nil
	}
	if v, _ := cmd.Flags().GetBool("version"); v {
		return nil
	}
	if cmd.Runnable() {
		if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
			return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
		}
	} else if len(cmd.Flags().Args()) > 0 {
		return fmt.Errorf("%s: unknown command %q", cmd.CommandPath(), cmd.Flags().Args()[0])
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return cmd.ValidateFlagGroups()
}

func (g *globals) run(ctx context.Context, root *cobra.Command) int {
	cmd, err := root.ExecuteContextC(ctx)
	// An interrupted backfill leaves its progress line open: end it.
	g.prog.breakLine()
	if err != nil {
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
	g.prog.breakLine()
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
	g.prog = prog
	opts := engine.Options{
		Schema: g.schema, StateSchema: g.stateSchema,
		LockTimeout: g.lockTimeout, LockDeadline: g.lockDeadline, LockWait: g.lockWait,
		BatchSize: g.batchSize, BatchTarget: g.batchTarget, Workers: g.workers,
		MaxRowsPerSecond: g.maxRate, MaxReplicationLag: g.maxLag,
		SpaceOptions: engine.SpaceOptions{VacuumFraction: g.vacuumFraction, MaxAppLatency: g.maxAppLatency,
			IgnoreDiskCheck: g.ignoreDisk},
		Logf:     g.logf,
		Progress: prog.report,
		// A resumed phase keeps the settings it started with, except
		// those given again (a flag, or STRATA_<FLAG>); the project file
		// and the defaults do not override them.
		ThrottleGiven: g.throttleGiven,
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

// throttleGiven says whether a backfill setting was given for this run: on
// the command line or in the environment.
func (g *globals) throttleGiven(name string) bool {
	if g.project == nil {
		return true
	}
	src := g.project.sources[name]
	return strings.HasPrefix(src, "flag ") || strings.HasPrefix(src, "env ")
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

// loadedOrNone is loaded for commands that report the database's state: a
// migrations folder that does not exist gives no migrations (and
// folderMissing), not an error.
func (g *globals) loadedOrNone(fn func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration, folderMissing bool) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		m, err := g.migrator()
		if err != nil {
			return err
		}
		if _, err := os.Stat(g.dir); errors.Is(err, fs.ErrNotExist) {
			return fn(cmd.Context(), m, nil, true)
		}
		migs, err := g.load(m)
		if err != nil {
			return err
		}
		return fn(cmd.Context(), m, migs, false)
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
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show completed, in-progress and pending migrations",
		Args:  cobra.NoArgs,
		RunE: g.loadedOrNone(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration, folderMissing bool) error {
			st, err := m.Status(ctx, migs)
			if err != nil {
				return err
			}
			if folderMissing {
				// Without the folder, pending and missing files are not
				// known: the database's state is all there is to report.
				st.Missing = []string{}
				g.logf("note: no migrations folder %s: pending migrations not shown (use --dir)", g.dir)
			}
			if out.JSON() {
				return g.writeJSON(st)
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
			if st.Throttle != nil {
				fmt.Fprintf(g.stdout, "throttle:         %s\n", throttleText(st.Throttle))
			}
			for _, b := range st.Backfills {
				fmt.Fprintf(g.stdout, "backfill %s: %d rows of ~%d, done=%v, %s; table %s, extra %s now, ~%s expected\n", b.Table, b.RowsDone, b.RowsEstimate, b.Done,
					rateText(b.RowsPerSecond), bytesText(b.SizeBefore), bytesText(max(b.SizeNow-b.SizeBefore, 0)), bytesText(b.ExpectedExtra))
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
	out = addFormatFlag(cmd)
	return cmd
}

// rateText renders a backfill rate (backfill.Rate: this run's rows only),
// the same number status prints in JSON, rounded.
func rateText(r float64) string {
	return fmt.Sprintf("%s rows/s", countText(int64(math.Round(r))))
}

// throttleText renders the backfill settings a phase runs with, by their
// flags' names: the optional ones only when set.
func throttleText(t *engine.Throttle) string {
	sec := func(s float64) string { return time.Duration(s * float64(time.Second)).String() }
	parts := []string{fmt.Sprintf("batch-size %d", t.BatchSize), "batch-target " + sec(t.BatchTargetSeconds),
		fmt.Sprintf("backfill-workers %d", t.BackfillWorkers)}
	if t.MaxRowsPerSecond > 0 {
		parts = append(parts, fmt.Sprintf("max-rows-per-second %g", t.MaxRowsPerSecond))
	}
	if t.MaxReplicationLagSeconds > 0 {
		parts = append(parts, "max-replication-lag "+sec(t.MaxReplicationLagSeconds))
	}
	if t.MaxAppLatencySeconds > 0 {
		parts = append(parts, "max-app-latency "+sec(t.MaxAppLatencySeconds))
	}
	if t.BackfillVacuumEvery != 0 {
		parts = append(parts, fmt.Sprintf("backfill-vacuum-every %g", t.BackfillVacuumEvery))
	}
	return strings.Join(parts, ", ")
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
	var out *outputFormat
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
			return g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
				return g.plan(ctx, m, migs, out.String())
			})(cmd, nil)
		},
	}
	out = addFormatFlag(cmd)
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
		err = g.writeJSON(rep)
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
