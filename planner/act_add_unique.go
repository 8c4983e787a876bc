package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// addUnique adds a unique constraint to an existing table. Start builds its
// index with CREATE UNIQUE INDEX CONCURRENTLY, after the backfills (SHARE
// UPDATE EXCLUSIVE: both versions read and write on); from then on it
// applies to the writes of both versions. Complete attaches the index as
// the constraint (ADD CONSTRAINT ... UNIQUE USING INDEX, brief ACCESS
// EXCLUSIVE, no scan), DEFERRABLE if asked; so ON CONFLICT (columns) works
// from start and ON CONFLICT ON CONSTRAINT from complete. Abort drops the
// index CONCURRENTLY. A duplicate makes start undo itself, naming the key.
func (p *planner) addUnique(ctx context.Context, a *migration.AddUnique) error {
	t, err := p.table(".table", a.Table)
	if err != nil {
		return err
	}
	u := a.Unique
	if err := p.freeIndexName(ctx, ".unique.name", t, u.Name); err != nil {
		return err
	}
	if u.NullsNotDistinct {
		if err := p.needPG15(".unique.nulls_not_distinct", "nulls_not_distinct"); err != nil {
			return err
		}
	}
	sql := "CREATE UNIQUE INDEX CONCURRENTLY " + ident(u.Name) + " ON " + qual(p.schema, t.Phys) + " USING btree (" +
		identList(u.Columns) + ")" + indexTail(u.Include, u.NullsNotDistinct, u.StorageParameters)
	stmt, err := p.parseStmt(".unique", sql)
	if err != nil {
		return err
	}
	if err := p.toPhysical(".unique.columns", stmt, t); err != nil {
		return err
	}
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kUnique, Schema: p.schema, Table: t.Phys, Name: u.Name, Temp: u.Name,
		Stmt: stmt, Mig: p.mig, Idx: p.idx, Key: ".unique", Deferrable: u.Deferrable, Deferred: u.InitiallyDeferred})
	return nil
}

// freeIndexName checks that name is free both as a relation of the schema
// (the index) and as a constraint of t.
func (p *planner) freeIndexName(ctx context.Context, key string, t *vTable, name string) error {
	if taken, err := p.relationExists(ctx, name); err != nil {
		return err
	} else if taken {
		return p.errf(key, "a relation named %q already exists in schema %q", name, p.schema)
	}
	return p.freeConstraint(ctx, key, t, name)
}

// columnsOf checks that t has the columns names (as the new version names
// them), reporting the first missing one at key[i].
func (p *planner) columnsOf(key string, t *vTable, names []string) ([]*vColumn, error) {
	var out []*vColumn
	for i, n := range names {
		c := t.col(n)
		if c == nil {
			return nil, p.errf(key+"["+itoa(i)+"]", "column %q does not exist in table %q%s", n, t.Name, t.colHint(n))
		}
		out = append(out, c)
	}
	return out, nil
}
