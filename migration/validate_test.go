package migration

import (
	"errors"
	"strings"
	"testing"
)

func TestVersionSchema(t *testing.T) {
	if got := VersionSchema("public", "001_init"); got != "public_001_init" {
		t.Errorf("VersionSchema = %q", got)
	}
}

func TestValidateVersionSchemaLength(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		mname   string
		wantErr string
	}{
		{name: "63 bytes fits", schema: "public", mname: strings.Repeat("a", 63-len("public_"))},
		{
			name:    "64 bytes is too long",
			schema:  "public",
			mname:   strings.Repeat("a", 64-len("public_")),
			wantErr: `m/x.toml: name: version schema name "public_` + strings.Repeat("a", 57) + `" is 64 bytes; PostgreSQL allows at most 63: shorten the migration name`,
		},
		{
			name:    "multi-byte schema counts bytes",
			schema:  "schéma",
			mname:   strings.Repeat("a", 63-len("schema_")),
			wantErr: `m/x.toml: name: version schema name "schéma_` + strings.Repeat("a", 56) + `" is 64 bytes; PostgreSQL allows at most 63: shorten the migration name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The name comes from the file name: no line.
			m := mustParse(t, "m/x.toml", "name = \""+tt.mname+"\"\n"+action("t"))
			delete(m.Lines, "name")
			err := m.Validate(tt.schema)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Validate = %v\nwant %s", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
		})
	}
}

func TestValidateNameLine(t *testing.T) {
	m := mustParse(t, "m/x.toml", "\nname = \""+strings.Repeat("a", 60)+"\"\n"+action("t"))
	err := m.Validate("public")
	if err == nil || !strings.HasPrefix(err.Error(), "m/x.toml:2: name: version schema name") {
		t.Fatalf("Validate = %v", err)
	}
}

// Validate works on migrations built in Go, without lines.
func TestValidateBuilt(t *testing.T) {
	m := &Migration{
		Name: "1_x",
		File: "built",
		Actions: []Action{
			&AddIndex{Table: "t", Index: Index{Name: "i", Columns: []IndexColumn{{Column: "a"}}, Method: "GIST"}},
			&AddForeignKey{Table: "t", ForeignKey: ForeignKey{
				Name: "f", Columns: []string{"a"}, ReferencedTable: "o", ReferencedColumns: []string{"id"},
				OnDelete: "set default", OnUpdate: "Restrict",
			}},
			&AlterColumn{Table: "t", Column: "c"},
			&CreateTable{Name: "_Strata_t", Columns: []Column{{Name: "id", Type: "INT"}}, PrimaryKey: []string{"id"}},
		},
	}
	err := m.Validate("public")
	want := strings.Join([]string{
		`built: actions[2].changes: must not be empty: give at least one of name, type, nullable, default, comment`,
		`built: actions[3].name: "_Strata_t" starts with _strata: names starting with _strata are reserved for strata's own objects`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("Validate = %v\nwant %s", err, want)
	}
	m.Actions = nil
	if err := m.Validate("public"); err == nil || err.Error() != "built: actions: must not be empty: a migration needs at least one action" {
		t.Fatalf("Validate = %v", err)
	}
}

// TestVersionSchemaFor: the version_schema key wins; else the style names
// the schema; in Reshape's style the length check is of migration_<name>,
// and a key naming the managed or state schema is refused.
func TestVersionSchemaFor(t *testing.T) {
	long := strings.Repeat("a", 63-len(ReshapePrefix))
	tests := []struct {
		name, src string
		opts      ValidateOptions
		want      string // the version schema
		wantErr   string
	}{
		{name: "strata style", src: action("t"), opts: ValidateOptions{Schema: "app"}, want: "app_x"},
		{name: "reshape style", src: action("t"), opts: ValidateOptions{Schema: "app", Style: StyleReshape}, want: "migration_x"},
		{name: "key wins over strata style", src: "version_schema = \"v2\"\n" + action("t"), opts: ValidateOptions{Schema: "app"}, want: "v2"},
		{name: "key wins over reshape style", src: "version_schema = \"v2\"\n" + action("t"), opts: ValidateOptions{Schema: "app", Style: StyleReshape}, want: "v2"},
		{name: "reshape 63 bytes fits", src: "name = \"" + long + "\"\n" + action("t"), opts: ValidateOptions{Schema: "a_long_schema_name", Style: StyleReshape},
			want: "migration_" + long},
		{name: "reshape 64 bytes", src: "name = \"" + long + "a\"\n" + action("t"), opts: ValidateOptions{Schema: "s", Style: StyleReshape},
			want:    "migration_" + long + "a",
			wantErr: `m/x.toml:1: name: version schema name "migration_` + long + `a" is 64 bytes; PostgreSQL allows at most 63: shorten the migration name`},
		{name: "key is the managed schema", src: "version_schema = \"app\"\n" + action("t"), opts: ValidateOptions{Schema: "app", StateSchema: "strata"},
			want: "app", wantErr: `m/x.toml:1: version_schema: "app" is the managed schema; a version schema must be a schema of its own`},
		{name: "key is the state schema", src: "version_schema = \"strata\"\n" + action("t"), opts: ValidateOptions{Schema: "app", StateSchema: "strata"},
			want: "strata", wantErr: `m/x.toml:1: version_schema: "strata" is strata's state schema; a version schema must be a schema of its own`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, "m/x.toml", tt.src)
			if got := VersionSchemaFor(m, tt.opts.Schema, tt.opts.Style); got != tt.want {
				t.Errorf("VersionSchemaFor = %q, want %q", got, tt.want)
			}
			err := m.ValidateWith(tt.opts)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("ValidateWith = %q\nwant %q", got, tt.wantErr)
			}
		})
	}
}
