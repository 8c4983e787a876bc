package lint

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stratapg/strata/migration"
)

// WriteText writes findings for humans:
//
//	file:line:col: severity CODE: message
//	   12 | ALTER TABLE t ADD COLUMN c int DEFAULT random();
//	      |                          ^
//	  why: ...
//	  safe way: ...
//
// sources maps a finding's File to the file's content, for the source line;
// a file missing from sources is read from disk, and the source line is left
// out if that fails.
func WriteText(w io.Writer, findings []Finding, sources map[string][]byte) error {
	bw := bufio.NewWriter(w)
	lines := map[string][]string{}
	for i, f := range findings {
		if i > 0 {
			bw.WriteString("\n")
		}
		fmt.Fprintf(bw, "%s:%d:%d: %s %s: %s\n", f.File, f.Line, f.Column, f.Severity, f.Code, f.Message)
		src, ok := lines[f.File]
		if !ok {
			data, found := sources[f.File]
			if !found {
				data, _ = migration.ReadFile(f.File)
			}
			src = splitLines(string(data))
			lines[f.File] = src
		}
		if f.Line >= 1 && f.Line <= len(src) {
			text := src[f.Line-1]
			num := strconv.Itoa(f.Line)
			pad := strings.Repeat(" ", len(num))
			fmt.Fprintf(bw, "  %s | %s\n", num, text)
			fmt.Fprintf(bw, "  %s | %s^\n", pad, caretPrefix(text, f.Column))
		}
		if f.Why != "" {
			fmt.Fprintf(bw, "  why: %s\n", f.Why)
		}
		if f.SafeWay != "" {
			fmt.Fprintf(bw, "  safe way: %s\n", f.SafeWay)
		}
	}
	return bw.Flush()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	for i, l := range out {
		out[i] = strings.TrimSuffix(l, "\r")
	}
	return out
}

// caretPrefix returns the white space that puts a caret under the 1-based
// character column col of line, keeping tabs so that it lines up.
func caretPrefix(line string, col int) string {
	var b strings.Builder
	n := 1
	for _, r := range line {
		if n >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		n++
	}
	for ; n < col; n++ {
		b.WriteByte(' ')
	}
	return b.String()
}

// JSONFormatVersion is the format_version of the document WriteJSON
// writes. It changes only when a field is removed or changes meaning; new
// fields may appear without a change.
const JSONFormatVersion = 1

// Report is the document WriteJSON and WriteReport write:
//
//	{"format_version": 1, "pg_version": 16, "findings": [...]}
type Report struct {
	// FormatVersion is JSONFormatVersion (WriteReport sets it).
	FormatVersion int `json:"format_version"`
	// PGVersion is the target PostgreSQL major version the findings assume
	// (left out when 0).
	PGVersion int       `json:"pg_version,omitempty"`
	Findings  []Finding `json:"findings"`
}

// WriteJSON writes findings as an indented JSON document, a Report (its
// findings never null).
func WriteJSON(w io.Writer, findings []Finding) error {
	return WriteReport(w, Report{Findings: findings})
}

