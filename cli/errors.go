package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stratapg/strata/convert"
	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/internal/suggest"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/state"
)

// The one user-facing form of an error:
//
//	strata: <what failed>: <why>
//	hint: <what to do>
//
// One "strata:" line per problem (only invalid migration files, and input
// convert cannot read, have several), then a hint line where there is a
// next step. Errors carry their hints as lines "hint: ..." (or, inside a
// line, "; hint: ..." and " (hint: ...)"), which renderError moves to the end.

// renderError prints err in the user-facing form and returns the exit status: 2
// for a usage error, 1 for any other.
func (g *globals) renderError(err error, cmd *cobra.Command) int {
	var silent errSilent
	if errors.As(err, &silent) {
		return 1
	}
	code := 1
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		code = 2
	}
	var ce *pgerr.ConnError
	if errors.As(err, &ce) {
		ce.Source = g.urlSource()
	}
	msg := strings.TrimRight(err.Error(), "\n")
	var pe *fs.PathError
	if errors.As(err, &pe) && error(pe) == err {
		// "stat x: no such file": the file, then why.
		msg = pe.Path + ": " + pe.Err.Error()
	}
	if errors.Is(err, context.Canceled) {
		// The driver's words for a canceled query or connection.
		msg = strings.Replace(msg, "timeout: context already done: ", "", 1)
		msg = strings.Replace(msg, "context canceled", "interrupted", 1)
	}
	var hints []string
	if code == 2 {
		msg, hints = usageMessage(msg, cmd)
	}
	multi := errors.Is(err, migration.ErrInvalid) || errors.Is(err, convert.ErrNotConvertible)
	problems, more := splitHints(msg, multi)
	hints = append(hints, more...)
	if len(hints) == 0 {
		if h := defaultHint(err, cmd); h != "" {
			hints = append(hints, h)
		}
	}
	seen := map[string]bool{}
	for _, p := range problems {
		fmt.Fprintf(g.stderr, "strata: %s\n", p)
	}
	for _, h := range hints {
		if !seen[h] {
			seen[h] = true
			fmt.Fprintf(g.stderr, "hint: %s\n", h)
		}
	}
	return code
}

var inlineHint = regexp.MustCompile(`(?:;|,)? hint: (.*)$|\s*\(hint: ([^()]*)\)`)

// splitHints separates the problem lines of msg from its hints. Unless
// multi, the problem is one line (pgx's multi-line connect errors, joined
// errors: blank and repeated lines left out).
func splitHints(msg string, multi bool) (problems, hints []string) {
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		t := strings.TrimSpace(l)
		if h, ok := strings.CutPrefix(t, "hint: "); ok {
			hints = append(hints, h)
			continue
		}
		if t == "" {
			continue
		}
		if multi {
			// keep the problem's own indentation-free text
			lines = append(lines, strings.TrimRight(l, " \t"))
		} else {
			lines = append(lines, t)
		}
	}
	if len(lines) == 1 {
		// One problem: its hints move to their own lines.
		multi = false
	}
	if !multi {
		seen := map[string]bool{}
		var parts []string
		for _, l := range lines {
			if !seen[l] {
				seen[l] = true
				parts = append(parts, l)
			}
		}
		lines = []string{strings.Join(parts, " ")}
		if lines[0] == "" {
			lines = nil
		}
		// A hint inside the line moves to its own line.
		for i, l := range lines {
			for {
				m := inlineHint.FindStringSubmatchIndex(l)
				if m == nil {
					break
				}
				var h string
				if m[2] >= 0 {
					h = l[m[2]:m[3]]
				} else {
					h = l[m[4]:m[5]]
				}
				hints = append(hints, strings.TrimSuffix(h, "."))
				l = l[:m[0]] + l[m[1]:]
			}
			lines[i] = l
		}
	}
	return lines, hints
}

// usageMessage rewrites cobra's usage errors into the one form.
func usageMessage(msg string, cmd *cobra.Command) (string, []string) {
	help := "strata --help"
	if cmd != nil {
		help = cmd.CommandPath() + " --help"
	}
	if m := unknownCmdRE.FindStringSubmatch(msg); m != nil {
		var names []string
		parent := cmd
		if parent == nil {
			return m[0], []string{help + " lists the commands"}
		}
		for _, c := range parent.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		hint := parent.CommandPath() + " --help lists the commands"
		if s := suggest.Closest(m[1], names); s != "" {
			hint = fmt.Sprintf("did you mean %q? (%s)", parent.CommandPath()+" "+s, hint)
		}
		return fmt.Sprintf("unknown command %q for %q", m[1], parent.CommandPath()), []string{hint}
	}
	if m := unknownFlagRE.FindStringSubmatch(msg); m != nil {
		hint := help + " lists its flags"
		if cmd != nil && strings.HasPrefix(m[1], "--") {
			var names []string
			cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
			cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
			name, _, _ := strings.Cut(strings.TrimPrefix(m[1], "--"), "=")
			if s := suggest.Closest(name, names); s != "" {
				hint = fmt.Sprintf("did you mean --%s? (%s)", s, hint)
			}
		}
		return "unknown flag " + m[1], []string{hint}
	}
	if m := badValueRE.FindStringSubmatch(msg); m != nil {
		why := m[3]
		switch {
		case strings.Contains(why, "strconv.ParseInt"), strings.Contains(why, "strconv.ParseUint"):
			why = "want a whole number"
		case strings.Contains(why, "strconv.ParseFloat"):
			why = "want a number"
		case strings.Contains(why, "strconv.ParseBool"):
			why = "want true or false"
		case strings.Contains(why, "time: "):
			why = "want a duration such as 500ms, 30s or 5m"
		}
		return fmt.Sprintf("%s %q: %s", m[2], m[1], why), []string{help + " describes " + m[2]}
	}
	return msg, []string{help + " shows how to use it"}
}

