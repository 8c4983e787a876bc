package lint

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type short struct {
	Line int
	Code string
}

func shorten(findings []Finding) []short {
	out := []short{}
	for _, f := range findings {
		out = append(out, short{f.Line, f.Code})
	}
	return out
}

func TestSuppression(t *testing.T) {
	src := `SET lock_timeout = '2s';
-- strata:ignore SA018 the column is unused since v2.3
ALTER TABLE users DROP COLUMN legacy;
ALTER TABLE users DROP COLUMN other; -- strata:ignore SA018, SA020 unused since v2.3
-- strata:ignore SA019
DROP TABLE old_users;
/* strata:ignore SA001 nothing to suppress here */
ALTER TABLE users ADD COLUMN note text;
-- strata:ignore SA404 no such rule
ALTER TABLE users
  DROP COLUMN third, -- strata:ignore dropping-column unused since v2.3
  ALTER COLUMN email DROP NOT NULL;
`
	got, err := LintSQL("m.sql", []byte(src), Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := []short{
		{4, "SA902"}, // SA020 named on line 4 suppresses nothing
		{5, "SA901"}, // no reason: not a suppression
		{6, "SA019"}, // so the finding stays
		{7, "SA902"}, // nothing to suppress
		{9, "SA901"}, // unknown rule
		{10, "SA020"},
	}
	if diff := cmp.Diff(want, shorten(got)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, f := range got {
		if f.Code == "SA901" && f.Line == 5 && f.Message != `suppression of SA019 gives no reason: write strata:ignore SA019 <why this is safe here>` {
			t.Errorf("missing-reason message = %q", f.Message)
		}
	}
}

func TestSuppressionMetaRulesCanBeDisabled(t *testing.T) {
	src := "-- strata:ignore SA001 nothing to suppress\nSELECT 1;\n-- strata:ignore SA001\nSELECT 2;\n"
	got, err := LintSQL("m.sql", []byte(src), Config{Disable: []string{"meta"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("findings with meta disabled: %v", shorten(got))
	}
}
