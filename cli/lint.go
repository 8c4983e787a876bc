package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/lint"
	"github.com/stratapg/strata/migration"
)

func (g *globals) lintCmd() *cobra.Command {
	var (
		format        string
		out           *outputFormat
		pgVersion     int
		inTx          bool
		assumeTimeout bool
		info          bool
		enable        []string
		disable       []string
	)
	cmd := &cobra.Command{
		Use:   "lint [FILES or DIRS]",
		Short: "Check SQL migrations for statements that lock tables for long, break the running app or fail",
		Long: `Lints plain .sql files and the SQL inside strata migration files (.toml, .json):
custom actions and expressions. Folders are searched for .sql files (recursively)
and migration files (directly in the folder). With no arguments, the --dir folder.
Exit status 1 when an error-severity finding is not suppressed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			format = out.String()
			if len(args) == 0 {
				args = []string{g.dir}
			}
			// Linting allocates parse trees that stay live to the end (a
			// large file's are tens of MB): collecting less often saves a
			// tenth of the time of a large file; the heap stays bounded by
			// migration.MaxFileSize.
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			if pgVersion == 0 {
				v, err := g.serverMajor(cmd.Context())
				if err != nil {
					return err
				}
				pgVersion = v
			}
			cfg := lint.Config{PGVersion: pgVersion, InTransaction: inTx, AssumeLockTimeout: assumeTimeout,
				EnableInfo: info, Enable: enable, Disable: disable}
			var sqlPaths []string
			var migFiles []string
			for _, a := range args {
				info, err := os.Stat(a)
				if err != nil {
					return err
				}
				if !info.IsDir() {
					if isMigrationFile(a) {
						migFiles = append(migFiles, a)
					} else {
						sqlPaths = append(sqlPaths, a)
					}
					continue
				}
				sqlPaths = append(sqlPaths, a)
				entries, err := os.ReadDir(a)
				if err != nil {
					return err
				}
				for _, e := range entries {
					if !e.IsDir() && isMigrationFile(e.Name()) {
						migFiles = append(migFiles, filepath.Join(a, e.Name()))
					}
				}
			}
			// A file that cannot be read or decoded is reported after the
			// other files' findings, which it does not hide.
			var undecodable []error
			findings, err := lint.LintPaths(sqlPaths, cfg)
			if err != nil {
				if findings == nil && !errors.Is(err, migration.ErrInvalid) {
					return err
				}
				undecodable = append(undecodable, err)
			}
			migCfg := cfg
			if len(migFiles) > 0 {
				migCfg = g.withColumnFacts(cmd.Context(), cfg)
			}
			for _, f := range migFiles {
				src, err := migration.ReadFile(f)
				if errors.Is(err, migration.ErrInvalid) {
					undecodable = append(undecodable, err) // names the file and says why
					continue
				}
				if err != nil {
					return err
				}
				m, err := migration.Parse(f, src)
				if err != nil {
					undecodable = append(undecodable, err)
					continue
				}
				more, err := lint.LintMigration(m, src, migCfg)
				if err != nil {
					return err
				}
				findings = append(findings, more...)
			}
			switch format {
			case "text":
				if err := lint.WriteText(g.stdout, findings, nil); err != nil {
					return err
				}
			case "json":
				if err := lint.WriteReport(g.stdout, lint.Report{PGVersion: pgVersion, Findings: findings}); err != nil {
					return err
				}
			case "sarif":
				wd, err := os.Getwd()
				if err != nil {
					return fmt.Errorf("lint: %w", err)
				}
				if err := lint.WriteSARIF(g.stdout, findings, lint.SARIFOptions{ToolVersion: engine.Version, BaseDir: wd}); err != nil {
					return err
				}
			case "github":
				if err := lint.WriteGitHub(g.stdout, findings); err != nil {
					return err
				}
			}
			if len(undecodable) > 0 {
				return errors.Join(undecodable...)
			}
			if lint.HasErrors(findings) {
				return errSilent{fmt.Errorf("found errors")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	out = addFormatFlag(cmd, lintFormats...)
	f.Lookup("format").Usage = "output format: text, json, sarif (SARIF 2.1.0, for code scanning) or github (workflow annotations); --json is --format json"
	f.IntVar(&pgVersion, "pg-version", 0, "target PostgreSQL major version (default: the server's, from --url, DATABASE_URL or the PG* variables; with none of them, 15)")
	f.BoolVar(&inTx, "in-transaction", false, "each file runs in one transaction (a file with -- strata:no-transaction never does)")
	f.BoolVar(&assumeTimeout, "assume-lock-timeout", false, "the runner sets lock_timeout itself")
	f.BoolVar(&info, "info", false, "enable the info-severity rules (type hygiene)")
	f.StringSliceVar(&enable, "enable", nil, "enable rules by code, name or group")
	f.StringSliceVar(&disable, "disable", nil, "disable rules by code, name or group")
	return cmd
}

func isMigrationFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".toml" || ext == ".json"
}

// lintFormats are lint's --format values.
var lintFormats = []string{"text", "json", "sarif", "github"}

// serverMajor is the target server's major version, read from the server
// that --url, else DATABASE_URL, else the libpq PG* variables name; with
// none of them, lint's default.
func (g *globals) serverMajor(ctx context.Context) (int, error) {
	url := g.connString()
	from := "the server of --url or DATABASE_URL"
	if url == "" {
		if !pgEnvSet() {
			return lint.DefaultPGVersion, nil
		}
		from = "the server of the PG* variables (" + pgEnvDescription() + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pgerr.CheckURL(url); err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, url) // "" reads the PG* variables
	if err != nil {
		return 0, fmt.Errorf("read the target version from %s (or pass --pg-version N to lint without a server): %w", from, pgerr.Connect(err, url))
	}
	defer conn.Close(context.Background())
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return 0, fmt.Errorf("read the target version from %s: %w", from, err)
	}
	return num / 10000, nil
}

// errSilent is an error whose message was already shown (findings): Main
// exits 1 without printing it again.
type errSilent struct{ error }
