package planner

import (
	"context"

	"github.com/stratapg/strata/migration"
)

// serialColumn turns a column of a serial type (serial, bigserial,
// smallserial) into what PostgreSQL makes of it: a NOT NULL column of the
// integer type whose default is the next value of a sequence the column
// owns. The sequence is named <table>_<column>_seq, or with a number after
// it when that name is taken, as PostgreSQL names it. pre creates the
// sequence (before the column; safe to re-run), seq is its quoted,
// qualified name for ownedBy (after the column). c is changed in place;
// nothing is returned for other types.
func (p *planner) serialColumn(ctx context.Context, table string, c *migration.Column) (pre []string, seq string, err error) {
	base, ok := migration.SerialType(c.Type)
	if !ok {
		return nil, "", nil
	}
	name, err := p.freeSeqName(ctx, table+"_"+c.Name+"_seq")
	if err != nil {
		return nil, "", err
	}
	p.claimSeq(name)
	sq := qual(p.schema, name)
	def := "nextval(" + literal(sq) + "::regclass)"
	c.Type, c.Default, c.Nullable = base, &def, false
	return []string{"CREATE SEQUENCE IF NOT EXISTS " + sq + " AS " + base}, sq, nil
}

// ownedBy makes the column col (physical) of table own the sequence seq,
// so that dropping the column or the table drops it: safe to re-run.
func (p *planner) ownedBy(seq, table, col string) []string {
	if seq == "" {
		return nil
	}
	return []string{"ALTER SEQUENCE " + seq + " OWNED BY " + qual(p.schema, table) + "." + ident(col)}
}
