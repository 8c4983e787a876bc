package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/doctor"
	"github.com/stratapg/strata/drift"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/lint"
	"github.com/stratapg/strata/migration"
)

func (g *globals) dumpCmd() *cobra.Command {
	var out, check string
	cmd := &cobra.Command{
		Use:   "dump [--out FILE | --check FILE]",
		Short: "Write the structure of the managed schema as SQL (deterministic), or check it against a file",
		Long: `Writes the structure of the managed schema as SQL that recreates it, in dependency
order, followed by the applied migrations (like Rails' structure.sql). strata's
state schema and the version schemas are left out; the same structure always
gives the same bytes. With --check FILE, compares the live structure with FILE and
exits 1 with a unified diff when they differ.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out != "" && check != "" {
				return usageError{errors.New("--out and --check cannot be used together")}
			}
			var want []byte
			if check != "" {
				var err error
				if want, err = os.ReadFile(check); err != nil {
					return fmt.Errorf("dump --check: %w", err)
				}
			}
			m, err := g.migrator()
			if err != nil {
				return err
			}
			text, err := m.Dump(cmd.Context())
			if err != nil {
				return err
			}
			switch {
			case check != "":
				if string(want) == text {
					fmt.Fprintf(g.stdout, "%s matches the structure of schema %s\n", check, g.schema)
					return nil
				}
				fmt.Fprint(g.stdout, unifiedDiff(check, "database", string(want), text))
				return fmt.Errorf("dump --check: the structure of schema %s differs from %s (hint: review the diff, then strata dump --out %s)", g.schema, check, check)
			case out != "":
				if err := os.WriteFile(out, []byte(text), 0o666); err != nil {
					return err
				}
				g.logf("wrote %s", out)
				return nil
			}
			_, err = fmt.Fprint(g.stdout, text)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the dump to FILE instead of standard output")
	cmd.Flags().StringVar(&check, "check", "", "exit 1 and show a unified diff when the live structure differs from FILE")
	return cmd
}

// baselineStructure is strata baseline NAME.
func (g *globals) baselineStructure(ctx context.Context, name string) error {
	if !fileNameRE.MatchString(name) {
		return usageError{fmt.Errorf("baseline: name %q: use letters, digits and _ (e.g. 001_baseline)", name)}
	}
	m, err := g.migrator()
	if err != nil {
		return err
	}
	text, err := m.Dump(ctx)
	if err != nil {
		return err
	}
	path, err := m.RecordFile(ctx, g.dir, name, text, "baseline")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %s and recorded %s as applied (not run)\n", path, name)
	return nil
}

func (g *globals) driftCmd() *cobra.Command {
	var out *outputFormat
	var shadow, write string
	cmd := &cobra.Command{
		Use:   "drift [--format text|json] [--shadow-url URL] [--write NAME]",
		Short: "Compare the live managed schema with the structure the migrations produce (exit 1 on drift)",
		Long: `Replays the migrations the database lists as applied into a temporary database
(created and dropped on the same server, or the empty database at --shadow-url)
and compares the two structures object by object. One line per difference:
"+" in the database only, "-" in the migrations only, "~" different (migrations ->
database). Exit 1 on any drift. With --write NAME, writes the statements that
take the migrations' structure to the live one as NAME.sql in --dir, lints it, and
records it as applied.`,
		Args: cobra.NoArgs,
		RunE: g.loaded(func(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) error {
			if write != "" && !fileNameRE.MatchString(write) {
				return usageError{fmt.Errorf("--write %q: use letters, digits and _ (e.g. 005_hotfix)", write)}
			}
			rep, err := m.Replay(ctx, migs, shadow)
			if err != nil {
				return err
			}
			live, _, err := m.Structure(ctx)
			if err != nil {
				return err
			}
			diffs := drift.Compare(rep.Schema, live)
			if len(rep.Pending) > 0 {
				g.logf("not replayed (pending, not applied to the database): %s", strings.Join(rep.Pending, ", "))
			}
			if write != "" {
				if len(diffs) == 0 {
					fmt.Fprintln(g.stdout, "no drift: nothing to write")
					return nil
				}
				body := "-- " + write + ": written by strata drift --write: the changes made to the database by hand.\n" + drift.SQL(rep.Schema, live, diffs)
				if err := g.lintWritten(write, body); err != nil {
					return err
				}
				path, err := m.RecordFile(ctx, g.dir, write, body, "drift --write")
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "wrote %s (%d difference(s)) and recorded %s as applied (not run)\n", path, len(diffs), write)
				return nil
			}
			if out.JSON() {
				if diffs == nil {
					diffs = []drift.Diff{}
				}
				replayed, pending := rep.Replayed, rep.Pending
				if replayed == nil {
					replayed = []string{}
				}
				if pending == nil {
					pending = []string{}
				}
				if err := g.writeJSON(struct {
					Schema   string       `json:"schema"`
					Drift    []drift.Diff `json:"drift"`
					Replayed []string     `json:"replayed"`
					Pending  []string     `json:"pending"`
				}{g.schema, diffs, replayed, pending}); err != nil {
					return err
				}
			} else {
				for _, d := range diffs {
					fmt.Fprintln(g.stdout, d.String())
				}
			}
			if len(diffs) > 0 {
				if out.JSON() {
					return errSilent{errors.New("drift")}
				}
				return fmt.Errorf("%d difference(s) between the migrations and schema %s\nhint: turn the changes into a migration with strata drift --write NAME, or undo them", len(diffs), g.schema)
			}
			if !out.JSON() {
				fmt.Fprintf(g.stdout, "no drift: schema %s matches its %d applied migration(s)\n", g.schema, len(rep.Replayed))
			}
			return nil
		}),
	}
	out = addFormatFlag(cmd)
	cmd.Flags().StringVar(&shadow, "shadow-url", "", "replay into this empty database instead of a temporary one")
	cmd.Flags().StringVar(&write, "write", "", "write the difference as the .sql migration NAME in --dir and record it as applied")
	return cmd
}

// lintWritten lints a migration strata wrote: its findings are printed
// (the change is already live, so they do not refuse it), a file that does
// not parse is refused.
func (g *globals) lintWritten(name, body string) error {
	f, err := lint.LintSQL(name+".sql", []byte(body), lint.Config{InTransaction: true, AssumeLockTimeout: true})
	if err != nil {
		return fmt.Errorf("drift --write: the written migration does not lint: %w", err)
	}
	if len(f) > 0 {
		fmt.Fprintf(g.stderr, "strata: lint findings in %s.sql (recorded anyway: these changes are already in the database; review before other databases run it):\n", name)
		if err := lint.WriteText(g.stderr, f, map[string][]byte{name + ".sql": []byte(body)}); err != nil {
			return err
		}
	}
	return nil
}

// unifiedDiff is a line-based unified diff of a and b (3 lines of
// context).
func unifiedDiff(nameA, nameB, a, b string) string {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	// LCS table.
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		c    byte
		line string
		i, j int
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i, j})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', y[j], i, j})
			j++
		default:
			ops = append(ops, op{'-', x[i], i, j})
			i++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	for k := 0; k < len(ops); {
		if ops[k].c == ' ' {
			k++
			continue
		}
		start := max(k-3, 0)
		end := k
		for end < len(ops) {
			if ops[end].c != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].c == ' ' {
				run++
			}
			if run-end > 6 || run == len(ops) {
				end = min(end+3, len(ops))
				break
			}
			end = run
		}
		ai, bj := ops[start].i, ops[start].j
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.c != '+' {
				na++
			}
			if o.c != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", ai+1, na, bj+1, nb)
		for _, o := range ops[start:end] {
			l := o.line
			if !strings.HasSuffix(l, "\n") {
				l += "\n"
			}
			out.WriteString(string(o.c) + l)
		}
		k = end
	}
	return out.String()
}

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func (g *globals) doctorCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "doctor [--format text|json]",
		Short: "Report what needs attention in the managed schema (exit 1 on an error finding)",
		Long: `Reports, whatever the schema's history: INVALID indexes (error), NOT VALID
constraints (warning), strata objects left by an interrupted command (error),
sequences and identity columns past 75% of their range (error), RLS tables whose
version views would bypass the policies on PostgreSQL before 15 (error), .sql
migrations whose run did not complete (error), a phase in progress, foreign keys
without an index, tables without a primary key and duplicate indexes (warnings).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := g.migrator()
			if err != nil {
				return err
			}
			found, err := m.Doctor(cmd.Context())
			if err != nil {
				return err
			}
			errs := 0
			for _, f := range found {
				if f.Severity == doctor.Error {
					errs++
				}
			}
			if out.JSON() {
				if found == nil {
					found = []doctor.Finding{}
				}
				if err := g.writeJSON(struct {
					Schema   string           `json:"schema"`
					Findings []doctor.Finding `json:"findings"`
				}{g.schema, found}); err != nil {
					return err
				}
				if errs > 0 {
					return errSilent{errors.New("doctor")}
				}
				return nil
			}
			for _, f := range found {
				fmt.Fprintln(g.stdout, f.String())
			}
			if errs > 0 {
				return fmt.Errorf("doctor found %d error(s) in schema %s\nhint: each line above says what to do", errs, g.schema)
			}
			if len(found) == 0 {
				fmt.Fprintf(g.stdout, "nothing to report in schema %s\n", g.schema)
			}
			return nil
		},
	}
	out = addFormatFlag(cmd)
	return cmd
}
