package pgerr

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile are passwords chosen to break redaction.
var hostile = []string{
	"s3cr3tPassw0rd", "p@ss", "p@ss@word", "a b", "open sesame now", "'q'", `it's`, `back\slash`,
	"x:y@z/w?#", "x:y@z/w?#frag&password=1", "%40%3A", "100%", "pässwörd", "密码密码", "🔑🔑🔑🔑",
	"password", "failed", "connect", "user", "strata", "tcp", "a", "ab", "***", "*x*x", "=",
	"sslmode=disable", " leading", "trailing ", "tab\there", "new\nline",
}

// connStrings writes pw into every form of connection string.
func connStrings(pw string) map[string]string {
	q := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)
	return map[string]string{
		"url escaped":   "postgres://u:" + url.PathEscape(pw) + "@127.0.0.1:1/db",
		"url userinfo":  "postgres://" + url.UserPassword("u", pw).String() + "@127.0.0.1:1/db",
		"url raw":       "postgres://u:" + pw + "@127.0.0.1:1/db",
		"url raw query": "postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=bogus",
		"url query":     "postgresql://u@127.0.0.1:1/db?password=" + url.QueryEscape(pw),
		"url typo":      "postgress://u:" + pw + "@127.0.0.1:1/db",
		"kv quoted":     "host=127.0.0.1 port=1 user=u password='" + q + "' dbname=x",
		"kv quoted bad": "host=127.0.0.1 port=1 password='" + q + "' sslmode=bogus",
	}
}

// leaks returns the part of pw that msg shows, or "": pw itself or any of
// its words of MinWord characters or more anywhere, or pw (or a word) of
// fewer as a whole word.
func leaks(msg, pw string) string {
	for _, t := range append([]string{pw}, strings.Fields(pw)...) {
		if t == "" {
			continue
		}
		if utf8.RuneCountInString(t) >= MinWord {
			if strings.Contains(msg, t) {
				return t
			}
			continue
		}
		for i := 0; ; {
			j := strings.Index(msg[i:], t)
			if j < 0 {
				break
			}
			j += i
			if wordEdge(msg, j, -1) && wordEdge(msg, j+len(t), +1) {
				return t
			}
			i = j + 1
		}
	}
	return ""
}

func TestPasswordsFound(t *testing.T) {
	for _, pw := range hostile {
		for form, cs := range connStrings(pw) {
			// A message that quotes the string as written, or the password
			// in any of its encodings, must be scrubbed.
			for _, msg := range []string{
				"cannot parse `" + cs + "`: failed",
				"password authentication failed for user u: " + pw,
				"x " + url.QueryEscape(pw) + " " + url.PathEscape(pw) + " y",
			} {
				got := Redact(msg, Passwords(cs))
				if l := leaks(got, pw); l != "" {
					t.Errorf("%s %q: Redact(%q) = %q shows %q", form, pw, msg, got, l)
				}
			}
		}
	}
}

func TestRedactKeepsTheRest(t *testing.T) {
	for _, c := range []struct{ pw, msg, want string }{
		{"s3cr3t", "failed: s3cr3t!", "failed: ***!"},
		{"failed", "password authentication failed for user u", "password authentication *** for user u"},
		{"ab", "a lab ab: ab", "a lab ***: ***"},
		{"a b", "a connection to b", "*** connection to ***"},
		{"***", "x *** y", "x xxx y"},
		{"open sesame", "the door: open sesame; sesame", "the door: ***; ***"},
	} {
		if got := Redact(c.msg, []string{c.pw}); got != c.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", c.msg, c.pw, got, c.want)
		}
	}
}

func TestHidePassword(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://u:s3cr3t@h:5432/db", "postgres://u:***@h:5432/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"host=h password='a b' dbname=d", "host=h password='***' dbname=d"},
	} {
		if got := HidePassword(c.in); got != c.want {
			t.Errorf("HidePassword(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzRedactConnString: whatever the password and however the connection
// string is written, Redact with the string's Passwords leaves no part of
// the password in a message quoting the string or the password.
func FuzzRedactConnString(f *testing.F) {
	for _, pw := range hostile {
		f.Add(pw, "failed to connect: ")
	}
	f.Fuzz(func(t *testing.T, pw, msg string) {
		if !utf8.ValidString(pw) || strings.ContainsAny(pw, "\x00") {
			t.Skip()
		}
		for form, cs := range connStrings(pw) {
			for _, m := range []string{msg + cs, msg + pw + msg, cs + " " + msg + " " + url.QueryEscape(pw)} {
				got := Redact(m, Passwords(cs))
				if l := leaks(got, pw); l != "" {
					t.Fatalf("%s %q: Redact(%q) = %q shows %q", form, pw, m, got, l)
				}
			}
		}
	})
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		fail bool
	}{
		{"postgres://u:pw@h:5432/db", false},
		{"postgres://u:p%40ss@h/db?options=a@b", false},
		{"postgresql://u@h/db", false},
		{"host=h password=p@ss@x", false},
		{"postgres://u:p@ss@h/db", true},
		{"postgres://u:p@ss/w@h/db", true},
		{"postgres://u:pa/ss@h/db", true},
		{"postgres://u:pa?ss@h/db", true},
		{"postgres://u:x:y@z/w?#@h:1/db", true},
		{"postgres://u:pw@h/db?application_name=a@b", false},
	} {
		if err := CheckURL(c.in); (err != nil) != c.fail {
			t.Errorf("CheckURL(%q) = %v, want failure %v", c.in, err, c.fail)
		}
	}
}
