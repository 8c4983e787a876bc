// Command withpg runs a command with a throwaway PostgreSQL server.
//
//	go run ./cmd/withpg -- CMD ARGS...
//
// If STRATA_TEST_DATABASE_URL is set, withpg just runs CMD. Otherwise it
// starts a throwaway cluster (see internal/pgcluster), runs CMD with
// STRATA_TEST_DATABASE_URL set to the cluster's "postgres" database and stdio
// inherited, stops the cluster, and exits with CMD's exit code. SIGINT and
// SIGTERM are forwarded to CMD; the cluster is stopped either way, and also
// if withpg itself is killed (pgcluster's watchdog).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stratapg/strata/internal/pgcluster"
)

const envURL = "STRATA_TEST_DATABASE_URL"

// stderr receives withpg's own messages (a test's buffer in tests).
var stderr io.Writer = os.Stderr

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: withpg [--] CMD [ARGS...]")
		return 2
	}

	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "withpg: %v\n", err)
		return 127
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	env := os.Environ()
	if os.Getenv(envURL) != "" {
		fmt.Fprintf(stderr, "withpg: using existing server from %s\n", envURL)
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case sig := <-sigs:
				fmt.Fprintf(stderr, "withpg: %v during start-up, aborting\n", sig)
				cancel()
			case <-ctx.Done():
			}
		}()
		start := time.Now()
		binDir, err := pgcluster.FindBinDir("")
		if err != nil {
			fmt.Fprintf(stderr, "withpg: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "withpg: starting a throwaway %s (%s) on a free port of 127.0.0.1 in a new folder of %s…\n",
			serverVersion(binDir), binDir, os.TempDir())
		c, err := pgcluster.Start(ctx, pgcluster.Options{BinDir: binDir})
		interrupted := ctx.Err() != nil
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "withpg: %v\n", err)
			if interrupted {
				return 130
			}
			return 1
		}
		defer func() {
			fmt.Fprintf(stderr, "withpg: stopping PostgreSQL and removing %s\n", c.Dir())
			if err := c.Stop(); err != nil {
				fmt.Fprintf(stderr, "withpg: %v\n", err)
			}
		}()
		if interrupted {
			return 130
		}
		fmt.Fprintf(stderr, "withpg: started PostgreSQL %s on 127.0.0.1:%d in %s (%v)\n",
			c.Version(), c.Port(), c.Dir(), time.Since(start).Round(time.Millisecond))
		env = append(env, envURL+"="+c.URL("postgres"))
	}
	fmt.Fprintf(stderr, "withpg: running %s%s\n", strings.Join(args, " "), compileNote(args))

	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "withpg: %v\n", err)
		return 126
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exitErr.ExitCode()
	}
	fmt.Fprintf(stderr, "withpg: %v\n", err)
	return 1
}

// serverVersion is what `postgres --version` says of the server binaries in
// binDir ("PostgreSQL 15.20 ..."), or "PostgreSQL" when it says nothing.
func serverVersion(binDir string) string {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "PostgreSQL"
	}
	v := strings.TrimSpace(string(out))
	if _, after, ok := strings.Cut(v, "(PostgreSQL) "); ok {
		return "PostgreSQL " + after
	}
	return v
}

// compileNote tells, for a go command that compiles first, that it does.
func compileNote(args []string) string {
	if len(args) > 1 && filepath.Base(args[0]) == "go" && (args[1] == "test" || args[1] == "run") {
		return " (it compiles what is not cached first: 1–3 minutes on a first build)…"
	}
	return "…"
}
