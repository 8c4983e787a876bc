package cli_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stratapg/strata/cli"
)

func TestCheckArgs(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string // "" for valid
	}{
		{"status", ""},
		{"status --json", ""},
		{"status -v", ""},
		{"--url postgres://x/y start --migration 002_x", ""},
		{"lint --format github --pg-version 16 migrations", ""},
		{"scenario create q3 --table orders --where tenant_id=2", ""},
		{"completion bash", ""},
		{"help status", ""},
		{"complete --require-idle-old --watch 5s", ""},
		{"statuss", "unknown command"},
		{"status --nosuch", "unknown flag: --nosuch"},
		{"status --lock-timeout soon", "invalid argument"},
		{"version extra", "unknown command"},
		{"scenario nosuch", "unknown command"},
		{"foreign sync --plan", ""},
		{"foreign nosuch", "unknown command"},
		{"plan --migration 002", "unknown flag: --migration"},
		{"completion tcsh", "unknown shell"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			err := cli.CheckArgs(strings.Fields(tt.args))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckArgs(%s) = %v, want nil", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckArgs(%s) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// TestExitStatus runs commands that need no database in-process and checks
// their exit status and first line of output.
func TestExitStatus(t *testing.T) {
	tests := []struct {
		args       string
		code       int
		stdout     string // prefix of stdout
		stderrPart string
	}{
		{"-v", 0, "strata version ", ""},
		{"status -v", 0, "strata version ", ""},
		{"status --version", 0, "strata version ", ""},
		{"completion tcsh", 2, "", `strata: completion: unknown shell "tcsh": the shells are bash, zsh, fish, powershell`},
		{"completion", 2, "", "completion needs a shell: one of bash, zsh, fish, powershell"},
		{"completion fish", 0, "# fish completion for strata", ""},
		{"scenario nosuch", 2, "", "strata: unknown command \"nosuch\" for \"strata scenario\"\nhint: strata scenario --help lists the commands\n"},
		{"scenario creat", 2, "", `hint: did you mean "strata scenario create"?`},
		{"foreign nosuch", 2, "", "strata: unknown command \"nosuch\" for \"strata foreign\"\nhint: strata foreign --help lists the commands\n"},
		{"scenario", 0, "A scenario is a schema", ""},
		{"help nosuch", 2, "", `strata: help: unknown command "nosuch": strata help lists the commands`},
		{"help status", 0, "Show completed, in-progress and pending migrations", ""},
		{"help", 0, "Change PostgreSQL schemas", ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), strings.Fields(tt.args), strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to start with %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderrPart) {
				t.Errorf("stderr %q, want %q in it", stderr.String(), tt.stderrPart)
			}
		})
	}
}

// TestConfigOrder: strata config prints the settings in the order of their
// names (docs/foreign.md shows it so), each with its source.
func TestConfigOrder(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := cli.Main(context.Background(), []string{"config"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("strata config: exit %d: %s", code, stderr.String())
	}
	var names []string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if name, _, ok := strings.Cut(l, " = "); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	if len(names) < 15 || !slices.IsSorted(names) || names[0] != "backfill_vacuum_every" || names[len(names)-1] != "version_schema_style" {
		t.Errorf("strata config settings, in order: %v", names)
	}
}
