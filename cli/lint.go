package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/lint"
	"github.com/stratapg/strata/migration"
)

func (g *globals) lintCmd() *cobra.Command {
	var (
		format        string
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
			if len(args) == 0 {
				args = []string{g.dir}
			}
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
			findings, err := lint.LintPaths(sqlPaths, cfg)
			if err != nil {
				return err
			}
			for _, f := range migFiles {
				src, err := migration.ReadFile(f)
				if errors.Is(err, migration.ErrInvalid) {
					return err // names the file and says why
				}
				if err != nil {
					return err
				}
				m, err := migration.Parse(f, src)
				if err != nil {
					return err
				}
				more, err := lint.LintMigration(m, src, cfg)
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
				if err := lint.WriteJSON(g.stdout, findings); err != nil {
					return err
				}
			case "github":
				if err := lint.WriteGitHub(g.stdout, findings); err != nil {
					return err
				}
			default:
				return usageError{fmt.Errorf("--format must be text, json or github, not %q", format)}
			}
			if lint.HasErrors(findings) {
				return errSilent{fmt.Errorf("found errors")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "output format: text, json or github (workflow annotations)")
	f.IntVar(&pgVersion, "pg-version", 0, "target PostgreSQL major version (default: the server's when a URL is given, else 15)")
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

// serverMajor is the connected server's major version when a URL is given,
// else lint's default.
func (g *globals) serverMajor(ctx context.Context) (int, error) {
	url := g.connString()
	if url == "" {
		return lint.DefaultPGVersion, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pgerr.CheckURL(url); err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("read the server version (or pass --pg-version): %w", pgerr.Connect(err, url))
	}
	defer conn.Close(context.Background())
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return 0, fmt.Errorf("read the server version: %w", err)
	}
	return num / 10000, nil
}

// errSilent is an error whose message was already shown (findings): Main
// exits 1 without printing it again.
type errSilent struct{ error }
