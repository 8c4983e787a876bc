package pglock

import "github.com/stratapg/strata/internal/pgquery"

// ColumnEffect is what adding a column does to the table's rows.
type ColumnEffect struct {
	// Rewrite is set when every existing row is rewritten.
	Rewrite bool
	// Scan is set when every existing row is read (to check a constraint)
	// without a rewrite.
	Scan bool
	// Why explains a rewrite.
	Why string
	// Kind is what makes a rewrite: "default", "identity", "serial" or
	// "generated".
	Kind string
}

// AddColumnEffect tells whether ADD COLUMN cd rewrites or scans the table on
// PostgreSQL pgVersion.
func AddColumnEffect(cd *pgquery.ColumnDef, pgVersion int) ColumnEffect {
	var e ColumnEffect
	base := pgquery.TypeBase(cd.TypeName)
	_, serial := pgquery.SerialType(base)
	switch {
	case serial && len(cd.TypeName.ArrayBounds) == 0:
		e.Rewrite, e.Kind, e.Why = true, "serial", base+" fills every existing row from a sequence"
	case cd.Identity != "" || len(pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_IDENTITY)) > 0:
		e.Rewrite, e.Kind, e.Why = true, "identity", "an identity column fills every existing row from a sequence"
	case len(pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_GENERATED)) > 0:
		e.Rewrite, e.Kind, e.Why = true, "generated", "a stored generated column is computed and written for every existing row"
	default:
		if def := pgquery.ColumnDefault(cd); def != nil && !pgquery.IsNullConst(def) {
			if pgVersion < 11 {
				e.Rewrite, e.Kind, e.Why = true, "default", "before PostgreSQL 11 any non-null default is written into every existing row"
			} else if fn, volatile := volatileCall(def); volatile {
				e.Rewrite, e.Kind = true, "default"
				e.Why = "the default calls " + fn + "(), which is volatile (or not known to be stable), so it is evaluated and written for every existing row"
			}
		}
	}
	if e.Rewrite {
		return e
	}
	hasDefault := pgquery.ColumnDefault(cd) != nil && !pgquery.IsNullConst(pgquery.ColumnDefault(cd))
	for _, n := range cd.Constraints {
		c := n.GetConstraint()
		if c == nil {
			continue
		}
		switch c.Contype {
		case pgquery.ConstrType_CONSTR_CHECK, pgquery.ConstrType_CONSTR_PRIMARY, pgquery.ConstrType_CONSTR_UNIQUE,
			pgquery.ConstrType_CONSTR_EXCLUSION, pgquery.ConstrType_CONSTR_FOREIGN:
			e.Scan = true
		case pgquery.ConstrType_CONSTR_NOTNULL:
			if !hasDefault {
				e.Scan = true
			}
		}
	}
	return e
}
