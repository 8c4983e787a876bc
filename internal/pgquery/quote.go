package pgquery

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Ident quotes one identifier.
func Ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// Qual quotes a schema-qualified name.
func Qual(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// IdentList quotes identifiers and joins them with ", ".
func IdentList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Ident(n)
	}
	return strings.Join(out, ", ")
}

// Literal quotes a string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// InternalName derives a name for one of strata's own objects that fits
// PostgreSQL's 63-byte limit: prefix + name, shortened with a hash when long.
func InternalName(prefix, name string) string {
	full := prefix + name
	if len(full) <= 63 {
		return full
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:8]
	keep := 63 - len(prefix) - len(h) - 1
	cut := name[:keep]
	// Do not split a multi-byte character.
	for len(cut) > 0 && !utf8Start(name, len(cut)) {
		cut = cut[:len(cut)-1]
	}
	return prefix + cut + "_" + h
}

// HashedName derives a name for one of strata's own objects that lives in a
// namespace shared by several owners (a function in the state schema): prefix
// + readable, cut to fit 63 bytes, + "_" + the first 12 hex digits of the
// SHA-256 of key. key should be the quoted identity of what the object
// serves (schema, table and migration), so that two different owners never
// map to one name even when their readable parts are equal ("s_x"."t" and
// "s"."x_t" both read s_x_t).
func HashedName(prefix, readable, key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])[:12]
	keep := 63 - len(prefix) - len(h) - 1
	cut := readable
	if len(cut) > keep {
		cut = cut[:keep]
		for len(cut) > 0 && !utf8Start(readable, len(cut)) {
			cut = cut[:len(cut)-1]
		}
	}
	return prefix + cut + "_" + h
}

func utf8Start(s string, i int) bool {
	return i >= len(s) || s[i]&0xC0 != 0x80
}

// ObjectName is the name PostgreSQL gives an unnamed constraint or index
// (its makeObjectName): name1_name2_label, where name1 and name2 are
// shortened (the longer one first, a byte at a time, never splitting a
// character) until it fits 63 bytes. PostgreSQL appends a number to the
// label when the name is taken; ObjectName does not.
func ObjectName(name1, name2, label string) string {
	n1, n2 := len(name1), len(name2)
	overhead := len(label) + 1
	if name2 != "" {
		overhead++
	}
	for n1+n2+overhead > 63 {
		if n1 > n2 {
			n1--
		} else {
			n2--
		}
	}
	// pg_mbcliplen: cut back to the start of a character.
	for n1 > 0 && !utf8Start(name1, n1) {
		n1--
	}
	for n2 > 0 && !utf8Start(name2, n2) {
		n2--
	}
	out := name1[:n1]
	if name2 != "" {
		out += "_" + name2[:n2]
	}
	return out + "_" + label
}
