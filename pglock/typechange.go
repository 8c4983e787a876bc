package pglock

import (
	"fmt"

	"github.com/stratapg/strata/internal/pgquery"
)

// precisionTypes accept a precision or length modifier whose increase (or
// removal) PostgreSQL's planner support functions turn into a no-op: the
// varchar_support, varbit_support, numeric_support, timestamp_support,
// time_support and interval_support functions.
var precisionTypes = map[string]bool{
	"varchar": true, "varbit": true, "numeric": true,
	"timestamp": true, "timestamptz": true, "time": true, "timetz": true, "interval": true,
}

// widens reports whether changing the modifiers of a precisionTypes type from
// old to nw leaves every stored value as it is.
func widens(base string, old, nw []int) bool {
	if len(nw) == 0 {
		return true // removing the limit
	}
	if len(old) == 0 {
		return false // adding a limit
	}
	switch base {
	case "numeric":
		op, os := old[0], 0
		if len(old) > 1 {
			os = old[1]
		}
		np, ns := nw[0], 0
		if len(nw) > 1 {
			ns = nw[1]
		}
		return ns == os && np >= op
	case "interval":
		// interval(p) is written as [full range, p]; a field restriction such
		// as YEAR TO MONTH changes values.
		if len(old) != len(nw) || old[0] != nw[0] {
			return false
		}
		if len(old) == 1 {
			return true
		}
		return nw[1] >= old[1]
	default:
		return nw[0] >= old[0]
	}
}

// utcZones are time zone names with a fixed zero UTC offset.
var utcZones = map[string]bool{
	"utc": true, "etc/utc": true, "gmt": true, "etc/gmt": true, "uct": true, "etc/uct": true,
	"universal": true, "etc/universal": true, "zulu": true, "etc/zulu": true, "z": true,
	"gmt0": true, "etc/gmt0": true, "etc/gmt+0": true, "etc/gmt-0": true, "greenwich": true,
	"etc/greenwich": true, "0": true, "+00:00": true, "00:00": true, "+0": true, "-0": true,
}

// typeChangeRewrites reports whether changing a column's type from old to nw
// makes PostgreSQL rewrite the table, with the reason when it does. The
// allow-list follows ATColumnChangeRequiresRewrite: binary-coercible casts
// (pg_cast.castmethod = 'b'), length and precision increases that a planner
// support function proves to be no-ops, and timestamp <-> timestamptz when
// the session time zone is UTC (PostgreSQL 12 and later).
func typeChangeRewrites(old, nw *pgquery.TypeName, pgVersion int, utc bool) (bool, string) {
	ob, nb := pgquery.CanonicalType(old), pgquery.CanonicalType(nw)
	om, ok1 := pgquery.TypeMods(old)
	nm, ok2 := pgquery.TypeMods(nw)
	if !ok1 || !ok2 {
		return true, "the type modifiers are not constants"
	}
	if len(old.ArrayBounds) > 0 || len(nw.ArrayBounds) > 0 {
		if len(old.ArrayBounds) > 0 && len(nw.ArrayBounds) > 0 && ob == nb && equalInts(om, nm) {
			return false, ""
		}
		return true, "array element conversions always rewrite"
	}
	from, to := pgquery.TypeString(old), pgquery.TypeString(nw)
	if ob == nb {
		if equalInts(om, nm) {
			return false, ""
		}
		if precisionTypes[ob] && widens(ob, om, nm) {
			return false, ""
		}
		return true, fmt.Sprintf("%s to %s changes or checks every stored value", from, to)
	}
	unconstrained := len(nm) == 0
	switch {
	case ob == "varchar" && (nb == "text" || nb == "citext"),
		ob == "text" && nb == "citext",
		ob == "citext" && nb == "text",
		(ob == "text" || ob == "citext") && nb == "varchar" && unconstrained,
		(ob == "text" || ob == "varchar" || ob == "citext") && nb == "bpchar" && unconstrained,
		ob == "cidr" && nb == "inet",
		ob == "bit" && nb == "varbit" && unconstrained,
		ob == "xml" && (nb == "text" || (nb == "varchar" || nb == "bpchar") && unconstrained):
		return false, ""
	case (ob == "timestamp" && nb == "timestamptz") || (ob == "timestamptz" && nb == "timestamp"):
		if pgVersion < 12 {
			return true, fmt.Sprintf("%s to %s rewrites before PostgreSQL 12", from, to)
		}
		if !utc {
			return true, fmt.Sprintf("%s to %s rewrites unless the session TimeZone is UTC (SET TIME ZONE 'UTC' earlier in the file)", from, to)
		}
		if !equalInts(om, nm) && !widens("timestamp", om, nm) {
			return true, fmt.Sprintf("%s to %s reduces the precision", from, to)
		}
		return false, ""
	}
	return true, fmt.Sprintf("%s is not binary coercible to %s", from, to)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// usingIsIdentity reports whether a USING expression leaves the column as it
// is: the column itself, or the column cast to the new type.
func usingIsIdentity(expr *pgquery.Node, column string, nw *pgquery.TypeName) bool {
	if expr == nil {
		return true
	}
	if name, ok := pgquery.ColumnRefName(expr); ok {
		return name == column
	}
	if tc := expr.GetTypeCast(); tc != nil {
		if name, ok := pgquery.ColumnRefName(tc.Arg); ok && name == column {
			cm, ok1 := pgquery.TypeMods(tc.TypeName)
			nm, ok2 := pgquery.TypeMods(nw)
			return ok1 && ok2 && pgquery.CanonicalType(tc.TypeName) == pgquery.CanonicalType(nw) && equalInts(cm, nm) &&
				len(tc.TypeName.ArrayBounds) == len(nw.ArrayBounds)
		}
	}
	return false
}

// AlterTypeRewrites tells whether cmd, an ALTER COLUMN TYPE subcommand of an
// ALTER TABLE on table, rewrites the table, knowing the column's current type
// when the state does; the reason explains a rewrite, or tells that the
// current type is unknown.
func (st *State) AlterTypeRewrites(table string, cmd *pgquery.AlterTableCmd) (bool, string) {
	cd := cmd.Def.GetColumnDef()
	if cd == nil || cd.TypeName == nil {
		return true, "the new type is unknown"
	}
	if !usingIsIdentity(cd.RawDefault, cmd.Name, cd.TypeName) {
		return true, "the USING expression computes a new value for every row"
	}
	old := st.cat.get(table, cmd.Name)
	if old == nil {
		return true, "the column's current type is unknown; only a binary-coercible change avoids the rewrite"
	}
	return typeChangeRewrites(old, cd.TypeName, st.cfg.PGVersion, st.utc())
}
