// Package suggest finds the closest of a set of names to a misspelt one,
// for "did you mean" hints.
package suggest

import (
	"sort"
	"strings"
)

// Distance is the edit distance between a and b (Damerau-Levenshtein,
// optimal string alignment: insertions, deletions, substitutions and swaps
// of two neighbouring characters count one each), over runes.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// three rows: the one before the previous, the previous, the current.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Closest returns the candidate nearest to name, or "" when none is near
// enough to be a likely typo: at most 1 edit for names of up to 4
// characters, 2 up to 8, 3 beyond. Case is ignored; a tie goes to the
// candidate that sorts first. A candidate equal to name is not suggested.
func Closest(name string, candidates []string) string {
	n := strings.ToLower(name)
	limit := 1
	switch l := len([]rune(n)); {
	case l > 8:
		limit = 3
	case l > 4:
		limit = 2
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	best, bestD := "", limit+1
	for _, c := range sorted {
		if c == name {
			continue
		}
		lc := strings.ToLower(c)
		d := Distance(n, lc)
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Hint is " (did you mean "x"?)" for the closest candidate, or "".
func Hint(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return ` (did you mean "` + c + `"?)`
	}
	return ""
}
