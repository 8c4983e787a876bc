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
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/stratapg/strata/internal/pgcluster"
)

const envURL = "STRATA_TEST_DATABASE_URL"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withpg [--] CMD [ARGS...]")
		return 2
	}

	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
		return 127
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	env := os.Environ()
	if os.Getenv(envURL) != "" {
		fmt.Fprintf(os.Stderr, "withpg: using existing server from %s\n", envURL)
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case sig := <-sigs:
				fmt.Fprintf(os.Stderr, "withpg: %v during start-up, aborting\n", sig)
				cancel()
			case <-ctx.Done():
			}
		}()
		start := time.Now()
		c, err := pgcluster.Start(ctx, pgcluster.Options{})
		interrupted := ctx.Err() != nil
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
			if interrupted {
				return 130
			}
			return 1
		}
		defer func() {
			if err := c.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
			}
		}()
		if interrupted {
			return 130
		}
		fmt.Fprintf(os.Stderr, "withpg: started PostgreSQL %s (%s) on 127.0.0.1:%d in %v\n",
			c.Version(), c.BinDir(), c.Port(), time.Since(start).Round(time.Millisecond))
		env = append(env, envURL+"="+c.URL("postgres"))
	}

	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
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
	fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
	return 1
}