// WriteReport writes r as indented JSON, with r.FormatVersion set to
// JSONFormatVersion and findings never null.
func WriteReport(w io.Writer, r Report) error {
	findings := r.Findings
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "{\n  \"format_version\": %d,\n", JSONFormatVersion)
	if r.PGVersion != 0 {
		fmt.Fprintf(bw, "  \"pg_version\": %d,\n", r.PGVersion)
	}
	bw.WriteString("  \"findings\": [")
	for i := range findings {
		f := &findings[i]
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    {\n      \"file\": ")
		writeJSONString(bw, f.File)
		bw.WriteString(",\n      \"line\": ")
		bw.WriteString(strconv.Itoa(f.Line))
		bw.WriteString(",\n      \"column\": ")
		bw.WriteString(strconv.Itoa(f.Column))
		for _, kv := range [...]struct{ k, v string }{{"code", f.Code}, {"rule", f.Rule}, {"severity", f.Severity},
			{"message", f.Message}, {"why", f.Why}, {"safe_way", f.SafeWay}} {
			bw.WriteString(",\n      \"")
			bw.WriteString(kv.k)
			bw.WriteString("\": ")
			writeJSONString(bw, kv.v)
		}
		if f.Statement != "" {
			bw.WriteString(",\n      \"statement\": ")
			writeJSONString(bw, f.Statement)
		}
		bw.WriteString("\n    }")
	}
	if len(findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string, escaped as encoding/json
// escapes it (HTML characters, U+2028 and U+2029 included; invalid UTF-8
// becomes U+FFFD), without reflection or an intermediate buffer.
func writeJSONString(bw *bufio.Writer, s string) {
	bw.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			bw.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				bw.WriteByte('\\')
				bw.WriteByte(c)
			case '\n':
				bw.WriteString(`\n`)
			case '\r':
				bw.WriteString(`\r`)
			case '\t':
				bw.WriteString(`\t`)
			case '\b':
				bw.WriteString(`\b`)
			case '\f':
				bw.WriteString(`\f`)
			default:
				bw.WriteString(`\u00`)
				bw.WriteByte(hexDigits[c>>4])
				bw.WriteByte(hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			bw.WriteString(s[start:i])
			bw.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			bw.WriteString(s[start:i])
			bw.WriteString(`\u202`)
			bw.WriteByte(hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	bw.WriteString(s[start:])
	bw.WriteByte('"')
}

// GitHubAnnotationLimit is how many annotations of each type (error,
// warning, notice) GitHub shows for one step; it drops the rest.
const GitHubAnnotationLimit = 10

// WriteGitHub writes findings as GitHub Actions workflow commands, which
// show up as annotations on the pull request:
//
//	::error file=F,line=L,col=C,title=CODE::message
//
// Errors are "error", warnings "warning", info findings "notice". The why and
// safe way follow the message on their own lines.
//
// GitHub shows only GitHubAnnotationLimit annotations of each type per step.
// Past that, findings are written as plain log lines
// (file:line:col: severity CODE: message, then why and safe way), and a last
// notice says how many were not annotated; when that happens only one less
// info finding is annotated, so that the summary is shown.
func WriteGitHub(w io.Writer, findings []Finding) error {
	bw := bufio.NewWriter(w)
	var count [3]int // error, warning, notice
	for _, f := range findings {
		count[ghLevel(f.Severity)]++
	}
	limit := [3]int{GitHubAnnotationLimit, GitHubAnnotationLimit, GitHubAnnotationLimit}
	if count[0] > limit[0] || count[1] > limit[1] || count[2] > limit[2] {
		limit[2]-- // room for the summary notice
	}
	var shown [3]int
	plain := 0
	for _, f := range findings {
		l := ghLevel(f.Severity)
		if shown[l] >= limit[l] {
			plain++
			fmt.Fprintf(bw, "%s:%d:%d: %s %s: %s\n", f.File, f.Line, f.Column, f.Severity, f.Code, oneLine(f.Message))
			if f.Why != "" {
				fmt.Fprintf(bw, "  why: %s\n", oneLine(f.Why))
			}
			if f.SafeWay != "" {
				fmt.Fprintf(bw, "  safe way: %s\n", oneLine(f.SafeWay))
			}
			continue
		}
		shown[l]++
		msg := f.Message
		if f.Why != "" {
			msg += "\n\nWhy: " + f.Why
		}
		if f.SafeWay != "" {
			msg += "\nSafe way: " + f.SafeWay
		}
		fmt.Fprintf(bw, "::%s file=%s,line=%d,col=%d,title=%s::%s\n",
			ghLevelNames[l], ghProperty(f.File), f.Line, f.Column, ghProperty(f.Code), ghData(msg))
	}
	if plain > 0 {
		noun := "findings"
		if plain == 1 {
			noun = "finding"
		}
		fmt.Fprintf(bw, "::notice::%d more %s not annotated (GitHub shows %d of each type per step): see the log\n", plain, noun, GitHubAnnotationLimit)
	}
	return bw.Flush()
}

var ghLevelNames = [3]string{"error", "warning", "notice"}

func ghLevel(severity string) int {
	switch severity {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// oneLine keeps a plain log line from starting a workflow command on its
// next line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return lineBreaks.Replace(s)
}

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

var (
	ghDataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	ghPropertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func ghData(s string) string     { return ghDataEscaper.Replace(s) }
func ghProperty(s string) string { return ghPropertyEscaper.Replace(s) }
