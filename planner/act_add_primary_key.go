package planner

import (
	"context"
	"fmt"

	"github.com/stratapg/strata/migration"
)

// addPrimaryKey gives an existing table without one a primary key. Its
// columns must be NOT NULL: for each one that is not, start adds a NOT
// VALID check (col IS NOT NULL, brief ACCESS EXCLUSIVE) and validates it in
// its own transaction (SHARE UPDATE EXCLUSIVE), as for a new NOT NULL
// column; from then on both versions must write values. After the
// backfills the key's unique index is built CONCURRENTLY. Complete turns
// the checks into SET NOT NULL (no scan: the validated check proves it)
// and attaches the index as the primary key (ADD CONSTRAINT ... PRIMARY KEY
// USING INDEX, brief ACCESS EXCLUSIVE, no scan). Abort drops the index
// CONCURRENTLY and the checks.
func (p *planner) addPrimaryKey(ctx context.Context, a *migration.AddPrimaryKey) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	pk := a.PrimaryKey
	if t.Created {
		return p.errf(".table", "table %q is created in this phase with its primary key; give it there", t.Name)
	}
	for _, o := range p.objs.pending {
		if o.Kind == kPKey && o.Schema == p.schema && o.Table == t.Phys && o.Carried == nil {
			return p.errf(".table", "table %q already gets the primary key %q in this phase", t.Name, o.Name)
		}
	}
	have, err := p.pr.PrimaryKey(ctx, p.schema, t.Phys)
	if err != nil {
		return fmt.Errorf("look up the primary key of %s: %w", t.Phys, err)
	}
	if have != "" {
		return p.errf(".table", "table %q already has the primary key %q", t.Name, have)
	}
	if err := p.freeIndexName(ctx, ".primary_key.name", t, pk.Name); err != nil {
		return err
	}
	cols, err := p.columnsOf(".primary_key.columns", t, pk.Columns)
	if err != nil {
		return err
	}
	sql := "CREATE UNIQUE INDEX CONCURRENTLY " + ident(pk.Name) + " ON " + qual(p.schema, t.Phys) + " USING btree (" +
		identList(pk.Columns) + ")" + indexTail(pk.Include, false, pk.StorageParameters)
	stmt, err := p.parseStmt(".primary_key", sql)
	if err != nil {
		return err
	}
	if err := p.toPhysical(".primary_key.columns", stmt, t); err != nil {
		return err
	}
	for _, c := range cols {
		if c.NotNull {
			continue
		}
		p.objs.pkNotNull = append(p.objs.pkNotNull, notNull{t.Phys, c.Phys, internalName("_strata_nn_", c.Phys), c.Name})
		c.NotNull = true
	}
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kPKey, Schema: p.schema, Table: t.Phys, Name: pk.Name, Temp: pk.Name,
		Stmt: stmt, Mig: p.mig, Idx: p.idx, Key: ".primary_key"})
	return nil
}
