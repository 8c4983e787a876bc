package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/config"
)

// project is the project file and where each global flag's value came
// from.
type project struct {
	path       string // "" when there is no project file
	pathSource string
	file       *config.File
	sources    map[string]string // flag name -> "flag --x", "env X", "strata.toml:3", "default"
}

// fileKey is a flag's key in the project file.
func fileKey(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// envName is a flag's environment variable.
func envName(flag string) string { return "STRATA_" + strings.ToUpper(fileKey(flag)) }

// pgEnvSet reports whether a libpq variable that names the database server
// is set.
func pgEnvSet() bool {
	for _, v := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// applyConfig gives every global flag not set on the command line its value
// from the environment, else from the project file: flag > STRATA_<FLAG>
// (and DATABASE_URL / PG* for --url) > strata.toml > default.
func (g *globals) applyConfig(cmd *cobra.Command) error {
	pf := cmd.Root().PersistentFlags()
	p := &project{sources: map[string]string{}}
	g.project = p
	switch {
	case g.configPath != "":
		p.path, p.pathSource = g.configPath, "flag --config"
	case os.Getenv("STRATA_CONFIG") != "":
		p.path, p.pathSource = os.Getenv("STRATA_CONFIG"), "env STRATA_CONFIG"
	default:
		if info, err := os.Stat(config.FileName); err == nil && !info.IsDir() {
			p.path, p.pathSource = config.FileName, "working folder"
		}
	}
	var names []string
	pf.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" && f.Name != "version" {
			names = append(names, f.Name)
		}
	})
	if p.path != "" {
		f, err := config.Load(p.path, names, os.Getenv)
		if err != nil {
			return fmt.Errorf("%w\nhint: fix %s (from %s); strata config shows the effective settings", err, p.path, p.pathSource)
		}
		p.file = f
	}
	var errs []string
	for _, name := range names {
		f := pf.Lookup(name)
		if f.Changed {
			p.sources[name] = "flag --" + name
			continue
		}
		if v := os.Getenv(envName(name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("environment variable %s: invalid value %q: %v", envName(name), v, err))
			}
			p.sources[name] = "env " + envName(name)
			continue
		}
		if name == "url" {
			if v := os.Getenv("DATABASE_URL"); v != "" {
				g.url = v
				p.sources[name] = "env DATABASE_URL"
				continue
			}
			if pgEnvSet() {
				p.sources[name] = "env PG*"
				continue
			}
		}
		if p.file != nil {
			if s, ok := p.file.Settings[name]; ok {
				if err := f.Value.Set(s.Value); err != nil {
					errs = append(errs, fmt.Sprintf("%s:%d: %s: invalid value %q: %v", p.path, s.Line, fileKey(name), s.Value, err))
				}
				p.sources[name] = p.file.Where(s.Line)
				continue
			}
		}
		p.sources[name] = "default"
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// configSetting is one setting of strata config --format json.
type configSetting struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// configForeign is one [[foreign]] declaration of strata config --format
// json.
type configForeign struct {
	Name        string   `json:"name"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
	Into        string   `json:"into"`
	Schema      string   `json:"schema"`
	User        string   `json:"user"`
	PasswordEnv string   `json:"password_env,omitempty"`
	PasswordSet bool     `json:"password_set"`
	ReadOnly    bool     `json:"read_only"`
	After       []string `json:"after"`
}

func (g *globals) configCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective settings and where each came from (passwords masked)",
		Long: `Prints every global setting's effective value and its source: a flag, the
environment (STRATA_<FLAG>, DATABASE_URL or the libpq PG* variables for the
connection), the project file (file:line) or the default; then the project
file's [[foreign]] declarations. Passwords are shown as xxxxx.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := g.project
			if out.JSON() {
				return g.configJSON(cmd)
			}
			if p.path == "" {
				fmt.Fprintf(g.stdout, "project file: (none: no %s in the working folder, no --config, no STRATA_CONFIG)\n", config.FileName)
			} else {
				fmt.Fprintf(g.stdout, "project file: %s (%s)\n", p.path, p.pathSource)
			}
			pf := cmd.Root().PersistentFlags()
			width := 0
			pf.VisitAll(func(f *pflag.Flag) {
				if _, ok := p.sources[f.Name]; ok && len(f.Name) > width {
					width = len(f.Name)
				}
			})
			pf.VisitAll(func(f *pflag.Flag) {
				src, ok := p.sources[f.Name]
				if !ok {
					return
				}
				val := f.Value.String()
				if f.Name == "url" {
					val = g.connString()
					if val == "" && src == "env PG*" {
						val = pgEnvDescription()
					}
				}
				val = foreign.MaskURL(val)
				if val == "" {
					val = `""`
				}
				fmt.Fprintf(g.stdout, "%-*s = %s  (%s)\n", width, fileKey(f.Name), val, src)
			})
			if p.file != nil {
				for _, d := range p.file.Foreign {
					pw := "none"
					if d.PasswordEnv != "" {
						state := "set"
						if os.Getenv(d.PasswordEnv) == "" {
							state = "NOT SET"
						}
						pw = fmt.Sprintf("from $%s (%s)", d.PasswordEnv, state)
					}
					fmt.Fprintf(g.stdout, "foreign %s (%s:%d): into %s, schema %s, user %s, password %s, read_only %v, after [%s]\n",
						d.Name, d.File, d.Line, foreign.MaskURL(d.Into), d.Schema, d.User, pw, d.ReadOnly, strings.Join(d.After, ", "))
				}
			}
			return nil
		},
	}
	out = addFormatFlag(cmd)
	return cmd
}

