package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/lint"
	"github.com/stratapg/strata/migration"
)

// sqlGate lints .sql migrations in their real transaction shape before
// any runs: the engine may not import the linter, so the CLI hands it this
// function (engine.Options.SQLGate). Unsuppressed errors are printed and
// refuse them all.
func (g *globals) sqlGate(pgVersion func() int) engine.SQLGate {
	return func(migs []*migration.Migration) error {
		var all []lint.Finding
		sources := map[string][]byte{}
		for _, mg := range migs {
			cfg := lint.Config{PGVersion: pgVersion(), InTransaction: !mg.SQL.NoTransaction, AssumeLockTimeout: true}
			f, err := lint.LintSQL(mg.File, []byte(mg.SQL.Source), cfg)
			if err != nil {
				return err
			}
			sources[mg.File] = []byte(mg.SQL.Source)
			for _, x := range f {
				if x.Severity == lint.SeverityError {
					all = append(all, x)
				}
			}
		}
		if len(all) == 0 {
			return nil
		}
		if err := lint.WriteText(g.stderr, all, sources); err != nil {
			return err
		}
		return fmt.Errorf("lint found %d error(s) in the pending .sql migrations; nothing ran (hint: fix them, or suppress one with -- strata:ignore CODE reason)", len(all))
	}
}

func (g *globals) historyCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the applied migrations, oldest first, and whether each file changed or is missing",
		Args:  cobra.NoArgs,
		RunE: g.loadedOrNone(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration, folderMissing bool) error {
			items, err := m.History(ctx, migs)
			if err != nil {
				return err
			}
			if folderMissing {
				// Without the folder, whether a file changed is not
				// known: no completed migration is called missing.
				for i := range items {
					if items[i].File == "missing" {
						items[i].File = "unknown"
					}
				}
				g.logf("note: no migrations folder %s: whether files changed is not known (use --dir)", g.dir)
			}
			if out.JSON() {
				if items == nil {
					items = []engine.HistoryItem{}
				}
				return g.writeJSON(struct {
					Schema     string               `json:"schema"`
					Migrations []engine.HistoryItem `json:"migrations"`
				}{g.schema, items})
			}
			if len(items) == 0 {
				fmt.Fprintln(g.stdout, "no migrations applied")
				return nil
			}
			for _, it := range items {
				when, dur := "-", "-"
				if it.CompletedAt != nil {
					when = it.CompletedAt.UTC().Format(time.RFC3339)
				}
				if it.DurationMS != nil {
					dur = (time.Duration(*it.DurationMS) * time.Millisecond).String()
				}
				note := it.File
				if it.Source != "strata" {
					note += " (" + it.Source + ")"
				}
				if it.FailedStatement != nil {
					note += fmt.Sprintf(": statement %d failed: %s", *it.FailedStatement, it.Error)
				}
				fmt.Fprintf(g.stdout, "%-4s  %-40s  %s  %8s  %s  strata %s  %s\n", it.Kind, it.Name, when, dur, it.Role, it.ToolVersion, note)
			}
			return nil
		}),
	}
	out = addFormatFlag(cmd)
	return cmd
}

var (
	timestampPrefix = regexp.MustCompile(`^(\d{14})_`)
	numberPrefix    = regexp.MustCompile(`^(\d+)_`)
	newNameRE       = regexp.MustCompile(`^[a-z0-9_]+$`)
)

