package migration

import "github.com/stratapg/strata/internal/natural"

// NaturalLess reports whether a sorts before b in natural order: runs of ASCII
// digits compare as numbers ("2_x" < "10_x", "007" == "7"), everything else
// byte by byte. Strings that are equal in natural order (e.g. "01_a" and
// "1_a") are ordered by plain string comparison, so NaturalLess is a strict
// total order. It is natural.Less.
func NaturalLess(a, b string) bool { return natural.Less(a, b) }

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