// configValue is a setting's value as config shows it: the connection
// as given (or the PG* variables), passwords masked.
func (g *globals) configValue(f *pflag.Flag, src string) string {
	val := f.Value.String()
	if f.Name == "url" {
		val = g.connString()
		if val == "" && src == "env PG*" {
			val = pgEnvDescription()
		}
	}
	return foreign.MaskURL(val)
}

// configJSON prints the effective settings as JSON.
func (g *globals) configJSON(cmd *cobra.Command) error {
	p := g.project
	doc := struct {
		ProjectFile       string          `json:"project_file"`
		ProjectFileSource string          `json:"project_file_source"`
		Settings          []configSetting `json:"settings"`
		Foreign           []configForeign `json:"foreign"`
	}{ProjectFile: p.path, ProjectFileSource: p.pathSource, Settings: []configSetting{}, Foreign: []configForeign{}}
	cmd.Root().PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if src, ok := p.sources[f.Name]; ok {
			doc.Settings = append(doc.Settings, configSetting{Name: fileKey(f.Name), Value: g.configValue(f, src), Source: src})
		}
	})
	if p.file != nil {
		for _, d := range p.file.Foreign {
			after := d.After
			if after == nil {
				after = []string{}
			}
			doc.Foreign = append(doc.Foreign, configForeign{Name: d.Name, File: d.File, Line: d.Line, Into: foreign.MaskURL(d.Into),
				Schema: d.Schema, User: d.User, PasswordEnv: d.PasswordEnv, PasswordSet: d.PasswordEnv != "" && os.Getenv(d.PasswordEnv) != "",
				ReadOnly: d.ReadOnly, After: after})
		}
	}
	return g.writeJSON(doc)
}

// pgEnvDescription renders the libpq variables of the connection, without
// PGPASSWORD's value.
func pgEnvDescription() string {
	var parts []string
	for _, v := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"} {
		if s := os.Getenv(v); s != "" {
			parts = append(parts, v+"="+s)
		}
	}
	if os.Getenv("PGPASSWORD") != "" {
		parts = append(parts, "PGPASSWORD=xxxxx")
	}
	return strings.Join(parts, " ")
}
