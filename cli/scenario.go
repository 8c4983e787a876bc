package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/scenario"
)

type scnFlags struct {
	prefix   string
	parallel int
}

func (g *globals) scenarioManager(f *scnFlags) (*scenario.Manager, error) {
	opts := scenario.Options{
		Schema: g.schema, StateSchema: g.stateSchema, Prefix: f.prefix,
		LockTimeout: g.lockTimeout, LockDeadline: g.lockDeadline, Parallel: f.parallel,
		Logf: g.logf,
	}
	if spec := os.Getenv("STRATA_CRASH_AFTER"); strings.HasPrefix(spec, "scenario-copy:") {
		table := strings.TrimPrefix(spec, "scenario-copy:")
		opts.AfterCopy = func(t string) {
			if t == table {
				kill()
			}
		}
	}
	return scenario.New(g.connString(), opts)
}

func (g *globals) scenarioCmd() *cobra.Command {
	f := &scnFlags{}
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "What-if scenarios: filtered copies of some tables in a schema and role of their own (docs/scenarios.md)",
		Long: `A scenario is a schema and a NOLOGIN role of the same name (--prefix + NAME)
holding filtered copies of the tables an attempt changes. The application
connects with search_path = "$user", <its schemas>, enters the scenario with
SET ROLE and leaves it with RESET ROLE; tables it did not copy are read from
the base (read-only). SET ROLE is a switch, not a security boundary.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&f.prefix, "prefix", scenario.DefaultPrefix, "prefix of the scenario's schema and role names")
	cmd.AddCommand(g.scnCreateCmd(f), g.scnCopyCmd(f), g.scnListCmd(f), g.scnShowCmd(f), g.scnDiffCmd(f),
		g.scnPromoteCmd(f), g.scnResetCmd(f), g.scnDropCmd(f))
	return cmd
}

func (g *globals) scnCreateCmd(f *scnFlags) *cobra.Command {
	var spec scenario.CreateSpec
	var tableWhere []string
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "create NAME --table T [--table T2 ...]",
		Short: "Copy tables (filtered) into a new scenario, under one snapshot, and print how to enter it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			spec.TableWhere = map[string]string{}
			for _, tw := range tableWhere {
				t, e, ok := strings.Cut(tw, "=")
				if !ok || strings.TrimSpace(t) == "" || strings.TrimSpace(e) == "" {
					return usageError{fmt.Errorf("--table-where %q: want TABLE=EXPR", tw)}
				}
				if _, dup := spec.TableWhere[t]; dup {
					return usageError{fmt.Errorf("--table-where: table %q is given twice", t)}
				}
				spec.TableWhere[t] = e
			}
			if f.parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1, not %d", f.parallel)}
			}
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			res, err := m.Create(cmd.Context(), spec)
			if err != nil {
				return fmt.Errorf("scenario create %s: %w", spec.Name, trimScn(err, "scenario create "+spec.Name+": "))
			}
			if out.JSON() {
				return g.writeJSON(res)
			}
			sc := res.Scenario
			fmt.Fprintf(g.stdout, "created scenario %s: schema and role %q, %d table(s), %d row(s) copied under snapshot %s\n",
				sc.Name, sc.Role, len(sc.Tables), sc.Rows, sc.CopyXID)
			writeTables(g.stdout, sc)
			for _, c := range res.Cycles {
				fmt.Fprintf(g.stdout, "--follow broke a foreign-key cycle: %s (the last table keeps the filter it was reached with)\n", strings.Join(c, " -> "))
			}
			fmt.Fprintln(g.stdout, "enter it from the application:")
			for _, l := range res.Enter {
				fmt.Fprintln(g.stdout, "  "+l)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&spec.Tables, "table", nil, "a table to copy (repeatable)")
	fl.StringVar(&spec.Where, "where", "", "filter of every --table table: a boolean SQL expression over its row, e.g. tenant_id = 42")
	fl.StringArrayVar(&tableWhere, "table-where", nil, "TABLE=EXPR: that table's own filter (repeatable)")
	fl.BoolVar(&spec.Follow, "follow", false, "also copy, recursively, the tables that reference copied tables, filtered to the rows that reference copied rows")
	fl.StringArrayVar(&spec.Members, "member", nil, "a role that may enter the scenario (the application's login role; repeatable)")
	fl.BoolVar(&spec.Logged, "logged", false, "make the copies logged tables (default UNLOGGED: not crash-safe, not replicated)")
	fl.IntVar(&f.parallel, "parallel", 2, "tables copied at once (each on its own connection, all under one snapshot)")
	out = addFormatFlag(cmd)
	return cmd
}

// trimScn removes a repeated context prefix from a scenario error.
func trimScn(err error, prefix string) error {
	var ie *scenario.InputError
	if errors.As(err, &ie) {
		return err
	}
	if msg := err.Error(); strings.HasPrefix(msg, prefix) {
		return errors.New(strings.TrimPrefix(msg, prefix))
	}
	return err
}

func writeTables(w io.Writer, sc *scenario.Scenario) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, t := range sc.Tables {
		filter := "all rows"
		if t.Filter != nil {
			filter = "filter: " + *t.Filter
		}
		if t.Via != "" {
			filter = "followed: " + t.Via
		}
		fmt.Fprintf(tw, "  %s\t%d rows copied\t%d changed\t%s\t%s\n", t.Name, t.RowsCopied, t.Changed, bytesStr(t.Bytes), filter)
	}
	tw.Flush()
}

func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (g *globals) scnCopyCmd(f *scnFlags) *cobra.Command {
	var table, where string
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "copy NAME --table T [--where EXPR]",
		Short: "Add a table to a scenario (under a snapshot of its own)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if table == "" {
				return usageError{errors.New("scenario copy: --table is required")}
			}
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			sc, err := m.Copy(cmd.Context(), args[0], table, where)
			if err != nil {
				return fmt.Errorf("scenario copy %s: %w", args[0], trimScn(err, "scenario copy "+args[0]+": "))
			}
			if out.JSON() {
				return g.writeJSON(sc)
			}
			t := sc.Tables[len(sc.Tables)-1]
			fmt.Fprintf(g.stdout, "copied %s into scenario %s: %d rows\n", t.Name, sc.Name, t.RowsCopied)
			return nil
		},
	}
	cmd.Flags().StringVar(&table, "table", "", "the table to add")
	cmd.Flags().StringVar(&where, "where", "", "its filter (default: the scenario's --where)")
	out = addFormatFlag(cmd)
	return cmd
}

func (g *globals) scnListCmd(f *scnFlags) *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every scenario: name, tables, rows, bytes, created, members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			all, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			if out.JSON() {
				if all == nil {
					all = []*scenario.Scenario{}
				}
				return g.writeJSON(map[string]any{"scenarios": all})
			}
			if len(all) == 0 {
				fmt.Fprintln(g.stdout, "no scenarios")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tTABLES\tROWS\tBYTES\tCREATED\tMEMBERS")
			for _, s := range all {
				var names []string
				for _, t := range s.Tables {
					names = append(names, t.Name)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, stateStr(s), orNone(names), s.Rows, bytesStr(s.Bytes),
					s.CreatedAt.UTC().Format(time.RFC3339), orNone(s.Members))
			}
			return tw.Flush()
		},
	}
	out = addFormatFlag(cmd)
	return cmd
}

func stateStr(s *scenario.Scenario) string {
	if s.State == scenario.StateCreating {
		return "creating (interrupted? drop clears it)"
	}
	return s.State
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func (g *globals) scnShowCmd(f *scnFlags) *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one scenario in detail, with its filters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			s, err := m.Show(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out.JSON() {
				return g.writeJSON(s)
			}
			parent := "(no migration completed)"
			if s.ParentState != nil {
				parent = *s.ParentState
			}
			fmt.Fprintf(g.stdout, "scenario:      %s (%s)\n", s.Name, stateStr(s))
			fmt.Fprintf(g.stdout, "schema, role:  %s\n", s.Role)
			fmt.Fprintf(g.stdout, "base schema:   %s at %s\n", s.BaseSchema, parent)
			fmt.Fprintf(g.stdout, "created:       %s (snapshot %s)\n", s.CreatedAt.UTC().Format(time.RFC3339), s.CopyXID)
			fmt.Fprintf(g.stdout, "members:       %s\n", orNone(s.Members))
			logged := "unlogged"
			if s.Logged {
				logged = "logged"
			}
			fmt.Fprintf(g.stdout, "copies:        %d table(s), %d rows copied, %s, %s\n", len(s.Tables), s.Rows, bytesStr(s.Bytes), logged)
			writeTables(g.stdout, s)
			return nil
		},
	}
	out = addFormatFlag(cmd)
	return cmd
}

func (g *globals) scnDiffCmd(f *scnFlags) *cobra.Command {
	var o scenario.DiffOptions
	var out *outputFormat
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff NAME [--against OTHER]",
		Short: "Show the rows added, removed and changed in a scenario against the base (or another scenario)",
		Long: `Compares, by primary key, the rows changed in the scenario since its copy with the
base rows (restricted to the scenario's filters), or with another scenario
(--against: OTHER is the old side). --format sql prints the statements that
would make the old side equal to the scenario. Exits 0 whether or not there are
differences; --exit-code exits 1 when there are.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Limit < 0 {
				return usageError{fmt.Errorf("--limit must not be negative, not %d", o.Limit)}
			}
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			o.SQL = out.String() == "sql"
			d, err := m.Diff(cmd.Context(), args[0], o)
			if err != nil {
				return fmt.Errorf("scenario diff %s: %w", args[0], trimScn(err, "scenario diff "+args[0]+": "))
			}
			switch out.String() {
			case "json":
				if err := g.writeJSON(d); err != nil {
					return err
				}
			case "sql":
				fmt.Fprintf(g.stdout, "-- make %s equal to scenario %s\nBEGIN;\n", d.Against, d.Scenario)
				for _, s := range d.Statements {
					fmt.Fprintln(g.stdout, s)
				}
				fmt.Fprintln(g.stdout, "COMMIT;")
			default:
				writeDiff(g.stdout, d)
			}
			if exitCode && d.Total() > 0 {
				return errSilent{errors.New("differences")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Against, "against", "", "compare with this scenario instead of the base")
	cmd.Flags().StringVar(&o.Table, "table", "", "only this table")
	out = addFormatFlag(cmd, "text", "json", "sql")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "list at most this many changed rows (0: all; the counts are always complete)")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when there are differences")
	return cmd
}

func val(v *string) string {
	if v == nil {
		return "NULL"
	}
	return "'" + strings.ReplaceAll(*v, "'", "''") + "'"
}

func keyStr(k map[string]string) string {
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + k[n]
	}
	return strings.Join(parts, ",")
}

