package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSaysWhatItDoes starts a real throwaway cluster (no server given) and
// checks that withpg says what it does, in order, and removes the folder.
func TestSaysWhatItDoes(t *testing.T) {
	t.Setenv(envURL, "")
	var buf bytes.Buffer
	stderr = &buf
	defer func() { stderr = os.Stderr }()
	if code := run([]string{"--", "true"}); code != 0 {
		t.Fatalf("withpg -- true: exit %d\n%s", code, buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`^withpg: starting a throwaway PostgreSQL [0-9]+\.[0-9]+.* \(/.*\) on a free port of 127\.0\.0\.1 in a new folder of .*…$`,
		`^withpg: started PostgreSQL [0-9]+\.[0-9]+.* on 127\.0\.0\.1:[0-9]+ in (/\S+) \([0-9.]+m?s\)$`,
		`^withpg: running true…$`,
		`^withpg: stopping PostgreSQL and removing (/\S+)$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("withpg printed %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	var dirs []string
	for i, re := range want {
		m := regexp.MustCompile(re).FindStringSubmatch(lines[i])
		if m == nil {
			t.Fatalf("line %d: %q does not match %s", i+1, lines[i], re)
		}
		if len(m) > 1 {
			dirs = append(dirs, m[1])
		}
	}
	if dirs[0] != dirs[1] {
		t.Errorf("started in %s but removed %s", dirs[0], dirs[1])
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("the cluster folder %s is still there: %v", dirs[0], err)
	}
}

func TestCompileNote(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"go", "test", "./..."}, " (it compiles what is not cached first: 1–3 minutes on a first build)…"},
		{[]string{"/usr/local/go/bin/go", "run", "./cmd/strata-demo"}, " (it compiles what is not cached first: 1–3 minutes on a first build)…"},
		{[]string{"bin/strata-demo"}, "…"},
		{[]string{"go", "version"}, "…"},
	} {
		if got := compileNote(tt.args); got != tt.want {
			t.Errorf("compileNote(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
