// Package config reads strata.toml, the project file: defaults for the
// global flags (under the flag's name with _ for -) and the [[foreign]]
// declarations. Decoding is strict: an unknown key is an error naming the
// file, the line and the key. $VAR and ${VAR} in string values are taken
// from the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/stratapg/strata/foreign"
	"github.com/stratapg/strata/internal/suggest"
	"github.com/stratapg/strata/migration"
)

// FileName is the project file looked for in the working folder.
const FileName = "strata.toml"

// MaxSize bounds the project file.
const MaxSize = 1 << 20

// Setting is a global flag's value from the file.
type Setting struct {
	Value string
	Line  int
}

// File is a decoded project file.
type File struct {
	Path string
	// Settings by flag name (with -).
	Settings map[string]Setting
	Foreign  []*foreign.Decl
}

// Where returns "file:line".
func (f *File) Where(line int) string { return fmt.Sprintf("%s:%d", f.Path, line) }

// Commands that may follow a sync (after = [...]).
var AfterCommands = []string{"migrate", "complete"}

var foreignKeys = []string{"name", "into", "schema", "remote_schema", "server", "user", "password_env",
	"mapping_for", "tables", "except", "options", "read_only", "after"}

// Load reads and decodes the project file at path. flags is the set of
// global flag names (with -) that the file may set; getenv expands $VAR.
func Load(path string, flags []string, getenv func(string) string) (*File, error) {
	src, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := &decoder{f: &File{Path: path, Settings: map[string]Setting{}}, lines: migration.TOMLKeyLines(src), getenv: getenv}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return d.line(keys[i]) < d.line(keys[j]) })
	for _, k := range keys {
		v := raw[k]
		if k == "foreign" {
			d.foreign(v)
			continue
		}
		flag := strings.ReplaceAll(k, "_", "-")
		if !slices.Contains(flags, flag) || strings.Contains(k, "-") || flag == "config" {
			known := []string{"foreign"}
			for _, f := range flags {
				if f != "config" {
					known = append(known, strings.ReplaceAll(f, "-", "_"))
				}
			}
			if s := suggest.Closest(k, known); s != "" {
				d.errf(k, "unknown key %q (did you mean %q?)", k, s)
			} else {
				d.errf(k, "unknown key %q (the keys are the global flags' names with _ for -, and [[foreign]])", k)
			}
			continue
		}
		s, ok := d.scalar(k, v)
		if ok {
			d.f.Settings[flag] = Setting{Value: s, Line: d.line(k)}
		}
	}
	if len(d.errs) > 0 {
		return nil, errors.New(strings.Join(d.errs, "\n"))
	}
	return d.f, nil
}

// readFile reads a regular file of at most MaxSize bytes.
func readFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("project file %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("project file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("project file %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return "", fmt.Errorf("project file %s: %w", path, err)
	}
	if len(b) > MaxSize {
		return "", fmt.Errorf("project file %s: larger than %d bytes", path, MaxSize)
	}
	return string(b), nil
}

type decoder struct {
	f      *File
	lines  map[string]int
	getenv func(string) string
	errs   []string
}

func (d *decoder) line(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

func (d *decoder) errf(key, format string, args ...any) {
	d.errs = append(d.errs, fmt.Sprintf("%s:%d: %s: %s", d.f.Path, d.line(key), key, fmt.Sprintf(format, args...)))
}

// expand replaces $VAR and ${VAR}; an unset variable is an error.
func (d *decoder) expand(key, s string) (string, bool) {
	ok := true
	out := os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		v := ""
		if d.getenv != nil {
			v = d.getenv(name)
		}
		if v == "" && ok {
			d.errf(key, "the environment variable %s is not set", name)
			ok = false
		}
		return v
	})
	return out, ok
}

// scalar renders a string, number or boolean as a flag value.
func (d *decoder) scalar(key string, v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return d.expand(key, x)
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	d.errf(key, "must be a string, number or boolean")
	return "", false
}

func (d *decoder) str(key string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.errf(key, "must be a string")
		return "", false
	}
	return d.expand(key, s)
}

