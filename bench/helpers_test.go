package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Unit tests of the pure helpers; the suite itself is checked by running
// `go run ./bench -smoke`.

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
}

func TestWindow(t *testing.T) {
	s := []sample{
		{at: 0, lat: time.Millisecond},
		{at: time.Second, lat: 2 * time.Millisecond},
		{at: 1500 * time.Millisecond, lat: 9 * time.Millisecond, err: true, kind: opUpdate},
		{at: 2 * time.Second, lat: 3 * time.Millisecond},
	}
	st := window(s, time.Second, 2*time.Second, nil)
	if st.Ops != 2 || st.Errors != 1 || st.Max != 9*time.Millisecond || st.TPS != 1 || st.MaxKind != "update (old version)" {
		t.Errorf("window = %+v", st)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/postgres?sslmode=disable": "postgres://u:p@h:5432/x?sslmode=disable",
		"postgresql://h/db":             "postgresql://h/x",
		"host=h user=u dbname=postgres": "host=h user=u dbname=postgres dbname='x'",
		"":                              "dbname='x'",
	} {
		if got := withDatabase(in, "x"); got != want {
			t.Errorf("withDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -12345: "-12,345"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFlagsSmoke(t *testing.T) {
	c, err := parseFlags([]string{"-smoke"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.sizes) != 1 || c.sizes[0] != 20000 || c.loadRows != 20000 || c.reps != 1 {
		t.Errorf("smoke config = %+v", c)
	}
	c, err = parseFlags([]string{"-smoke", "-sizes", "5000,7_000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.sizes) != 2 || c.sizes[1] != 7000 {
		t.Errorf("sizes = %v", c.sizes)
	}
	if _, err := parseFlags([]string{"-sizes", "10"}); err == nil {
		t.Error("-sizes 10 accepted")
	}
}

func TestLockVariants(t *testing.T) {
	cfg, err := parseFlags([]string{"-lock-throttle", "40000", "-load", "0.6"})
	if err != nil {
		t.Fatal(err)
	}
	vs := lockVariants(cfg)
	if len(vs) != 3 {
		t.Fatalf("want 3 variants, got %d", len(vs))
	}
	if vs[0].maxRate != 0 || vs[0].load != 0.6 {
		t.Errorf("main run: throttle %v load %v, want 0 and 0.6", vs[0].maxRate, vs[0].load)
	}
	if vs[1].maxRate != 40000 || vs[1].load != 0.6 {
		t.Errorf("throttled run: throttle %v load %v, want 40000 and 0.6", vs[1].maxRate, vs[1].load)
	}
	if vs[2].maxRate != 0 || vs[2].load != 0.3 {
		t.Errorf("half-load run: throttle %v load %v, want 0 and 0.3", vs[2].maxRate, vs[2].load)
	}
	if cfg.maxRate != 0 || cfg.load != 0.6 {
		t.Errorf("lockVariants changed the config it was given")
	}
	cfg, _ = parseFlags([]string{"-lock-throttle", "0"})
	if n := len(lockVariants(cfg)); n != 1 {
		t.Errorf("-lock-throttle 0: want only the main run, got %d runs", n)
	}
}

// TestWriteLintSQL: the lint benchmark's file is deterministic and has the
// asked number of statements, one a line.
func TestWriteLintSQL(t *testing.T) {
	dir := t.TempDir()
	var files [2]string
	for i := range files {
		p := filepath.Join(dir, fmt.Sprintf("m%d.sql", i))
		if _, err := writeLintSQL(p, 1000); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = string(b)
	}
	if files[0] != files[1] {
		t.Error("two runs wrote different files")
	}
	lines := strings.Split(strings.TrimSuffix(files[0], "\n"), "\n")
	if len(lines) != 1001 { // the comment, then one statement a line
		t.Fatalf("%d lines, want 1001", len(lines))
	}
	for _, l := range lines[1:] {
		if !strings.HasSuffix(l, ";") || strings.Count(l, ";") != 1 {
			t.Fatalf("not one statement: %q", l)
		}
	}
}
