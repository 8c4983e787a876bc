package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// jsonFormatVersion is the "format_version" of every JSON document strata
// prints (docs/json.md): additive changes keep it, any other change bumps
// it.
const jsonFormatVersion = 1

// outputFormat is a command's --format flag, with --json as an alias for
// --format json.
type outputFormat struct {
	name    string
	json    bool
	allowed []string
}

// addFormatFlag gives cmd --format (one of allowed, the first the default;
// text and json when none are given) and, when json is allowed, --json. The
// flags are checked before the command runs: an unknown format, or --json
// with another --format, is a usage error.
func addFormatFlag(cmd *cobra.Command, allowed ...string) *outputFormat {
	if len(allowed) == 0 {
		allowed = []string{"text", "json"}
	}
	f := &outputFormat{allowed: allowed}
	cmd.Flags().StringVar(&f.name, "format", allowed[0], "output format: "+orList(allowed))
	if slices.Contains(allowed, "json") {
		cmd.Flags().BoolVar(&f.json, "json", false, "same as --format json")
	}
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := f.resolve(c); err != nil {
			return err
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
	return f
}

func (f *outputFormat) resolve(cmd *cobra.Command) error {
	if f.json {
		if cmd.Flags().Changed("format") && f.name != "json" {
			return usageError{fmt.Errorf("--json and --format %s contradict each other: give one of them", f.name)}
		}
		f.name = "json"
	}
	if !slices.Contains(f.allowed, f.name) {
		return usageError{fmt.Errorf("--format must be %s, not %q", orList(f.allowed), f.name)}
	}
	return nil
}

// String is the chosen format.
func (f *outputFormat) String() string { return f.name }

// JSON reports whether the chosen format is json.
func (f *outputFormat) JSON() bool { return f.name == "json" }

func orList(l []string) string {
	if len(l) == 1 {
		return l[0]
	}
	return strings.Join(l[:len(l)-1], ", ") + " or " + l[len(l)-1]
}

// offsetTime is a JSON string holding an RFC 3339 time with a zone offset
// (the form encoding/json gives a time.Time that is not in UTC).
var offsetTime = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d"`)

// utcTimes rewrites the times of a JSON document in UTC ("...Z"): strata
// prints every time in RFC 3339 UTC.
func utcTimes(doc []byte) []byte {
	return offsetTime.ReplaceAllFunc(doc, func(q []byte) []byte {
		t, err := time.Parse(time.RFC3339Nano, string(q[1:len(q)-1]))
		if err != nil {
			return q
		}
		return []byte(`"` + t.UTC().Format(time.RFC3339Nano) + `"`)
	})
}

// writeJSON prints v, which must encode as a JSON object, as a document of
// strata's: "format_version" first, then v's fields, indented, with <, >
// and & as they are.
func (g *globals) writeJSON(v any) error {
	b, err := encodeJSON(v)
	if err != nil {
		return err
	}
	_, err = g.stdout.Write(b)
	return err
}

func encodeJSON(v any) ([]byte, error) {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	body := utcTimes(bytes.TrimSpace(raw.Bytes()))
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("encode JSON: a document must be an object, not %.20s", body)
	}
	doc := fmt.Appendf(nil, `{"format_version":%d`, jsonFormatVersion)
	if rest := bytes.TrimSpace(body[1:]); len(rest) > 0 && rest[0] != '}' {
		doc = append(doc, ',')
	}
	doc = append(doc, body[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
