package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/config"
)

func (g *globals) foreignCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "foreign",
		Short: "Keep postgres_fdw foreign tables of the migrated database in sync in other databases ([[foreign]] in strata.toml)",
	}
	cmd.AddCommand(g.foreignSyncCmd(), g.foreignStatusCmd())
	return cmd
}

func (g *globals) foreignOptions() foreign.Options {
	return foreign.Options{
		SourceURL: g.connString(), SourceSchema: g.schema, StateSchema: g.stateSchema,
		LockTimeout: g.lockTimeout, LockDeadline: g.lockDeadline,
		Getenv: os.Getenv, Version: engine.Version, Logf: g.logf,
	}
}

// declarations returns the project file's declarations named in names (all
// when names is empty).
func (g *globals) declarations(names []string) ([]*foreign.Decl, error) {
	p := g.project
	if p == nil || p.file == nil {
		return nil, fmt.Errorf("no project file: strata foreign reads the [[foreign]] declarations of %s\nhint: create %s in the working folder (see docs/foreign.md), or pass --config FILE", config.FileName, config.FileName)
	}
	if len(p.file.Foreign) == 0 {
		return nil, fmt.Errorf("%s has no [[foreign]] declarations\nhint: add one (see docs/foreign.md)", p.path)
	}
	if len(names) == 0 {
		return p.file.Foreign, nil
	}
	var out []*foreign.Decl
	var known []string
	for _, d := range p.file.Foreign {
		known = append(known, d.Name)
	}
	for _, n := range names {
		i := slices.IndexFunc(p.file.Foreign, func(d *foreign.Decl) bool { return d.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("%s has no [[foreign]] named %q\nhint: the declarations are: %s", p.path, n, strings.Join(known, ", "))
		}
		out = append(out, p.file.Foreign[i])
	}
	return out, nil
}

func (g *globals) foreignSyncCmd() *cobra.Command {
	var plan bool
	cmd := &cobra.Command{
		Use:   "sync [NAME ...]",
		Short: "Bring each declaration's foreign tables up to date (--plan: show what would change, change nothing)",
		RunE: func(cmd *cobra.Command, args []string) error {
			decls, err := g.declarations(args)
			if err != nil {
				return err
			}
			return g.syncAll(cmd.Context(), decls, plan)
		},
	}
	cmd.Flags().BoolVar(&plan, "plan", false, "print what would change and change nothing")
	return cmd
}

// syncAll syncs each declaration, printing each result; it goes on after a
// failure and returns an error naming the ones that failed.
func (g *globals) syncAll(ctx context.Context, decls []*foreign.Decl, plan bool) error {
	var failed []string
	for _, d := range decls {
		res, err := foreign.Sync(ctx, d, g.foreignOptions(), plan)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(g.stderr, "strata: %s\n", line)
			}
			failed = append(failed, d.Name)
			continue
		}
		g.printSync(res, plan)
	}
	if len(failed) > 0 {
		return errSilent{fmt.Errorf("foreign sync failed: %s", strings.Join(failed, ", "))}
	}
	return nil
}

func (g *globals) printSync(res *foreign.Result, plan bool) {
	switch {
	case !res.Changed && len(res.Changes) == 0:
		fmt.Fprintf(g.stdout, "foreign %s: up to date (%d tables)\n", res.Name, res.Tables)
		return
	case plan && !res.Changed:
		fmt.Fprintf(g.stdout, "foreign %s: up to date (%d tables)\n", res.Name, res.Tables)
	case plan:
		fmt.Fprintf(g.stdout, "foreign %s: would change (nothing changed):\n", res.Name)
	default:
		fmt.Fprintf(g.stdout, "foreign %s: synced %d tables\n", res.Name, res.Tables)
	}
	for _, s := range res.Setup {
		fmt.Fprintf(g.stdout, "  %s\n", s)
	}
	for _, c := range res.Changes {
		fmt.Fprintf(g.stdout, "  %s\n", c)
	}
}

