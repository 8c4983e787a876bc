package migration

import (
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// DefaultForeignKeyName is the name add_foreign_key gives a foreign key
// written without one (as Reshape's files do): PostgreSQL's own default,
// {table}_{columns joined by _}_fkey, shortened with a hash when it would
// exceed 63 bytes.
func DefaultForeignKeyName(table string, columns []string) string {
	return pgquery.InternalName("", table+"_"+strings.Join(columns, "_")+"_fkey")
}
