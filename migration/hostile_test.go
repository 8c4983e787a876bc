package migration

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileDir returns a migrations folder holding one good migration and the
// hostile file name made by mk.
func hostileDir(t *testing.T, name string, mk func(path string) error) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "migrations")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "001_ok.toml"), []byte(action("a")), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := mk(filepath.Join(dir, name)); err != nil {
		t.Skipf("cannot make %s here: %v", name, err)
	}
	return dir
}

// loadWithin runs LoadDir, failing the test (instead of hanging it) if it
// does not return within a minute.
func loadWithin(t *testing.T, dir string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := LoadDir(dir)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("LoadDir(%s) still reading after a minute", dir)
		return nil
	}
}

// TestLoadDirHostileFiles: files that are not regular files, or are larger
// than MaxFileSize, are refused before they are read, with an error that
// names the file with its folder; the other files are still checked.
func TestLoadDirHostileFiles(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		mk      func(path string) error
		wantMsg string
	}{
		{
			name:    "symlink to /dev/zero",
			file:    "002_zero.toml",
			mk:      func(p string) error { return os.Symlink("/dev/zero", p) },
			wantMsg: "not a regular file (a device); hint: replace it with a regular file",
		},
		{
			name:    "named pipe",
			file:    "002_fifo.json",
			mk:      func(p string) error { return syscall.Mkfifo(p, 0o666) },
			wantMsg: "not a regular file (a named pipe); hint: replace it with a regular file",
		},
		{
			name: "one byte over the size limit",
			file: "002_big.toml",
			mk: func(p string) error {
				return os.WriteFile(p, []byte(action("b")+strings.Repeat("#", MaxFileSize-len(action("b"))+1)), 0o666)
			},
			wantMsg: "larger than the 16 MiB limit for a migration file; hint: split it into several migrations",
		},
		{
			name: "sparse file far over the limit",
			file: "002_sparse.toml",
			mk: func(p string) error {
				f, err := os.Create(p)
				if err != nil {
					return err
				}
				defer f.Close()
				return f.Truncate(1 << 40)
			},
			wantMsg: "larger than the 16 MiB limit for a migration file; hint: split it into several migrations",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := hostileDir(t, tt.file, tt.mk)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			err := loadWithin(t, dir)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > 3*MaxFileSize {
				t.Errorf("LoadDir allocated %d bytes, want at most %d", got, 3*MaxFileSize)
			}
			want := filepath.Join(dir, tt.file) + ": " + tt.wantMsg
			if err == nil || err.Error() != want {
				t.Fatalf("LoadDir error:\n%v\nwant:\n%s", err, want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid")
			}
		})
	}
}

// TestLoadDirSizeLimitInclusive: a file of exactly MaxFileSize bytes is read.
func TestLoadDirSizeLimitInclusive(t *testing.T) {
	dir := hostileDir(t, "002_big.toml", func(p string) error {
		return os.WriteFile(p, []byte(action("b")+strings.Repeat("#", MaxFileSize-len(action("b")))), 0o666)
	})
	if err := loadWithin(t, dir); err != nil {
		t.Fatal(err)
	}
}

// TestReadFileHostile: ReadFile (used by strata lint) refuses the same
// files, naming the path as given.
func TestReadFileHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.sql")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadFile(fifo)
		done <- err
	}()
	select {
	case err := <-done:
		if want := fifo + ": not a regular file (a named pipe); hint: replace it with a regular file"; err == nil || err.Error() != want {
			t.Fatalf("ReadFile error: %v, want %s", err, want)
		}
	case <-time.After(time.Minute):
		t.Fatal("ReadFile of a named pipe still blocked after a minute")
	}
}

// allocsOf returns the bytes allocated by f (and by anything running at the
// same time: run it alone).
func allocsOf(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestParseBlowUps: inputs whose key paths grow quadratically with their
// size (a dotted key of 100,000 parts; many keys under a long table name or
// a long chain of JSON keys) are refused with an error, allocating memory in
// proportion to the input, not to the square of it.
func TestParseBlowUps(t *testing.T) {
	longKey := func(n, size int) string { // n parts of size bytes, dotted
		parts := make([]string, n)
		for i := range parts {
			parts[i] = strings.Repeat("k", size)
		}
		return strings.Join(parts, ".")
	}
	jsonChain := func(n, size int) (open, close string) {
		for range n {
			open += `{"` + strings.Repeat("k", size) + `":`
			close += "}"
		}
		return open, close
	}
	open, close := jsonChain(60, 4000)
	tests := []struct {
		name     string
		file     string
		data     string
		maxBytes uint64
		wantMsg  string
	}{
		{
			name:     "dotted key of 100,000 parts",
			file:     "m/1_a.toml",
			data:     longKey(100_000, 1) + " = 1\n",
			maxBytes: 50 << 20,
			wantMsg:  "m/1_a.toml:1: syntax error: nesting too deep (more than 64 levels)",
		},
		{
			name:     "table header of 100,000 parts",
			file:     "m/1_a.toml",
			data:     "[" + longKey(100_000, 1) + "]\na = 1\n",
			maxBytes: 50 << 20,
			wantMsg:  "m/1_a.toml:1: syntax error: nesting too deep (more than 64 levels)",
		},
		{
			name:     "many keys in a table with a long name",
			file:     "m/1_a.toml",
			data:     "[" + longKey(60, 4000) + "]\n" + strings.Repeat("a = 1\n", 200_000),
			maxBytes: 150 << 20,
			wantMsg:  "m/1_a.toml:",
		},
		{
			name:     "long array under a long key",
			file:     "m/1_a.toml",
			data:     longKey(60, 4000) + " = [" + strings.Repeat("1,", 500_000) + "]\n",
			maxBytes: 150 << 20,
			wantMsg:  "m/1_a.toml:1: syntax error: too many keys",
		},
		{
			name:     "many keys under a long chain of JSON keys",
			file:     "m/1_a.json",
			data:     open + `{"a":1` + strings.Repeat(`,"a":1`, 200_000) + "}" + close,
			maxBytes: 150 << 20,
			wantMsg:  "m/1_a.json:1: syntax error: too many keys",
		},
		{
			name:     "long array under a long chain of JSON keys",
			file:     "m/1_a.json",
			data:     open + "[" + strings.Repeat("1,", 500_000) + "1]" + close,
			maxBytes: 150 << 20,
			wantMsg:  "m/1_a.json:1: syntax error: too many keys",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			got := allocsOf(func() { _, err = Parse(tt.file, []byte(tt.data)) })
			if got > tt.maxBytes {
				t.Errorf("Parse of %d bytes allocated %d MB, want at most %d MB", len(tt.data), got>>20, tt.maxBytes>>20)
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("Parse error: %.300v\nwant one starting with %q", err, tt.wantMsg)
			}
		})
	}
}
