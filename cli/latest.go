package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/suggest"
	"github.com/stratapg/strata/migration"
)

// urlFromConfig is the value of latest's --url given without "=": print
// the connection string of the configured database.
const urlFromConfig = "(configured)"

// latestOutput is strata latest --format json.
type latestOutput struct {
	*engine.Latest
	// URL is the connection string that selects the version schema (with
	// --url).
	URL string `json:"url,omitempty"`
}

func (g *globals) latestCmd() *cobra.Command {
	var out *outputFormat
	var urlFlag string
	cmd := &cobra.Command{
		Use:   "latest",
		Short: "Print the version schema clients should use now (from the database, else from the folder)",
		Long: `Prints the latest version schema: during a phase the new version's, else the
latest completed migration's (read from the database when one is configured and
reachable), else the one the newest migration of --dir would create.

--url prints instead a connection string that selects it: the database URL with
options=-c search_path=<version schema>,<managed schema> (a keyword/value string
gets an options='...' part). --url=URL uses that database and prints that URL
(give the value after "="). The password stays as written in this output.
A --url before the command name (strata --url URL latest) is the global flag:
the database to read, as for every command.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			if before, ok := urlBefore(g.rawArgs, cmd.Name()); ok && len(args) == 1 && args[0] == before {
				return nil // strata --url URL latest: the global flag's value
			}
			if cmd.Flags().Changed("url") && (strings.Contains(args[0], "://") || strings.Contains(args[0], "=")) {
				return usageError{fmt.Errorf("latest: --url takes its value after \"=\": strata latest --url=%s", foreign.MaskURL(args[0]))}
			}
			return usageError{fmt.Errorf("latest takes no arguments, got %q", args[0])}
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The command's --url shadows the global one: a --url given
			// before the command name is the global flag (the database).
			before, hasBefore := urlBefore(g.rawArgs, cmd.Name())
			printURL := cmd.Flags().Changed("url") && (!hasBefore || urlAfter(g.rawArgs, cmd.Name()))
			if hasBefore {
				g.url = before
			}
			if printURL && urlFlag != urlFromConfig {
				if urlFlag == "" {
					return usageError{errors.New("latest: --url= is empty: give a database URL, or --url alone for the configured one")}
				}
				g.url = urlFlag
			}
			return g.latest(cmd.Context(), out.String(), printURL)
		},
	}
	out = addFormatFlag(cmd)
	cmd.Flags().StringVar(&urlFlag, "url", "", "print a connection string that selects the version schema; --url=URL: use that database")
	cmd.Flags().Lookup("url").NoOptDefVal = urlFromConfig
	return cmd
}

func (g *globals) latest(ctx context.Context, format string, printURL bool) error {
	m, err := g.migrator()
	if err != nil {
		return err
	}
	conn := g.connString()
	var l *engine.Latest
	if conn != "" || pgEnvSet() {
		l, err = m.LatestFromDatabase(ctx)
		if err != nil {
			if printURL {
				return err
			}
			g.logf("strata: the database is not reachable (%s): computing the version schema from %s", oneLine(err.Error()), g.dir)
			l = nil
		}
	} else if printURL {
		return usageError{errors.New("latest --url: no database: give --url=URL, or set DATABASE_URL or the PG* variables")}
	}
	if l == nil {
		migs, err := g.load(m)
		if err != nil {
			return err
		}
		l, err = m.LatestFromFolder(migs)
		if errors.Is(err, engine.ErrNoVersionSchema) {
			return fmt.Errorf("no version schema: the database has none yet and %s has no .toml or .json migration; hint: add one (strata new NAME)", g.dir)
		}
		if err != nil {
			return err
		}
	}
	out := latestOutput{Latest: l}
	if printURL {
		if out.URL, err = engine.ConnStringWithSearchPath(conn, l.VersionSchema, l.Schema); err != nil {
			return err
		}
	}
	if format == "json" {
		return g.writeJSON(out) // a URL's & stays &
	}
	if printURL {
		fmt.Fprintln(g.stdout, out.URL)
	} else {
		fmt.Fprintln(g.stdout, l.VersionSchema)
	}
	return nil
}

// urlBefore returns the value of a --url given before the command name in
// args (the global flag), and whether there is one.
func urlBefore(args []string, command string) (string, bool) {
	val, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == command:
			return val, found
		case a == "--url" && i+1 < len(args):
			val, found = args[i+1], true
			i++
		case strings.HasPrefix(a, "--url="):
			val, found = strings.TrimPrefix(a, "--url="), true
		}
	}
	return "", false
}

// urlAfter reports whether a --url is given after the command name.
func urlAfter(args []string, command string) bool {
	i := slices.Index(args, command)
	if i < 0 {
		return false
	}
	for _, a := range args[i+1:] {
		if a == "--url" || strings.HasPrefix(a, "--url=") {
			return true
		}
	}
	return false
}

// migrationFlag adds --migration to start and migrate.
func (g *globals) migrationFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.upTo, "migration", "", "stop at this migration (included): later ones stay pending")
}

// uptoMigrations keeps the migrations up to and including --migration (all
// of them without it). An unknown name is a usage error listing the
// nearest names; a migration already applied is refused.
func (g *globals) uptoMigrations(ctx context.Context, m *engine.Migrator, migs []*migration.Migration) ([]*migration.Migration, error) {
	if g.upTo == "" {
		return migs, nil
	}
	i := slices.IndexFunc(migs, func(mg *migration.Migration) bool { return mg.Name == g.upTo })
	if i < 0 {
		msg := fmt.Sprintf("--migration %q: no migration of that name in %s", g.upTo, g.dir)
		if near := nearestNames(g.upTo, migs, 3); len(near) > 0 {
			msg += "; nearest: " + strings.Join(near, ", ")
		}
		return nil, usageError{errors.New(msg)}
	}
	hist, err := m.History(ctx, migs)
	if err != nil {
		return nil, err
	}
	for _, h := range hist {
		if h.Name == g.upTo && h.Completed() {
			return nil, fmt.Errorf("--migration %q: already applied, so nothing up to it is pending; hint: strata status lists the pending migrations", g.upTo)
		}
	}
	return migs[:i+1], nil
}

// nearestNames returns up to n migration names closest to name (edit
// distance, then natural order).
func nearestNames(name string, migs []*migration.Migration, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, mg := range migs {
		cs = append(cs, cand{mg.Name, suggest.Distance(name, mg.Name)})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for _, c := range cs {
		if len(out) == n {
			break
		}
		out = append(out, c.name)
	}
	return out
}