func (d *decoder) strs(key string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		d.errf(key, "must be an array of strings")
		return nil
	}
	out := []string{}
	for i, e := range arr {
		if s, ok := d.str(fmt.Sprintf("%s[%d]", key, i), e); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) foreign(v any) {
	arr, ok := v.([]map[string]any)
	if !ok {
		d.errf("foreign", "must be an array of tables ([[foreign]])")
		return
	}
	names := map[string]string{}
	for i, t := range arr {
		p := fmt.Sprintf("foreign[%d]", i)
		decl := &foreign.Decl{File: d.f.Path, Line: d.line(p), ReadOnly: true}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return d.line(p+"."+keys[a]) < d.line(p+"."+keys[b]) })
		for _, k := range keys {
			key, v := p+"."+k, t[k]
			switch k {
			case "name":
				decl.Name, _ = d.str(key, v)
			case "into":
				decl.Into, _ = d.str(key, v)
			case "schema":
				decl.Schema, _ = d.str(key, v)
			case "remote_schema":
				decl.RemoteSchema, _ = d.str(key, v)
			case "user":
				decl.User, _ = d.str(key, v)
			case "password_env":
				s, ok := v.(string)
				if !ok {
					d.errf(key, "must be a string: the name of an environment variable")
				}
				decl.PasswordEnv = s
			case "mapping_for":
				decl.MappingFor = d.strs(key, v)
			case "tables":
				decl.Tables = d.strs(key, v)
			case "except":
				decl.Except = d.strs(key, v)
			case "after":
				decl.After = d.strs(key, v)
				for j, a := range decl.After {
					if !slices.Contains(AfterCommands, a) {
						d.errf(fmt.Sprintf("%s[%d]", key, j), "%q is not a command a sync can follow (migrate, complete)", a)
					}
				}
			case "read_only":
				b, ok := v.(bool)
				if !ok {
					d.errf(key, "must be true or false")
				}
				decl.ReadOnly = b
			case "server":
				m, ok := v.(map[string]any)
				if !ok {
					d.errf(key, "must be a table: { host = \"...\", port = \"5432\", dbname = \"...\" }")
					continue
				}
				for sk, sv := range m {
					skey := key + "." + sk
					s, ok := d.scalar(skey, sv)
					switch sk {
					case "host":
						decl.Server.Host = s
					case "port":
						decl.Server.Port = s
					case "dbname":
						decl.Server.DBName = s
					default:
						d.errf(skey, "unknown key %q (server has host, port and dbname)%s", sk, suggest.Hint(sk, []string{"host", "port", "dbname"}))
					}
					_ = ok
				}
			case "options":
				m, ok := v.(map[string]any)
				if !ok {
					d.errf(key, "must be a table of foreign server options")
					continue
				}
				decl.Options = map[string]string{}
				for ok2, ov := range m {
					if slices.Contains([]string{"host", "port", "dbname", "user", "password"}, ok2) {
						d.errf(key+"."+ok2, "set %s with server = {...}, user or password_env, not options", ok2)
						continue
					}
					if s, ok := d.scalar(key+"."+ok2, ov); ok {
						decl.Options[ok2] = s
					}
				}
			default:
				if s := suggest.Closest(k, foreignKeys); s != "" {
					d.errf(key, "unknown key %q (did you mean %q?)", k, s)
				} else {
					d.errf(key, "unknown key %q (a [[foreign]] declaration has %s)", k, strings.Join(foreignKeys, ", "))
				}
			}
		}
		switch {
		case decl.Name == "":
			d.errf(p, "name is missing")
		case names[decl.Name] != "":
			d.errf(p+".name", "%q is declared twice (also at %s)", decl.Name, names[decl.Name])
		default:
			names[decl.Name] = d.f.Where(decl.Line)
		}
		if _, ok := t["into"]; !ok {
			d.errf(p, "into is missing: the URL of the database that receives the foreign tables")
		}
		if _, ok := t["user"]; !ok {
			d.errf(p, "user is missing: the remote role of the user mapping")
		}
		if decl.Schema == "" {
			decl.Schema = decl.Name
		}
		if len(decl.Tables) > 0 && len(decl.Except) > 0 {
			d.errf(p+".except", "give tables or except, not both")
		}
		d.f.Foreign = append(d.f.Foreign, decl)
	}
}
