package pglock

import (
	"fmt"
	"strings"
)

// LockMode is a PostgreSQL table-level lock mode. The values are ordered by
// strength as in PostgreSQL's lock.h: a greater mode conflicts with at least
// the modes a smaller one conflicts with.
type LockMode int

// The table-level lock modes, weakest first.
const (
	NoLock LockMode = iota
	AccessShare
	RowShare
	RowExclusive
	ShareUpdateExclusive
	Share
	ShareRowExclusive
	Exclusive
	AccessExclusive
)

var lockModeNames = [...]string{
	NoLock:               "NONE",
	AccessShare:          "ACCESS SHARE",
	RowShare:             "ROW SHARE",
	RowExclusive:         "ROW EXCLUSIVE",
	ShareUpdateExclusive: "SHARE UPDATE EXCLUSIVE",
	Share:                "SHARE",
	ShareRowExclusive:    "SHARE ROW EXCLUSIVE",
	Exclusive:            "EXCLUSIVE",
	AccessExclusive:      "ACCESS EXCLUSIVE",
}

// conflicts[m] is the set of modes m conflicts with, as a bit mask over
// LockMode values (PostgreSQL's LockConflicts table).
var conflicts = [...]uint16{
	NoLock:               0,
	AccessShare:          1 << AccessExclusive,
	RowShare:             1<<Exclusive | 1<<AccessExclusive,
	RowExclusive:         1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	ShareUpdateExclusive: 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	Share:                1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	ShareRowExclusive:    1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	Exclusive:            1<<RowShare | 1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
	AccessExclusive:      1<<AccessShare | 1<<RowShare | 1<<RowExclusive | 1<<ShareUpdateExclusive | 1<<Share | 1<<ShareRowExclusive | 1<<Exclusive | 1<<AccessExclusive,
}

// String returns the mode as the documentation and LOCK TABLE spell it,
// e.g. "ACCESS EXCLUSIVE".
func (m LockMode) String() string {
	if m < 0 || int(m) >= len(lockModeNames) {
		return fmt.Sprintf("LockMode(%d)", int(m))
	}
	return lockModeNames[m]
}

// PGLocksName returns the mode as pg_locks.mode shows it, e.g.
// "AccessExclusiveLock".
func (m LockMode) PGLocksName() string {
	if m <= NoLock || int(m) >= len(lockModeNames) {
		return ""
	}
	var b strings.Builder
	for _, w := range strings.Fields(lockModeNames[m]) {
		b.WriteString(w[:1])
		b.WriteString(strings.ToLower(w[1:]))
	}
	b.WriteString("Lock")
	return b.String()
}

// ParseLockMode accepts a mode as String or PGLocksName spell it.
func ParseLockMode(s string) (LockMode, bool) {
	for m := AccessShare; m <= AccessExclusive; m++ {
		if strings.EqualFold(s, m.String()) || s == m.PGLocksName() {
			return m, true
		}
	}
	return NoLock, false
}

// Conflicts reports whether m and o cannot be held on the same relation by
// two transactions at once.
func (m LockMode) Conflicts(o LockMode) bool {
	if m < 0 || int(m) >= len(conflicts) || o < 0 || o > AccessExclusive {
		return false
	}
	return conflicts[m]&(1<<o) != 0
}

// BlocksReads reports whether m conflicts with the ACCESS SHARE lock of
// plain SELECTs.
func (m LockMode) BlocksReads() bool { return m.Conflicts(AccessShare) }

// BlocksWrites reports whether m conflicts with the ROW EXCLUSIVE lock of
// INSERT, UPDATE and DELETE.
func (m LockMode) BlocksWrites() bool { return m.Conflicts(RowExclusive) }

// MarshalText encodes the mode as String does.
func (m LockMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText decodes what MarshalText or PGLocksName produce.
func (m *LockMode) UnmarshalText(b []byte) error {
	v, ok := ParseLockMode(string(b))
	if !ok {
		return errorf("unknown lock mode %q", b)
	}
	*m = v
	return nil
}

// Lock is one relation-level lock a statement takes.
type Lock struct {
	// Relation is the relation's name as written in the statement,
	// schema-qualified if it was.
	Relation string `json:"relation"`
	// Mode is the strongest mode the statement takes on Relation.
	Mode LockMode `json:"mode"`
	// Rewrite is true when the statement rewrites the relation (a new copy
	// of every row, and of its indexes) while holding the lock.
	Rewrite bool `json:"rewrite"`
	// Scan is true when the statement reads the whole relation while holding
	// the lock (to validate a constraint, build an index, ...). A rewrite
	// implies a scan but only Rewrite is set then.
	Scan bool `json:"scan"`
}

// CatalogOnly reports whether the lock is held only for a catalog change:
// no rewrite and no scan, so it is brief once granted.
func (l Lock) CatalogOnly() bool { return !l.Rewrite && !l.Scan }

// Effect describes what the statement does to the relation under the lock:
// "rewrite", "scan" or "catalog".
func (l Lock) Effect() string {
	switch {
	case l.Rewrite:
		return "rewrite"
	case l.Scan:
		return "scan"
	default:
		return "catalog"
	}
}
