package foreign

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// relCol names a foreign table (col "") or one of its columns.
type relCol struct{ rel, col string }

// columnGrantsSQL renders the column-level grants on the schema's foreign
// tables, other than their owners', as GRANT statements' privilege and
// grantee parts (as grantsSQL does for the table-level ones).
const columnGrantsSQL = `
SELECT c.relname, a.attname,
       x.privilege_type || ' TO ' || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END
       || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
       aclexplode(a.attacl) x
 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'f' AND x.grantee <> c.relowner
 ORDER BY 1, a.attnum, 3`

// commentsSQL reads the comments on the schema's foreign tables (with an
// empty attname) and their columns.
const commentsSQL = `
SELECT c.relname, coalesce(a.attname, ''), d.description
  FROM pg_class c JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'f'
   AND (d.objsubid = 0 OR a.attname IS NOT NULL)
 ORDER BY 1, d.objsubid`

// kept is what the swap carries from the old foreign tables to the new ones
// beyond their owner and table-level grants.
type kept struct {
	colGrants map[relCol][]string
	comments  map[relCol]string
}

func readKept(ctx context.Context, q querier, schema string) (*kept, error) {
	k := &kept{colGrants: map[relCol][]string{}, comments: map[relCol]string{}}
	rows, err := q.Query(ctx, columnGrantsSQL, schema)
	if err != nil {
		return nil, err
	}
	var rc relCol
	var s string
	_, err = pgx.ForEachRow(rows, []any{&rc.rel, &rc.col, &s}, func() error {
		k.colGrants[rc] = append(k.colGrants[rc], s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rows, err = q.Query(ctx, commentsSQL, schema); err != nil {
		return nil, err
	}
	_, err = pgx.ForEachRow(rows, []any{&rc.rel, &rc.col, &s}, func() error {
		k.comments[rc] = s
		return nil
	})
	return k, err
}

// droppedGrants reports the column-level grants on the columns that changes
// drop: the swap cannot keep them.
func droppedGrants(ctx context.Context, q querier, schema string, changes []Change) ([]Change, error) {
	k, err := readKept(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, c := range changes {
		if c.Kind != "column dropped" {
			continue
		}
		for _, g := range k.colGrants[relCol{c.Table, c.Column}] {
			out = append(out, Change{Table: c.Table, Column: c.Column, Kind: "grant dropped", Reason: g, Severity: "breaking"})
		}
	}
	return out, nil
}

// restoreSQL gives the new foreign table t (moved into schema) the column
// grants and comments its predecessor had, on the columns it still has.
func (k *kept) restoreSQL(schema string, t Table) []string {
	q := pgquery.Qual(schema, t.Name)
	var out []string
	if c, ok := k.comments[relCol{t.Name, ""}]; ok {
		out = append(out, "COMMENT ON FOREIGN TABLE "+q+" IS "+pgquery.Literal(c))
	}
	for _, col := range t.Columns {
		rc := relCol{t.Name, col.Name}
		for _, g := range k.colGrants[rc] {
			priv, rest, _ := strings.Cut(g, " TO ")
			out = append(out, fmt.Sprintf("GRANT %s (%s) ON TABLE %s TO %s", priv, pgquery.Ident(col.Name), q, rest))
		}
		if c, ok := k.comments[rc]; ok {
			out = append(out, "COMMENT ON COLUMN "+q+"."+pgquery.Ident(col.Name)+" IS "+pgquery.Literal(c))
		}
	}
	return out
}
