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

// BenchmarkRedactLine: one typical stderr line with the passwords of a URL.
func BenchmarkRedactLine(b *testing.B) {
	secrets := Passwords("postgres://app:s3cr3t%40pw@db.internal:5432/shop?sslmode=require")
	line := `connect to db.internal:5432: password authentication failed for user "app"` + "\n"
	for i := 0; i < b.N; i++ {
		Redact(line, secrets)
	}
}
