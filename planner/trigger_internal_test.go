package planner

import "testing"

func TestRowExpr(t *testing.T) {
	view := &vTable{Name: "t", Phys: "t", Columns: []*vColumn{
		{Name: "amount", Phys: "_strata_1_amount"},
		{Name: "payload", Phys: "payload"},
		{Name: "Mixed Case", Phys: "mc"},
	}}
	cases := []struct {
		name, expr, want string
		ok               bool
	}{
		{"cast", "amount::bigint", "new._strata_1_amount::bigint", true},
		{"function", "length(payload) * 2", "length(new.payload) * 2", true},
		{"quoted name", `upper("Mixed Case")`, "upper(new.mc)", true},
		{"case", "CASE WHEN amount IS NULL THEN 0 ELSE 1 END", "CASE WHEN new._strata_1_amount IS NULL THEN 0 ELSE 1 END", true},
		{"constant", "42", "42", true},
		{"sub-select", "(SELECT max(id) FROM other WHERE other.x = amount)", "", false},
		{"qualified", "t.amount", "", false},
		{"unknown name", "nosuch + 1", "", false},
		{"upper-case name is folded", "AMOUNT", "new._strata_1_amount", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := rowExpr(fragment{Expr: c.expr, View: view})
			if ok != c.ok || got != c.want {
				t.Errorf("rowExpr(%q) = %q, %v; want %q, %v", c.expr, got, ok, c.want, c.ok)
			}
		})
	}
}