var (
	unknownCmdRE  = regexp.MustCompile(`^unknown command "([^"]*)" for "[^"]*"`)
	unknownFlagRE = regexp.MustCompile(`^unknown (?:shorthand )?flag: (\S+(?: in \S+)?)`)
	badValueRE    = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-\w, )?(--[\w-]+)" flag: (.*)$`)
)

// defaultHint is the next step for errors that carry none.
func defaultHint(err error, cmd *cobra.Command) string {
	name := ""
	if cmd != nil {
		name = cmd.Name()
	}
	switch {
	case errors.Is(err, migration.ErrInvalid):
		return "fix the file(s) named above and run the command again; nothing was changed (docs/migrations.md lists each action's keys)"
	case errors.Is(err, engine.ErrInvalid):
		return "fix the migration, or the database, and run the command again; nothing was changed"
	case errors.Is(err, engine.ErrNoPhase):
		return "strata status shows the state; strata start begins the next migration"
	case errors.Is(err, engine.ErrNothingPending):
		return "add a migration to the folder (strata new NAME), then run strata " + name + " again"
	case errors.Is(err, state.ErrNotInstalled):
		return "run strata init"
	case errors.Is(err, engine.ErrBusy):
		return "wait for it to finish (strata status shows it), or pass --lock-wait 5m to wait"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		switch name {
		case "start", "migrate", "complete", "abort":
			return "run strata " + name + " again to resume, or strata abort to undo the phase"
		}
		return "run the command again"
	case errors.Is(err, os.ErrNotExist) && name == "lint":
		return "check the path: strata lint takes .sql files, migration files and folders of them"
	case errors.Is(err, os.ErrNotExist):
		return "check the path (the folder of migration files is --dir, default ./migrations)"
	}
	return ""
}

// urlSource names where the connection string came from, for hints.
func (g *globals) urlSource() string {
	src := ""
	if g.project != nil {
		src = g.project.sources["url"]
	}
	switch {
	case src == "flag --url":
		return "--url"
	case src == "env DATABASE_URL":
		return "DATABASE_URL"
	case src == "env PG*":
		return "the PG* variables"
	case src == "" || src == "default":
		if g.url != "" {
			return "--url"
		}
		return "the PG* variables (no --url or DATABASE_URL is set)"
	}
	return src // a project file position, strata.toml:3
}

// secrets are the passwords that must never be printed: those of every
// connection string strata was given (flags whose name ends in url,
// DATABASE_URL, the project file's url) and PGPASSWORD.
func (g *globals) secrets() []string {
	var out []string
	add := func(cs string) {
		if cs != "" {
			out = append(out, pgerr.Passwords(cs)...)
		}
	}
	add(g.url)
	add(os.Getenv("DATABASE_URL"))
	add(os.Getenv("STRATA_URL"))
	if p := os.Getenv("PGPASSWORD"); p != "" {
		out = append(out, p)
	}
	if g.root != nil {
		visit := func(f *pflag.Flag) {
			if strings.HasSuffix(f.Name, "url") {
				add(f.Value.String())
			}
		}
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			c.LocalFlags().VisitAll(visit)
			for _, s := range c.Commands() {
				walk(s)
			}
		}
		walk(g.root)
	}
	return out
}

// redactWriter scrubs the passwords strata knows from everything written
// to stderr.
type redactWriter struct {
	w io.Writer
	g *globals
}

// underlying is the writer w wraps, if it is a redactWriter (to tell
// whether stderr is a terminal).
func underlying(w io.Writer) io.Writer {
	if r, ok := w.(*redactWriter); ok {
		return r.w
	}
	return w
}

func (r *redactWriter) Write(p []byte) (int, error) {
	clean := pgerr.Redact(string(p), r.g.secrets())
	if _, err := io.WriteString(r.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}

// oneLine joins the lines of msg with spaces, leaving out blank and repeated
// lines.
func oneLine(msg string) string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		parts = append(parts, l)
	}
	return strings.Join(parts, " ")
}
