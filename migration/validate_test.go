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
