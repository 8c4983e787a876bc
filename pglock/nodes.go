package pglock

import "strings"

// relKey normalises a relation name for lookups: the public schema is
// implied, so "public.t" and "t" are the same relation.
func relKey(name string) string {
	return strings.TrimPrefix(name, "public.")
}
