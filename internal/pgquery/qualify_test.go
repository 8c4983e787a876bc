package pgquery

import "testing"

func TestQualifyColumns(t *testing.T) {
	tests := []struct{ in, want string }{
		{"id", "users.id"},
		{"COALESCE(name, email)", "COALESCE(users.name, users.email)"},
		{"users.id", "users.id"},
		{`"Mixed Case"`, `users."Mixed Case"`},
		{"lower(a) || (SELECT max(x) FROM t)", "lower(users.a) || (SELECT max(x) FROM t)"},
		{"data->>'name'", "users.data ->> 'name'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := QualifyColumns(tt.in, "users")
			if err != nil || got != tt.want {
				t.Errorf("QualifyColumns(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := QualifyColumns("a +", "users"); err == nil {
		t.Error("QualifyColumns of a syntax error: no error")
	}
}

func TestRenameExprColumns(t *testing.T) {
	tests := []struct {
		in, want string
		n        int
	}{
		{"price / 100", "price_cents / 100", 1},
		{"products.price::numeric / 100", "price_cents::numeric / 100", 1},
		{"coalesce(price, other)", "COALESCE(price_cents, other)", 1},
		{"other + 1", "other + 1", 0},
	}
	for _, tt := range tests {
		got, n, err := RenameExprColumns(tt.in, "products", map[string]string{"price": "price_cents"})
		if err != nil || got != tt.want || n != tt.n {
			t.Errorf("RenameExprColumns(%q) = %q, %d, %v; want %q, %d", tt.in, got, n, err, tt.want, tt.n)
		}
	}
}