func writeDiff(w io.Writer, d *scenario.Diff) {
	ins, upd, del := 0, 0, 0
	for _, t := range d.Tables {
		ins, upd, del = ins+t.Inserted, upd+t.Updated, del+t.Deleted
	}
	fmt.Fprintf(w, "scenario %s against %s: %d inserted, %d updated, %d deleted\n", d.Scenario, d.Against, ins, upd, del)
	for _, t := range d.Tables {
		fmt.Fprintf(w, "  %s: %d inserted, %d updated, %d deleted\n", t.Table, t.Inserted, t.Updated, t.Deleted)
	}
	for _, c := range d.Changes {
		mark := map[string]string{"insert": "+", "update": "~", "delete": "-"}[c.Op]
		var parts []string
		for _, cc := range c.Columns {
			switch c.Op {
			case "insert":
				parts = append(parts, cc.Column+"="+val(cc.New))
			case "delete":
				parts = append(parts, cc.Column+"="+val(cc.Old))
			default:
				parts = append(parts, cc.Column+": "+val(cc.Old)+" -> "+val(cc.New))
			}
		}
		fmt.Fprintf(w, "%s %s %s: %s\n", mark, c.Table, keyStr(c.Key), strings.Join(parts, "; "))
	}
	if d.Truncated {
		fmt.Fprintf(w, "(%d more not listed; raise --limit)\n", d.Total()-len(d.Changes))
	}
}