func (g *globals) newCmd() *cobra.Command {
	var asSQL, asTOML bool
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create the next migration file in --dir (a .sql file unless --toml) and print its path",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !newNameRE.MatchString(name) {
				return usageError{fmt.Errorf("new: name %q: use lower-case letters, digits and _", name)}
			}
			if asSQL && asTOML {
				return usageError{errors.New("new: --sql and --toml cannot be used together")}
			}
			ext := ".sql"
			if asTOML {
				ext = ".toml"
			}
			if err := os.MkdirAll(g.dir, 0o777); err != nil {
				return fmt.Errorf("new: %w", err)
			}
			prefix, err := nextPrefix(g.dir, time.Now())
			if err != nil {
				return err
			}
			path := filepath.Join(g.dir, prefix+"_"+name+ext)
			body := "-- " + name + ": runs in one transaction. Make the first line\n-- \"-- strata:no-transaction\" to run it statement by statement (CREATE INDEX CONCURRENTLY).\n"
			if asTOML {
				body = "# " + name + ": an expand/contract migration (see docs/migrations.md).\n\n[[actions]]\n"
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if err != nil {
				return fmt.Errorf("new: %w (hint: strata new never overwrites a file)", err)
			}
			if _, err := f.WriteString(body); err != nil {
				f.Close()
				return fmt.Errorf("new: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("new: %w", err)
			}
			fmt.Fprintln(g.stdout, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asSQL, "sql", false, "a plain .sql migration (the default)")
	cmd.Flags().BoolVar(&asTOML, "toml", false, "an expand/contract .toml migration")
	return cmd
}

// nextPrefix follows the folder's convention: a UTC timestamp when its
// files use timestamps or it has none, else the next zero-padded number.
func nextPrefix(dir string, now time.Time) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("new: %w", err)
	}
	var nums []string
	stamps := 0
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !(migration.IsSQLFile(n) || isMigrationFile(n)) {
			continue
		}
		if timestampPrefix.MatchString(n) {
			stamps++
			continue
		}
		if m := numberPrefix.FindStringSubmatch(n); m != nil {
			nums = append(nums, m[1])
		}
	}
	if len(nums) == 0 {
		return now.UTC().Format("20060102150405"), nil
	}
	width, max := 0, int64(0)
	for _, s := range nums {
		width = len(s)
		v, _ := strconv.ParseInt(s, 10, 64)
		max = slices.Max([]int64{max, v})
	}
	return fmt.Sprintf("%0*d", width, max+1), nil
}

func (g *globals) baselineCmd() *cobra.Command {
	var from string
	var recordMatching bool
	cmd := &cobra.Command{
		Use:   "baseline NAME | baseline --from TOOL",
		Short: "Adopt an existing database: write its structure as NAME.sql, or record the files another tool applied; nothing runs",
		Long: `With NAME, writes the structure of the managed schema (the text of strata dump)
as NAME.sql in --dir and records it as applied without running it.

With --from, reads the history table of the tool that built the database (goose, golang-migrate,
flyway, rails, pgroll or reshape) and records, as applied, the files of --dir it
lists, matched by version (by name for pgroll and reshape). When the history lists
versions the folder lacks, or skips files of the folder before its latest one,
they are reported and nothing is recorded (unless --record-matching).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" && len(args) == 0 {
				return usageError{errors.New("baseline: give NAME (write the structure as NAME.sql) or --from TOOL")}
			}
			if from != "" && len(args) == 1 {
				return usageError{errors.New("baseline: NAME and --from cannot be used together")}
			}
			if len(args) == 1 {
				return g.baselineStructure(cmd.Context(), args[0])
			}
			if !slices.Contains(engine.BaselineTools, from) {
				return fmt.Errorf("baseline: unknown tool %q for --from (hint: one of %s)", from, strings.Join(engine.BaselineTools, ", "))
			}
			return g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
				res, err := m.Baseline(ctx, migs, from, recordMatching)
				if res != nil && len(res.Recorded) > 0 && err == nil {
					fmt.Fprintf(g.stdout, "recorded as applied (from %s): %s\n", from, strings.Join(res.Recorded, ", "))
				}
				if err != nil {
					return err
				}
				if len(res.Recorded) == 0 {
					fmt.Fprintf(g.stdout, "nothing to record: %s lists no applied migration\n", from)
				}
				if len(res.NotInFolder) > 0 || len(res.NotApplied) > 0 {
					fmt.Fprintf(g.stdout, "not recorded: in %s's history only: %s; in the folder only: %s\n", from,
						listOrNone(res.NotInFolder), listOrNone(res.NotApplied))
				}
				return nil
			})(cmd, nil)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the tool whose history to read: "+strings.Join(engine.BaselineTools, ", "))
	cmd.Flags().BoolVar(&recordMatching, "record-matching", false, "record the matching files even when the history and the folder disagree")
	return cmd
}
