package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stratapg/strata/internal/pgerr"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
	"github.com/stratapg/strata/planner"
)

// ErrNoVersionSchema is returned by LatestFromFolder when the folder has no
// expand/contract migration (a .sql migration has no version schema).
var ErrNoVersionSchema = errors.New("no version schema: the folder has no .toml or .json migration")

// Latest is the version schema clients should use now (strata latest). Its
// JSON form is part of strata's command-line contract.
type Latest struct {
	VersionSchema string `json:"version_schema"`
	Schema        string `json:"schema"`
	// SearchPath is "<version schema>, <managed schema>" (see SearchPath).
	SearchPath string `json:"search_path"`
	// Style is the version schema's style: "strata" or "reshape".
	Style string `json:"style"`
	// Source says where it was found: "phase" (the new version of the
	// phase in progress), "history" (the latest completed expand/contract
	// migration) or "folder" (computed from the migration files).
	Source string `json:"source"`
	// Migration is the migration whose version schema it is.
	Migration string `json:"migration"`
}

func (m *Migrator) style() string {
	if m.opts.VersionSchemaStyle == "" {
		return migration.StyleStrata
	}
	return m.opts.VersionSchemaStyle
}

// LatestFromFolder computes the version schema of the newest expand/contract
// migration among migs with this Migrator's managed schema and style,
// without a database; ErrNoVersionSchema when there is none.
func (m *Migrator) LatestFromFolder(migs []*migration.Migration) (*Latest, error) {
	for i := len(migs) - 1; i >= 0; i-- {
		mg := migs[i]
		if mg.Kind == migration.KindSQL {
			continue
		}
		vs := migration.VersionSchemaFor(mg, m.opts.Schema, m.style())
		return &Latest{VersionSchema: vs, Schema: m.opts.Schema, SearchPath: SearchPath(vs, m.opts.Schema),
			Style: m.style(), Source: "folder", Migration: mg.Name}, nil
	}
	return nil, ErrNoVersionSchema
}

// LatestFromDatabase reads the version schema clients should use now: the
// new version's during a phase, else the latest completed expand/contract
// migration's. It returns nil (and no error) when the database has neither.
// It takes no lock and changes nothing.
func (m *Migrator) LatestFromDatabase(ctx context.Context) (*Latest, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	ph, err := m.phase(ctx, conn)
	if err != nil {
		return nil, err
	}
	if ph != nil {
		var p plan.Plan
		if err := json.Unmarshal(ph.Plan, &p); err != nil {
			return nil, fmt.Errorf("decode the stored plan: %w", err)
		}
		style := p.VersionStyle
		if style == "" {
			style = migration.StyleStrata
		}
		names := ph.Names()
		return &Latest{VersionSchema: ph.VersionSchema, Schema: m.opts.Schema, SearchPath: SearchPath(ph.VersionSchema, m.opts.Schema),
			Style: style, Source: "phase", Migration: names[len(names)-1]}, nil
	}
	hist, err := m.history(ctx, conn)
	if err != nil {
		return nil, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		vs := hist[i].VersionSchema
		if vs == "" {
			continue
		}
		var comment string
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(obj_description(oid, 'pg_namespace')), '') FROM pg_namespace WHERE nspname = $1`,
			vs).Scan(&comment); err != nil {
			return nil, fmt.Errorf("read version schema %s: %w", vs, err)
		}
		style := migration.StyleStrata
		if comment == planner.ReshapeSchemaComment {
			style = migration.StyleReshape
		}
		return &Latest{VersionSchema: vs, Schema: m.opts.Schema, SearchPath: SearchPath(vs, m.opts.Schema),
			Style: style, Source: "history", Migration: hist[i].Name}, nil
	}
	return nil, nil
}

// SearchPathOption is the libpq startup option that makes a connection a
// client of version schema vs of managed schema: "-c search_path=vs,managed"
// (no space after the comma: libpq splits options at spaces; a space or a
// backslash in a quoted name is escaped with a backslash).
func SearchPathOption(vs, managed string) string {
	v := strings.ReplaceAll(SearchPath(vs, managed), ", ", ",")
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, " ", `\ `)
	return "-c search_path=" + v
}

// ConnStringWithSearchPath returns connString (a postgres:// URL or a libpq
// keyword/value string) with the options parameter set to
// SearchPathOption(vs, managed), replacing any options it had. Everything
// else, the password included, stays as written. An empty connString gives
// a keyword/value string of the option alone (the rest comes from the PG*
// variables).
func ConnStringWithSearchPath(connString, vs, managed string) (string, error) {
	opt := SearchPathOption(vs, managed)
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", pgerr.Parse(err, connString)
		}
		q := u.Query()
		q.Set("options", opt)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String(), nil
	}
	kv, err := dropKeyword(connString, "options")
	if err != nil {
		return "", err
	}
	lit := "options='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(opt) + "'"
	if strings.TrimSpace(kv) == "" {
		return lit, nil
	}
	return strings.TrimSpace(kv) + " " + lit, nil
}

// dropKeyword removes keyword's key=value pairs from a libpq keyword/value
// string, keeping the rest as written.
func dropKeyword(s, keyword string) (string, error) {
	var out []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return "", fmt.Errorf("connection string: missing \"=\" after %q", key)
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return "", fmt.Errorf("connection string: unterminated quoted value of %q", key)
			}
			i++
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		}
		if i > len(s) {
			i = len(s)
		}
		if key != keyword {
			out = append(out, s[start:i])
		}
	}
	return strings.Join(out, " "), nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