func (g *globals) scnPromoteCmd(f *scnFlags) *cobra.Command {
	var tables []string
	var dryRun bool
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "promote NAME [--table T] [--dry-run]",
		Short: "Apply a scenario's changes to the base tables in one transaction; refuses on conflicts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			res, err := m.Promote(cmd.Context(), args[0], tables, dryRun)
			var ce *scenario.ConflictError
			if errors.As(err, &ce) {
				if out.JSON() {
					if jerr := g.writeJSON(map[string]any{"scenario": args[0], "conflicts": ce.Conflicts}); jerr != nil {
						return jerr
					}
				} else {
					for _, c := range ce.Conflicts {
						fmt.Fprintf(g.stdout, "conflict: %s %s: %s\n", c.Table, keyStr(c.Key), c.Reason)
					}
				}
				return err
			}
			if err != nil {
				return fmt.Errorf("scenario promote %s: %w", args[0], trimScn(err, "scenario promote "+args[0]+": "))
			}
			if out.JSON() {
				return g.writeJSON(res)
			}
			verb := "promoted"
			if dryRun {
				verb = "would promote (dry run, nothing changed)"
			}
			fmt.Fprintf(g.stdout, "%s scenario %s\n", verb, res.Scenario)
			for _, t := range res.Tables {
				fmt.Fprintf(g.stdout, "  %s: %d inserted, %d updated, %d deleted\n", t.Table, t.Inserted, t.Updated, t.Deleted)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&tables, "table", nil, "only this table (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check for conflicts and count the changes, then roll back")
	out = addFormatFlag(cmd)
	return cmd
}

