package pgquery

import (
	"errors"
	"strings"
	"testing"
)

func TestDeparseRoundTrip(t *testing.T) {
	for _, src := range []string{
		"CREATE UNIQUE INDEX CONCURRENTLY items_x ON public.items USING btree (lower(name), amount) INCLUDE (note) WHERE amount IS NOT NULL",
		"ALTER TABLE public.t ADD CONSTRAINT c CHECK (amount > 0) NOT VALID",
		"ALTER TABLE public.t ADD CONSTRAINT c FOREIGN KEY (a, b) REFERENCES public.u (x, y) ON DELETE CASCADE NOT VALID",
		"ALTER TABLE public.t ADD CONSTRAINT c EXCLUDE USING gist (r WITH &&) WHERE (x > 1)",
		"CREATE STATISTICS public.s (ndistinct) ON a, b FROM public.t",
		`ALTER TABLE "Public"."T" ADD CONSTRAINT "C x" CHECK ("Amount" > 0) NOT VALID`,
	} {
		n, err := ParseOne(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := Deparse(n)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got != src {
			t.Errorf("deparse:\n got %s\nwant %s", got, src)
		}
	}
}

func TestParseExpr(t *testing.T) {
	for _, ok := range []string{"a > 1", "lower(name) = 'x' -- trailing comment", "a IN (SELECT 1)", "(a)", "CASE WHEN a THEN 1 END"} {
		n, err := ParseExpr(ok)
		if err != nil {
			t.Errorf("%q: %v", ok, err)
			continue
		}
		if _, err := DeparseExpr(n); err != nil {
			t.Errorf("%q: deparse: %v", ok, err)
		}
	}
	for _, bad := range []struct{ src, want string }{
		{"a >", "column 4: syntax error at end of input"},
		{"a) OR (b", "column 2: syntax error"},
		{"1; DROP TABLE t", "not a single expression"},
		{"", "not a single expression"},
		{"1 AS x", `not a single expression: "x" follows it`},
		{"a > 1 AND", `"and" follows it`},
		{"a, b", "not a single expression"},
		{"1 FROM t", "not a single expression"},
		{"1 UNION SELECT 2", "not a single expression"},
		{"line1 +\n  )", "line 2, column 3: syntax error"},
	} {
		_, err := ParseExpr(bad.src)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseExpr(%q) = %v, want an error containing %q", bad.src, err, bad.want)
		}
	}
	_, err := ParseExpr("a +")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos.Column != 4 {
		t.Errorf("ParseExpr(\"a +\") = %v, want a *SyntaxError at column 4", err)
	}
}

func TestParseType(t *testing.T) {
	for _, ok := range []string{"numeric(12,2)", "timestamp with time zone", "text[]", `text COLLATE "C"`, "mood", `"My Type"`, "double precision"} {
		if err := ParseType(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []struct{ src, want string }{
		{"text NOT NULL", "not a column constraint"},
		{"int); DROP TABLE x; --", "syntax error"},
		{"numeric(", "syntax error"},
		{"", "syntax error"},
	} {
		err := ParseType(bad.src)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseType(%q) = %v, want an error containing %q", bad.src, err, bad.want)
		}
	}
}

func TestDeparseType(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"integer", "integer"},
		{"int[]", "integer[]"},
		{"int8", "int8"},
		{"numeric(12,2)", "numeric(12, 2)"},
		{"character varying(20)", "varchar(20)"},
		{"timestamp with time zone", "timestamp with time zone"},
		{`"Mood"`, `"Mood"`},
		{"public.mood[]", "public.mood[]"},
		{"interval", "interval"},
	} {
		n, err := ParseOne("CREATE TABLE t (c " + c.in + ")")
		if err != nil {
			t.Fatal(err)
		}
		got, err := DeparseType(n.GetCreateStmt().TableElts[0].GetColumnDef().TypeName)
		if err != nil || got != c.want {
			t.Errorf("DeparseType(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if err := ParseType(got); err != nil {
			t.Errorf("DeparseType(%s) = %q does not parse: %v", c.in, got, err)
		}
	}
}
