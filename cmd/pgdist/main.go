// Command pgdist fetches the PostgreSQL server binaries of other major
// versions that tests compare against (see internal/pgdist) into the cache,
// and prints where they are.
//
//	go run ./cmd/pgdist          # every pinned major (14 and 18)
//	go run ./cmd/pgdist 14
//
// .ci/run runs it so that the comparison tests have their servers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/pgdist"
)

func main() {
	majors := pgdist.Majors()
	if len(os.Args) > 1 {
		majors = nil
		for _, a := range os.Args[1:] {
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
		out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgdist: %s --version: %v: %s\n", filepath.Join(bin, "postgres"), err, out)
			os.Exit(1)
		}
		fmt.Printf("PostgreSQL %d: %s (%s)\n", m, bin, strings.TrimSpace(string(out)))
	}
}
