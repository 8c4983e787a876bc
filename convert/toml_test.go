package convert

import (
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

func TestDocRoundTrips(t *testing.T) {
	col := NewTable().Set("name", "id").Set("type", "bigint").Set("nullable", false)
	act := NewTable().Set("type", "create_table").Set("name", `odd "name"`).
		Set("columns", []*Table{col}).Set("primary_key", []string{"id"})
	sqlAct := NewTable().Set("type", "custom").Set("start", "SELECT 'x';\nSELECT 1;\n").Set("abort", "SELECT '''")
	d := &Doc{Comments: []string{"converted", "warning: x"}, Top: NewTable().Set("name", "m1"), Actions: []*Table{act, sqlAct}}
	var got map[string]any
	if _, err := toml.Decode(string(d.Bytes()), &got); err != nil {
		t.Fatalf("decode: %v\n%s", err, d.Bytes())
	}
	want := map[string]any{
		"name": "m1",
		"actions": []map[string]any{
			{"type": "create_table", "name": `odd "name"`, "primary_key": []any{"id"},
				"columns": []map[string]any{{"name": "id", "type": "bigint", "nullable": false}}},
			{"type": "custom", "start": "SELECT 'x';\nSELECT 1;\n", "abort": "SELECT '''"},
		},
	}
	// BurntSushi decodes arrays of inline tables as []map[string]any.
	if diff := cmp.Diff(normalize(want), normalize(got)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s\n%s", diff, d.Bytes())
	}
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}
