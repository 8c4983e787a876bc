package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/migration"
)

// addIndex builds an index at start, after the backfills, with CREATE INDEX
// CONCURRENTLY outside a transaction: reads and writes of both versions go
// on while it is built. Columns (with their operator class, collation and
// order), expressions, INCLUDE and WHERE name the
// columns as the new version does; they are mapped to the physical columns,
// so an index on a column this phase replaces is built on the replacing
// column. A build that fails leaves no INVALID index behind (see
// buildIndex). Complete has nothing to do; abort drops the index
// CONCURRENTLY.
func (p *planner) addIndex(ctx context.Context, a *migration.AddIndex) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	x := a.Index
	if taken, err := p.relationExists(ctx, x.Name); err != nil {
		return err
	} else if taken {
		return p.errf(".index.name", "a relation named %q already exists in schema %q", x.Name, p.schema)
	}
	method := strings.ToLower(x.Method)
	if method == "" {
		method = "btree"
	}
	if x.NullsNotDistinct {
		if err := p.needPG15(".index.nulls_not_distinct", "nulls_not_distinct"); err != nil {
			return err
		}
	}
	var cols []string
	for _, c := range x.Columns {
		cols = append(cols, indexColumnSQL(c))
	}
	sql := "CREATE "
	if x.Unique {
		sql += "UNIQUE "
	}
	sql += "INDEX CONCURRENTLY " + ident(x.Name) + " ON " + qual(p.schema, t.Phys) + " USING " + method + " (" + strings.Join(cols, ", ") + ")"
	sql += indexTail(x.Include, x.NullsNotDistinct, x.StorageParameters)
	if x.Where != "" {
		sql += " WHERE (" + x.Where + "\n)"
	}
	stmt, err := p.parseStmt(".index", sql)
	if err != nil {
		return err
	}
	if err := p.toPhysical(".index", stmt, t); err != nil {
		return err
	}
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kIndex, Schema: p.schema, Table: t.Phys, Name: x.Name, Temp: x.Name,
		Stmt: stmt, Mig: p.mig, Idx: p.idx, Key: ".index"})
	return nil
}

func (p *planner) catalogIndex(ctx context.Context, name string) (*IndexInfo, error) {
	ix, err := p.pr.Index(ctx, p.schema, name)
	if err != nil {
		return nil, fmt.Errorf("look up index %s: %w", name, err)
	}
	return ix, nil
}