func (g *globals) scnResetCmd(f *scnFlags) *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "reset NAME",
		Short: "Copy the base data again, throwing the scenario's changes away",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			sc, err := m.Reset(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out.JSON() {
				return g.writeJSON(sc)
			}
			fmt.Fprintf(g.stdout, "reset scenario %s: %d row(s) copied again under snapshot %s\n", sc.Name, sc.Rows, sc.CopyXID)
			return nil
		},
	}
	out = addFormatFlag(cmd)
	return cmd
}

func (g *globals) scnDropCmd(f *scnFlags) *cobra.Command {
	var ifExists bool
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "drop NAME [--if-exists]",
		Short: "Drop a scenario's schema, role and metadata (also clears an interrupted create)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.scenarioManager(f)
			if err != nil {
				return err
			}
			found, err := m.Drop(cmd.Context(), args[0], ifExists)
			if err != nil {
				return err
			}
			if out.JSON() {
				return g.writeJSON(struct {
					Scenario string `json:"scenario"`
					Dropped  bool   `json:"dropped"`
				}{args[0], found})
			}
			if found {
				fmt.Fprintf(g.stdout, "dropped scenario %s\n", args[0])
			} else {
				fmt.Fprintf(g.stdout, "no scenario %s; nothing to drop\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "do not fail when the scenario does not exist")
	out = addFormatFlag(cmd)
	return cmd
}

// scenarioGuard is engine.Options.BeforeStart: it refuses a phase while a
// scenario holds a copy of a table the phase changes, or drops those
// scenarios with --drop-scenarios.
func (g *globals) scenarioGuard(ctx context.Context, pending []*migration.Migration) error {
	tables, all := changedTables(pending)
	if !all && len(tables) == 0 {
		return nil
	}
	m, err := g.scenarioManager(&scnFlags{})
	if err != nil {
		return err
	}
	if all {
		tables = nil
	}
	hs, err := m.Holding(ctx, tables)
	if err != nil || len(hs) == 0 {
		return err
	}
	if !g.dropScenarios {
		return scenario.HoldingError(hs)
	}
	for _, h := range hs {
		if _, err := m.Drop(ctx, h.Name, true); err != nil {
			return err
		}
		g.logf("dropped scenario %s (--drop-scenarios): it held %s", h.Name, strings.Join(h.Tables, ", "))
	}
	return nil
}

// changedTables lists the tables the migrations change; all is true when a
// .sql migration or a custom action may change any table.
func changedTables(migs []*migration.Migration) (tables []string, all bool) {
	for _, mg := range migs {
		if mg.Kind == migration.KindSQL {
			return nil, true
		}
		for _, a := range mg.Actions {
			switch a := a.(type) {
			case *migration.AddColumn:
				tables = append(tables, a.Table)
			case *migration.AlterColumn:
				tables = append(tables, a.Table)
			case *migration.RemoveColumn:
				tables = append(tables, a.Table)
			case *migration.RenameTable:
				tables = append(tables, a.Table)
			case *migration.RemoveTable:
				tables = append(tables, a.Table)
			case *migration.AddIndex:
				tables = append(tables, a.Table)
			case *migration.AddForeignKey:
				tables = append(tables, a.Table, a.ForeignKey.ReferencedTable)
			case *migration.RemoveForeignKey:
				tables = append(tables, a.Table)
			case *migration.AddCheck:
				tables = append(tables, a.Table)
			case *migration.RemoveCheck:
				tables = append(tables, a.Table)
			case *migration.Custom:
				return nil, true
			}
		}
	}
	return tables, false
}
