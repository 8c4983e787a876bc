// Package natural orders strings in natural order, numbers by value: the
// order of migration names. It is a leaf package, so that both migration
// (which loads files) and state (which lists history) can use it.
package natural

import "strings"

// Less reports whether a sorts before b in natural order: runs of ASCII
// digits compare as numbers ("2_x" < "10_x", "007" == "7"), everything else
// byte by byte. Strings that are equal in natural order (e.g. "01_a" and
// "1_a") are ordered by plain string comparison, so Less is a strict total
// order.
func Less(a, b string) bool {
	if c := compare(a, b); c != 0 {
		return c < 0
	}
	return a < b
}

func compare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := i, j
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
			na := strings.TrimLeft(a[i:ei], "0")
			nb := strings.TrimLeft(b[j:ej], "0")
			if len(na) != len(nb) {
				if len(na) < len(nb) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			if a[i] < b[j] {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case len(a)-i < len(b)-j:
		return -1
	case len(a)-i > len(b)-j:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
