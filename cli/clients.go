package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
)

func (g *globals) clientsCmd() *cobra.Command {
	var out *outputFormat
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Show the sessions seen using each version schema (samples pg_locks and pg_stat_activity; changes nothing)",
		Long: `Samples pg_stat_activity and pg_locks every 100ms for --watch and lists, per
version (the phase's old and new version, or the latest completed one), the
sessions seen using it: holding or waiting for a lock on a relation of its
version schema. While a phase is in progress, sessions connected before it
started and not seen using the new version are listed under the old version
as "probably old". A session that touches only tables without a view in the
version schema, or is between transactions, cannot be seen.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watch < 0 {
				return usageError{fmt.Errorf("--watch must not be negative, not %s", watch)}
			}
			m, err := g.migrator()
			if err != nil {
				return err
			}
			if watch > 0 {
				g.logf("watching sessions for %s", watch)
			}
			c, err := m.Clients(cmd.Context(), engine.ClientsOptions{Watch: watch})
			if err != nil {
				return err
			}
			if out.JSON() {
				return g.writeJSON(c)
			}
			writeClients(g.stdout, c)
			return nil
		},
	}
	out = addFormatFlag(cmd)
	cmd.Flags().DurationVar(&watch, "watch", engine.DefaultClientsWatch, "how long to sample (0: one sample)")
	return cmd
}

func versionTitle(v engine.VersionClients) string {
	if v.BaseTables {
		return fmt.Sprintf("%s version (base tables of %s)", v.Version, v.Schema)
	}
	return fmt.Sprintf("%s version %s", v.Version, v.Schema)
}

// writeClients renders a watch as text, grouped by version.
func writeClients(w io.Writer, c *engine.Clients) {
	fmt.Fprintf(w, "schema %s: %s", c.Schema, c.State)
	if c.PhaseStartedAt != nil {
		fmt.Fprintf(w, " since %s", c.PhaseStartedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "; watched %s (%d samples)\n", time.Duration(c.WatchSeconds*float64(time.Second)), c.Samples)
	if len(c.Versions) == 0 {
		fmt.Fprintln(w, "no version schema yet")
	}
	for _, v := range c.Versions {
		seen, probably := 0, 0
		for _, s := range v.Sessions {
			if s.Seen {
				seen++
			} else if s.ProbablyOld {
				probably++
			}
		}
		fmt.Fprintf(w, "%s: %d session(s) seen", versionTitle(v), seen)
		if probably > 0 {
			fmt.Fprintf(w, ", %d probably old", probably)
		}
		fmt.Fprintln(w)
		for _, s := range v.Sessions {
			fmt.Fprintf(w, "  %s\n", sessionLine(s))
		}
	}
}

// sessionLine is one session: who, and why it is listed.
func sessionLine(s engine.Session) string {
	client := "local"
	if s.ClientAddr != nil {
		client = *s.ClientAddr
	}
	start := "?"
	if s.BackendStart != nil {
		start = s.BackendStart.UTC().Format(time.RFC3339)
	}
	line := fmt.Sprintf("pid %d  role %s  application_name %q  client %s  backend_start %s", s.PID, s.Role, s.ApplicationName, client, start)
	if s.Seen {
		return line + fmt.Sprintf("  (%s; locks %s in %d sample(s))", s.State, strings.Join(s.Relations, ", "), s.SeenSamples)
	}
	return line + "  (probably old: connected before the phase started)"
}

func (g *globals) completeCmd() *cobra.Command {
	var watch time.Duration
	var requireIdle bool
	cmd := &cobra.Command{
		Use:   "complete",
		Short: "Complete the phase in progress: contract to the new shape",
		Long: `Completes the phase in progress: contracts the tables to the new shape and drops
the old version schema, last.

First it watches for --watch (default 2s) who still uses the old version (as
strata clients does) and warns on stderr about the sessions it saw;
with --require-idle-old it refuses instead (exit 1, nothing changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watch < 0 {
				return usageError{fmt.Errorf("--watch must not be negative, not %s", watch)}
			}
			m, err := g.migrator()
			if err != nil {
				return err
			}
			o := engine.CompleteOptions{Watch: watch, RequireIdleOld: requireIdle,
				Seen: func(c *engine.Clients) {
					if !requireIdle || len(c.OldInUse()) == 0 {
						g.warnOldInUse(c, requireIdle)
					}
				}}
			names, err := m.CompleteWith(cmd.Context(), o)
			var inUse *engine.OldVersionInUseError
			if errors.As(err, &inUse) {
				g.refuseOldInUse(inUse)
				return errSilent{err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "completed %s\n", strings.Join(names, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&watch, "watch", engine.DefaultCompleteWatch, "first watch this long for sessions still using the old version (0: do not)")
	f.BoolVar(&requireIdle, "require-idle-old", false, "refuse when a session was seen using the old version during --watch")
	return cmd
}

// oldUse lists the sessions seen using the old version and the probably
// old ones, prefixed for stderr.
func (g *globals) oldUse(w io.Writer, c *engine.Clients) {
	old := c.Old()
	if old == nil {
		return
	}
	for _, s := range old.Sessions {
		fmt.Fprintf(w, "strata:   %s\n", sessionLine(s))
	}
}

// warnOldInUse warns (even with -q) when the watch saw the old version in
// use or sessions that are probably old.
func (g *globals) warnOldInUse(c *engine.Clients, requireIdle bool) {
	old := c.Old()
	if old == nil || len(old.Sessions) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	window := time.Duration(c.WatchSeconds * float64(time.Second))
	seen := len(c.OldInUse())
	probably := len(old.Sessions) - seen
	if seen > 0 {
		fmt.Fprintf(g.stderr, "strata: warning: %d session(s) used the %s in the last %s", seen, versionTitle(*old), window)
		if probably > 0 {
			fmt.Fprintf(g.stderr, ", and %d connected before the phase started (probably old)", probably)
		}
		fmt.Fprintln(g.stderr, ":")
	} else {
		fmt.Fprintf(g.stderr, "strata: warning: %d session(s) connected before the phase started (probably the %s; not seen using it in the last %s):\n",
			probably, versionTitle(*old), window)
	}
	g.oldUse(g.stderr, c)
	if requireIdle {
		fmt.Fprintln(g.stderr, "hint: completing: --require-idle-old refuses only for sessions seen using the old version; if these are old app instances, stop them first (Ctrl-C now)")
		return
	}
	fmt.Fprintln(g.stderr, "hint: completing anyway; sessions still on the old version lose it when its schema is dropped. To refuse instead, use --require-idle-old; `strata clients` shows who uses which version")
}

func (g *globals) refuseOldInUse(e *engine.OldVersionInUseError) {
	c := e.Clients
	window := time.Duration(c.WatchSeconds * float64(time.Second))
	fmt.Fprintf(g.stderr, "strata: complete refused: %d session(s) used the %s in the last %s (--require-idle-old); nothing was changed:\n",
		len(e.Sessions), versionTitle(*c.Old()), window)
	g.oldUse(g.stderr, c)
	fmt.Fprintln(g.stderr, "hint: stop the old app version or move it to the new version schema, check with `strata clients`, then run strata complete again")
}
