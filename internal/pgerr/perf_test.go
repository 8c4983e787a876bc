package pgerr

import (
	"strings"
	"testing"
	"time"
)

func TestRedactLargeInput(t *testing.T) {
	pw := strings.Repeat("ab c", 250)
	msg := strings.Repeat("x ab c ab ", 10000)
	start := time.Now()
	for form, cs := range connStrings(pw) {
		got := Redact(msg+cs, Passwords(cs))
		if l := leaks(got, pw); l != "" {
			t.Fatalf("%s: shows %q", form, l)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	t.Logf("took %s", time.Since(start))
}
