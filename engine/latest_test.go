package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgtest"
)

// TestConnStringWithSearchPath: the connection string strata latest --url
// prints selects the version schema on a real connection, in URL and
// keyword/value form, replacing an options setting and keeping the rest
// (the password as written); names that need quotes survive libpq's
// splitting of options at spaces.
func TestConnStringWithSearchPath(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, `CREATE SCHEMA app_v2; CREATE SCHEMA "Ver 2\x"; CREATE SCHEMA "My App"`)
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	kv := fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable", cfg.Host, cfg.Port, cfg.Database, cfg.User)
	if cfg.Password != "" {
		kv += " password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(cfg.Password) + "'"
	}
	sep := "?"
	if strings.Contains(db.URL, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name, conn, vs, managed string
		want                    string // current_schemas(false)
	}{
		{"url", db.URL, "app_v2", "public", "{app_v2,public}"},
		{"url with options", db.URL + sep + "options=-c%20statement_timeout%3D5", "app_v2", "public", "{app_v2,public}"},
		{"keyword/value", kv, "app_v2", "public", "{app_v2,public}"},
		{"keyword/value with options", kv + " options='-c work_mem=64kB'", "app_v2", "public", "{app_v2,public}"},
		{"quoted names in a url", db.URL, `Ver 2\x`, "My App", `{"Ver 2\\x","My App"}`},
		{"quoted names, keyword/value", kv, `Ver 2\x`, "My App", `{"Ver 2\\x","My App"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := engine.ConnStringWithSearchPath(tc.conn, tc.vs, tc.managed)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(s, "statement_timeout") || strings.Contains(s, "work_mem") {
				t.Errorf("the earlier options are kept: %s", s)
			}
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, s)
			if err != nil {
				t.Fatalf("connect with %s: %v", s, err)
			}
			defer conn.Close(ctx)
			var got string
			if err := conn.QueryRow(ctx, "SELECT current_schemas(false)::text").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("current_schemas = %s, want %s (from %s)", got, tc.want, s)
			}
		})
	}
	// The password stays as written; an empty string gives the option alone.
	s, err := engine.ConnStringWithSearchPath("postgres://u:p%40ss@h:5/d", "v", "public")
	if err != nil || s != "postgres://u:p%40ss@h:5/d?options=-c%20search_path%3Dv%2Cpublic" {
		t.Errorf("url: %q, %v", s, err)
	}
	s, err = engine.ConnStringWithSearchPath(`host=h password='it\'s' options='-c x=1'`, "v", "public")
	if err != nil || s != `host=h password='it\'s' options='-c search_path=v,public'` {
		t.Errorf("keyword/value: %q, %v", s, err)
	}
	if s, err = engine.ConnStringWithSearchPath("", "v", "public"); err != nil || s != "options='-c search_path=v,public'" {
		t.Errorf("empty: %q, %v", s, err)
	}
	if _, err = engine.ConnStringWithSearchPath("host=h password='open", "v", "public"); err == nil {
		t.Error("an unterminated quote is accepted")
	}
}
