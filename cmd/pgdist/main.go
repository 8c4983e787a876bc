// Command pgdist fetches the PostgreSQL server binaries of other major
// versions that tests compare against (see internal/pgdist) into the cache,
// and prints where they are.
//
//	go run ./cmd/pgdist            # every pinned major (14, 16, 17 and 18)
//	go run ./cmd/pgdist 14
//	go run ./cmd/pgdist -bindir 17 # prints only the bin directory
//
// .ci/run runs it so that the comparison tests and the test matrix have
// their servers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratapg/strata/internal/pgdist"
)

func main() {
	majors := pgdist.Majors()
	args := os.Args[1:]
	bindirOnly := len(args) > 0 && args[0] == "-bindir"
	if bindirOnly {
		args = args[1:]
		if len(args) != 1 {
			fmt.Fprintf(os.Stderr, "pgdist: -bindir takes one major version\nhint: go run ./cmd/pgdist -bindir 17\n")
			os.Exit(2)
		}
	}
	if len(args) > 0 {
		majors = nil
		for _, a := range args {
			n, err := strconv.Atoi(a)
			if err != nil {
				fmt.Fprintf(os.Stderr, "pgdist: %q is not a major version\nhint: go run ./cmd/pgdist %v\n", a, pgdist.Majors())
				os.Exit(2)
			}
			majors = append(majors, n)
		}
	}
	for _, m := range majors {
		bin, err := pgdist.BinDir(context.Background(), m)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\nhint: npm must reach its registry; %s sets another cache directory\n", err, pgdist.EnvCache)
			os.Exit(1)
		}
		if bindirOnly {
			fmt.Println(bin)
			continue
		}
		out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgdist: %s --version: %v: %s\n", filepath.Join(bin, "postgres"), err, out)
			os.Exit(1)
		}
		fmt.Printf("PostgreSQL %d: %s (%s)\n", m, bin, strings.TrimSpace(string(out)))
	}
}
