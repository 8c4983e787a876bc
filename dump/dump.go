// Package dump writes the structure of a managed schema as SQL that
// recreates it, in dependency order, followed by the applied migrations:
// strata's structure.sql. The same structure always gives the same bytes.
package dump

import (
	"strings"

	"github.com/stratapg/strata/catalog"
)

// Text renders s and the names of the applied migrations.
func Text(s *catalog.Schema, applied []string) string {
	var b strings.Builder
	b.WriteString("-- Structure of schema " + s.Name + ", written by strata dump (strata's state and version schemas are left out).\n\n")
	b.WriteString("SET check_function_bodies = false;\n")
	Body(&b, s.Objects)
	b.WriteString("\n-- Applied migrations:\n")
	if len(applied) == 0 {
		b.WriteString("-- (none)\n")
	}
	for _, a := range applied {
		b.WriteString("-- " + a + "\n")
	}
	return b.String()
}

// Body writes the statements that create objs, in their order, then the
// statements that wait for all of them.
func Body(b *strings.Builder, objs []*catalog.Object) {
	for _, o := range objs {
		if o.InTable {
			continue
		}
		b.WriteString("\n" + o.Create)
	}
	first := true
	for _, o := range objs {
		if o.Later == "" {
			continue
		}
		if first {
			b.WriteString("\n")
			first = false
		}
		b.WriteString(o.Later)
	}
}
