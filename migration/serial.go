package migration

import "strings"

// SerialType reports whether typ is one of PostgreSQL's serial pseudo-types
// (serial, serial4, bigserial, serial8, smallserial, serial2, any case) and
// the integer type it stands for. A serial column is, as in PostgreSQL, a
// NOT NULL column of that type whose default takes the next value of a
// sequence the column owns.
func SerialType(typ string) (base string, ok bool) {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "serial", "serial4":
		return "integer", true
	case "bigserial", "serial8":
		return "bigint", true
	case "smallserial", "serial2":
		return "smallint", true
	}
	return "", false
}
