package pgerr

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Passwords returns every form in which the password of connString (a
// postgres:// URL or a libpq keyword/value string) may show up in a message:
// as written and decoded. It parses the string itself, loosely, so that it
// also finds the password of a string the driver refuses to parse (an
// unescaped @ or / in a URL password, an unterminated quote). It never
// fails; a string with no password gives none.
func Passwords(connString string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	if i := strings.Index(connString, "://"); i >= 0 && isScheme(connString[:i]) {
		rest := connString[i+3:]
		// userinfo ends at the last @: either before the host's end (the
		// first / ? # after that @) or anywhere (an unescaped / ? # in the
		// password). Both readings are redacted.
		for _, at := range []int{lastAtBeforeHostEnd(rest), strings.LastIndex(rest, "@")} {
			if at < 0 {
				continue
			}
			userinfo := rest[:at]
			if c := strings.Index(userinfo, ":"); c >= 0 {
				pw := userinfo[c+1:]
				add(pw)
				if d, err := url.PathUnescape(pw); err == nil {
					add(d)
				}
			}
		}
		// ?password=... (also after an unescaped # or ?)
		for q := rest; ; {
			j := strings.Index(q, "password=")
			if j < 0 {
				break
			}
			v := q[j+len("password="):]
			if k := strings.IndexAny(v, "&#"); k >= 0 {
				v = v[:k]
			}
			add(v)
			if d, err := url.QueryUnescape(v); err == nil {
				add(d)
			}
			q = q[j+1:]
		}
	} else {
		raw, val := kvPassword(connString)
		add(raw)
		add(val)
	}
	// Forms an error may quote it in.
	n := len(out)
	for _, p := range out[:n] {
		add(url.QueryEscape(p))
		add(url.PathEscape(p))
		add(url.UserPassword("", p).String()[1:])
	}
	return dedupe(out)
}

// isScheme reports whether s looks like a URL scheme (postgres, postgress,
// postgresql, ...): a letter then letters, digits, + - and ..
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || i > 0 && (unicode.IsDigit(r) || r == '+' || r == '-' || r == '.'))) {
			return false
		}
	}
	return true
}

// lastAtBeforeHostEnd is the index of the last @ in rest (a URL after its
// "://") that comes before the end of the authority, where the authority
// is taken to end at the first / ? or # after the last @ of the string
// that precedes one of them; -1 when there is none.
func lastAtBeforeHostEnd(rest string) int {
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	return strings.LastIndex(rest[:end], "@")
}

// kvPassword finds password=... in a keyword/value string: its text as
// written (with quotes and escapes) and its value.
func kvPassword(s string) (raw, val string) {
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		ks := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[ks:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			// not key=value: skip a word
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			continue
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		vs := i
		var b strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			if i < len(s) {
				i++ // closing quote
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
		}
		if key == "password" {
			raw, val = s[vs:i], b.String()
			raw = strings.TrimSuffix(strings.TrimPrefix(raw, "'"), "'")
		}
	}
	return raw, val
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Mask is what a redacted password is replaced with.
const Mask = "***"

// MinWord is the length from which a word of a password is redacted
// wherever it appears, even inside another word; a shorter password (or
// word of one) is redacted where it stands as a whole word.
const MinWord = 4

// Redact removes every password in secrets from msg: each password, and
// each of its whitespace-separated words, of MinWord characters or more
// wherever it appears (so a password equal to a word of the message, such
// as "failed", masks that word too: a password is never printed, whatever
// it is), and shorter ones where they stand as a whole word (between
// characters that are not letters or digits).
func Redact(msg string, secrets []string) string {
	var terms []string
	for _, s := range secrets {
		terms = append(terms, s)
		terms = append(terms, strings.Fields(s)...)
	}
	// Longest first: a password is masked as a whole before its words.
	terms = dedupe(terms)
	sortByLenDesc(terms)
	m := chooseMask(terms)
	// Until nothing changes: masking one term can make a short one stand
	// as a word where it did not ("0! 00" with the password "! 0": once the
	// first "0" is masked, "!" stands alone). It ends, because the mask
	// shares no character with any term, so every round that changes msg
	// leaves fewer of the terms' characters unmasked.
	for {
		before := msg
		for _, t := range terms {
			if t == "" {
				continue
			}
			if utf8.RuneCountInString(t) >= MinWord {
				msg = replaceAll(msg, t, m)
			} else {
				msg = replaceWords(msg, t, m)
			}
		}
		if msg == before {
			return msg
		}
	}
}

func sortByLenDesc(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// masks are the replacements Redact chooses from: the first that shares
// no character with any password, so that masking cannot make a password
// appear again; "" when each does.
var masks = []string{Mask, "xxx", "###", "~~~", "___"}

func chooseMask(terms []string) string {
	for _, m := range masks {
		clash := false
		for _, t := range terms {
			if strings.Contains(t, m[:1]) {
				clash = true
				break
			}
		}
		if !clash {
			return m
		}
	}
	return ""
}

// replaceAll replaces t with m (shorter than t) until msg has none left:
// each round shortens msg, so it ends.
func replaceAll(msg, t, m string) string {
	for strings.Contains(msg, t) {
		msg = strings.ReplaceAll(msg, t, m)
	}
	return msg
}

// replaceWords replaces the occurrences of t that are whole words.
func replaceWords(msg, t, m string) string {
	for round := 0; round < 8; round++ {
		var b strings.Builder
		changed := false
		i := 0
		for {
			j := strings.Index(msg[i:], t)
			if j < 0 {
				b.WriteString(msg[i:])
				break
			}
			j += i
			if wordEdge(msg, j, -1) && wordEdge(msg, j+len(t), +1) {
				b.WriteString(msg[i:j])
				b.WriteString(m)
				changed = true
				i = j + len(t)
			} else {
				b.WriteString(msg[i : j+1])
				i = j + 1
			}
		}
		msg = b.String()
		if !changed {
			return msg
		}
	}
	// Pathological (no mask fits): drop every occurrence.
	for strings.Contains(msg, t) {
		msg = strings.ReplaceAll(msg, t, "")
	}
	return msg
}

// wordEdge reports whether position i of s is a word boundary on side dir
// (-1: the character before i; +1: the character at i).
func wordEdge(s string, i, dir int) bool {
	var r rune
	if dir < 0 {
		if i == 0 {
			return true
		}
		r, _ = utf8.DecodeLastRuneInString(s[:i])
	} else {
		if i >= len(s) {
			return true
		}
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// HidePassword returns connString with its password replaced by ***, for
// printing. A string it cannot read is replaced whole by a description.
func HidePassword(connString string) string {
	out := connString
	pws := Passwords(connString)
	m := chooseMask(pws)
	for _, p := range pws {
		for strings.Contains(out, p) {
			out = strings.ReplaceAll(out, p, m)
		}
	}
	for _, p := range Passwords(connString) {
		if strings.Contains(out, p) {
			return "(a connection string)"
		}
	}
	return out
}
