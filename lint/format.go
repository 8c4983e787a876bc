package lint

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

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

// WriteJSON writes findings as an indented JSON array (never null).
func WriteJSON(w io.Writer, findings []Finding) error {
	if findings == nil {
		findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(findings); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// WriteGitHub writes findings as GitHub Actions workflow commands, which
// show up as annotations on the pull request:
//
//	::error file=F,line=L,col=C,title=CODE::message
//
// Errors are "error", warnings "warning", info findings "notice". The why and
// safe way follow the message on their own lines.
func WriteGitHub(w io.Writer, findings []Finding) error {
	bw := bufio.NewWriter(w)
	for _, f := range findings {
		level := "notice"
		switch f.Severity {
		case SeverityError:
			level = "error"
		case SeverityWarning:
			level = "warning"
		}
		msg := f.Message
		if f.Why != "" {
			msg += "\n\nWhy: " + f.Why
		}
		if f.SafeWay != "" {
			msg += "\nSafe way: " + f.SafeWay
		}
		fmt.Fprintf(bw, "::%s file=%s,line=%d,col=%d,title=%s::%s\n",
			level, ghProperty(f.File), f.Line, f.Column, ghProperty(f.Code), ghData(msg))
	}
	return bw.Flush()
}

var (
	ghDataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	ghPropertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func ghData(s string) string     { return ghDataEscaper.Replace(s) }
func ghProperty(s string) string { return ghPropertyEscaper.Replace(s) }