func (g *globals) foreignStatusCmd() *cobra.Command {
	var check bool
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "status [NAME ...]",
		Short: "Show each declaration's server, last sync, remote role and drift (--check: exit 1 on drift)",
		RunE: func(cmd *cobra.Command, args []string) error {
			decls, err := g.declarations(args)
			if err != nil {
				return err
			}
			var reps []*foreign.Report
			drift := false
			for _, d := range decls {
				rep, err := foreign.Status(cmd.Context(), d, g.foreignOptions())
				if err != nil {
					return err
				}
				reps = append(reps, rep)
				drift = drift || len(rep.Drift) > 0
				if !out.JSON() {
					g.printStatus(rep)
				}
			}
			if out.JSON() {
				if reps == nil {
					reps = []*foreign.Report{}
				}
				if err := g.writeJSON(map[string]any{"declarations": reps}); err != nil {
					return err
				}
			}
			if check && drift {
				return errSilent{errors.New("drift")}
			}
			return nil
		},
	}
	out = addFormatFlag(cmd)
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when a declaration's foreign tables differ from the remote tables")
	return cmd
}

func (g *globals) printStatus(r *foreign.Report) {
	w := g.stdout
	fmt.Fprintf(w, "foreign %s\n", r.Name)
	fmt.Fprintf(w, "  into:           %s (schema %s, from remote schema %s)\n", r.Into, r.Schema, r.RemoteSchema)
	if len(r.ServerOptions) == 0 {
		fmt.Fprintf(w, "  server:         (not created yet)\n")
	} else {
		var parts []string
		for _, k := range sortedKeys(r.ServerOptions) {
			parts = append(parts, k+"="+r.ServerOptions[k])
		}
		fmt.Fprintf(w, "  server:         %s\n", strings.Join(parts, ", "))
	}
	if r.LastSync == nil {
		fmt.Fprintf(w, "  last sync:      never\n")
	} else {
		mig := r.LastSync.Migration
		if mig == "" {
			mig = "(none)"
		}
		fmt.Fprintf(w, "  last sync:      %s (strata %s, after migration %s, %d tables)\n",
			r.LastSync.At.UTC().Format("2006-01-02 15:04:05Z"), r.LastSync.StrataVersion, mig, r.LastSync.Tables)
	}
	fmt.Fprintf(w, "  remote server:  PostgreSQL %s\n", r.RemoteVersion)
	switch {
	case r.Role == nil:
		fmt.Fprintf(w, "  remote role:    unknown (%s)\n", oneLine(r.RoleError))
	case r.Role.ReadOnly():
		fmt.Fprintf(w, "  remote role:    read-only\n")
	default:
		var why []string
		if r.Role.Superuser {
			why = append(why, "superuser")
		}
		if r.Role.BypassRLS {
			why = append(why, "BYPASSRLS")
		}
		if len(r.Role.Writable) > 0 {
			why = append(why, "can write "+strings.Join(r.Role.Writable, ", "))
		}
		fmt.Fprintf(w, "  remote role:    NOT read-only: %s\n", strings.Join(why, "; "))
	}
	if len(r.Drift) == 0 {
		fmt.Fprintf(w, "  drift:          none\n")
		return
	}
	fmt.Fprintf(w, "  drift:          %d changes (%d breaking)\n", len(r.Drift), r.Breaking)
	for _, c := range r.Drift {
		fmt.Fprintf(w, "    %s\n", c)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// afterHooks syncs, after a successful migrate or complete, the
// declarations whose after names the command.
func (g *globals) afterHooks(cmd *cobra.Command) error {
	name := cmd.Name()
	if name != "migrate" && name != "complete" || g.project == nil || g.project.file == nil {
		return nil
	}
	var decls []*foreign.Decl
	for _, d := range g.project.file.Foreign {
		if slices.Contains(d.After, name) {
			decls = append(decls, d)
		}
	}
	if len(decls) == 0 {
		return nil
	}
	if err := g.syncAll(cmd.Context(), decls, false); err != nil {
		fmt.Fprintf(g.stderr, "strata: %s succeeded, but the foreign sync after it failed (see above)\nhint: fix the cause, then run strata foreign sync\n", name)
		return err
	}
	return nil
}
