package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// Column replacement that loses nothing.
//
// When alter_column replaces a column with a shadow column (a type or
// nullability change), everything that depends on the column is found
// through pg_depend and carried to the shadow column, which becomes the
// column at complete:
//
//   - indexes (partial and expression ones too): rebuilt CONCURRENTLY on the
//     shadow column at start under a temporary name, renamed at complete;
//   - unique and primary-key constraints: their index is rebuilt the same
//     way, and complete attaches it with ADD CONSTRAINT ... USING INDEX;
//   - check constraints and foreign keys, in both directions: added NOT
//     VALID on the shadow column at start and validated, renamed at
//     complete;
//   - exclusion constraints: PostgreSQL can neither build them concurrently
//     nor attach an existing index, so they are added at start in their own
//     transaction, which holds ACCESS EXCLUSIVE while the index is built;
//   - extended statistics: created at start, renamed at complete;
//   - row-level-security policies: ALTER POLICY at complete;
//   - a sequence the column owns (serial): OWNED BY the new column at
//     complete; an identity: the new column becomes the identity column at
//     complete, its sequence continuing where the old one stopped;
//   - the column's own attributes: default and comment (by the model),
//     column grants, statistics target, attribute options and collation
//     (with the shadow column at start).
//
// Anything else that depends on the column (a view, a trigger with UPDATE OF
// or WHEN naming it, a generated column computed from it, a publication's
// column list, ...) cannot be carried; the action is refused with an error
// naming each such object, before anything is changed.

// carryColumn carries everything that depends on the physical column
// oldPhys of table t to shadow, which replaces it (shadow has type newType).
// key locates the change in the migration file. It returns statements to
// run right after the shadow column is added (column grants, statistics
// target, options) and the COLLATE clause the shadow column needs, if any.
func (p *planner) carryColumn(ctx context.Context, t *vTable, c *vColumn, oldPhys, shadow, newType, key string) ([]string, string, error) {
	origin := oldPhys
	if o, ok := p.objs.origin[t.Phys+"."+oldPhys]; ok {
		origin = o
	}
	p.objs.origin[t.Phys+"."+shadow] = origin
	var extra []string
	collate := ""
	pt := p.cat.Tables[t.Phys]
	pc := p.cat.column(t.Phys, origin)
	if pt != nil && pc != nil {
		var err error
		if extra, collate, err = p.columnAttrs(ctx, pt, pc, t.Phys, shadow, newType); err != nil {
			return nil, "", err
		}
	}
	if pt != nil && pc != nil && origin == oldPhys {
		// The catalog's dependents, once: later replacements of the same
		// column in the phase rewrite the carried copies.
		if err := p.carryDependents(ctx, t, c, pt, pc, key); err != nil {
			return nil, "", err
		}
	}
	p.replaceInPending(t.Phys, oldPhys, shadow)
	for i, k := range t.Key {
		if k == oldPhys {
			t.Key[i] = shadow
		}
	}
	return extra, collate, nil
}

// carryDependents reads what depends on the catalog column pc and plans
// carrying each object, or refuses naming every object it cannot carry.
func (p *planner) carryDependents(ctx context.Context, t *vTable, c *vColumn, pt *Table, pc *Column, key string) error {
	var deps []Dependent
	err := p.catalogPath(ctx, func() error {
		var err error
		deps, err = p.pr.Dependents(ctx, pt.OID, pc.Num)
		return err
	})
	if err != nil {
		return fmt.Errorf("read Dependents of %s.%s: %w", t.Phys, pc.Name, err)
	}
	var refused []string
	for _, d := range deps {
		var why string
		err := p.catalogPath(ctx, func() error {
			var err error
			why, err = p.carryOne(ctx, t, c, pt, pc, d, key)
			return err
		})
		if err != nil {
			return fmt.Errorf("carry %s: %w", d.Desc, err)
		}
		if why != "" {
			refused = append(refused, why)
		}
	}
	if len(refused) > 0 {
		return p.errf(key, "column %q of table %q cannot be replaced by a column of the new type: %s; strata cannot carry these to the new column (drop them first, e.g. with a custom action, and recreate them after complete)",
			c.Name, t.Name, strings.Join(refused, "; "))
	}
	return nil
}

// carryOne plans carrying one dependent object; it returns a description
// of the object when it cannot be carried.
func (p *planner) carryOne(ctx context.Context, t *vTable, c *vColumn, pt *Table, pc *Column, d Dependent, key string) (string, error) {
	ck := fmt.Sprintf("%s:%d", d.Class, d.OID)
	switch d.Class {
	case "pg_class":
		if d.OID == pt.OID && d.SubID > 0 {
			// Another column of the table depends on this one: before
			// PostgreSQL 15 a generated column records its dependency so
			// (later servers record it on its pg_attrdef, below).
			for _, gc := range pt.Columns {
				if gc.Num == int(d.SubID) && gc.Generated != "" {
					return fmt.Sprintf("generated column %q of table %q is computed from it", gc.Name, t.Phys), nil
				}
			}
		}
		kind, err := p.pr.RelKind(ctx, d.OID)
		if err != nil {
			return "", err
		}
		switch kind {
		case "i":
			conOID, err := p.pr.IndexConstraint(ctx, d.OID, pt.OID)
			if err != nil {
				return "", err
			}
			if conOID != 0 {
				return p.carryConstraint(ctx, t, pt, conOID, key)
			}
			if p.objs.carried[ck] {
				return "", nil
			}
			p.objs.carried[ck] = true
			return p.carryIndex(ctx, t, d.OID, key)
		case "S":
			return p.carrySequence(ctx, t, c, d, key)
		}
		return d.Desc, nil
	case "pg_constraint":
		return p.carryConstraint(ctx, t, pt, d.OID, key)
	case "pg_policy":
		if p.objs.carried[ck] {
			return "", nil
		}
		p.objs.carried[ck] = true
		return p.carryPolicy(ctx, t, pt, d, key)
	case "pg_statistic_ext":
		if p.objs.carried[ck] {
			return "", nil
		}
		p.objs.carried[ck] = true
		return p.carryStats(ctx, t, d.OID, key)
	case "pg_attrdef":
		def, err := p.pr.ColumnDefault(ctx, d.OID)
		if err != nil {
			return "", err
		}
		if def.Num == pc.Num {
			return "", nil // the column's own default: carried by the model
		}
		return fmt.Sprintf("generated column %q of table %q is computed from it", def.Column, t.Phys), nil
	case "pg_rewrite":
		r, err := p.pr.Rule(ctx, d.OID, pt.OID)
		if err != nil {
			return "", err
		}
		if p.prev != "" && r.Schema == p.prev {
			return "", nil // the old version's own view, dropped at complete
		}
		if r.Self {
			return d.Desc, nil
		}
		return fmt.Sprintf("view %s.%s selects it", r.Schema, r.Relation), nil
	case "pg_trigger":
		return d.Desc + " (UPDATE OF or WHEN names the column)", nil
	}
	return d.Desc, nil
}

// carryIndex rebuilds a plain index on the shadow column.
func (p *planner) carryIndex(ctx context.Context, t *vTable, oid uint32, key string) (string, error) {
	ix, err := p.pr.IndexDef(ctx, oid)
	if err != nil {
		return "", err
	}
	name, def, valid, replIdent, clustered, comment := ix.Name, ix.Def, ix.Valid, ix.ReplIdent, ix.Clustered, ix.Comment
	if !valid {
		return fmt.Sprintf("index %q is INVALID (a failed concurrent build? drop or rebuild it first)", name), nil
	}
	for _, r := range p.objs.removedIdx {
		if r == name {
			return "", nil // removed in this phase: it goes with the column
		}
	}
	stmt, err := pgquery.ParseOne(def)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", def, err)
	}
	co := &catObj{Kind: kIndex, Schema: p.schema, Table: t.Phys, Name: name, Comment: comment, ReplIdent: replIdent, Clustered: clustered}
	p.objs.dropped = append(p.objs.dropped, co)
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kIndex, Schema: p.schema, Table: t.Phys, Name: name,
		Temp: p.tempName(name), Stmt: stmt, Carried: co, Mig: p.mig, Idx: p.idx, Key: key})
	return "", nil
}

// carryConstraint carries a constraint on the column: of its own table, or
// another table's foreign key that references it.
func (p *planner) carryConstraint(ctx context.Context, t *vTable, pt *Table, oid uint32, key string) (string, error) {
	ck := fmt.Sprintf("pg_constraint:%d", oid)
	if p.objs.carried[ck] {
		return "", nil
	}
	p.objs.carried[ck] = true
	k, err := p.pr.ConstraintDef(ctx, oid)
	if err != nil {
		return "", err
	}
	name, typ, def, schema, table, indexDef := k.Name, k.Type, k.Def, k.Schema, k.Table, k.IndexDef
	validated, deferrable, deferred, replIdent, clustered, comment := k.Validated, k.Deferrable, k.Deferred, k.ReplIdent, k.Clustered, k.Comment
	if schema == p.schema {
		for _, d := range p.objs.dropped {
			if d.Schema == schema && d.Table == table && d.Name == name && d.Kind != kIndex && d.Kind != kStats {
				return "", nil // removed in this phase: it goes with the column
			}
		}
	}
	var kind objKind
	var src string
	switch typ {
	case "c":
		kind, src = kCheck, "ALTER TABLE "+qual(schema, table)+" ADD CONSTRAINT "+ident(name)+" "+def
	case "f":
		kind, src = kFK, "ALTER TABLE "+qual(schema, table)+" ADD CONSTRAINT "+ident(name)+" "+def
	case "x":
		kind, src = kExclude, "ALTER TABLE "+qual(schema, table)+" ADD CONSTRAINT "+ident(name)+" "+def
	case "p":
		kind, src = kPKey, indexDef
	case "u":
		kind, src = kUnique, indexDef
	case "n":
		return "", nil // a NOT NULL constraint (PostgreSQL 18): the model carries NOT NULL
	default:
		return fmt.Sprintf("constraint %q on table %q (%s)", name, table, def), nil
	}
	stmt, err := pgquery.ParseOne(src)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", src, err)
	}
	co := &catObj{Kind: kind, Schema: schema, Table: table, Name: name, Deferrable: deferrable, Deferred: deferred,
		Comment: comment, ReplIdent: replIdent, Clustered: clustered}
	p.objs.dropped = append(p.objs.dropped, co)
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kind, Schema: schema, Table: table, Name: name,
		Temp: p.tempName(name), Stmt: stmt, Carried: co, NotValid: !validated, Mig: p.mig, Idx: p.idx, Key: key})
	return "", nil
}

// carryPolicy points a row-level-security policy at the new column at
// complete. Until then it keeps reading the old column, which the sync
// trigger keeps in step.
func (p *planner) carryPolicy(ctx context.Context, t *vTable, pt *Table, d Dependent, key string) (string, error) {
	pol, err := p.pr.PolicyDef(ctx, d.OID)
	if err != nil {
		return "", err
	}
	name, schema, table, rel, qual_, check := pol.Name, pol.Schema, pol.Table, pol.TableOID, pol.Using, pol.Check
	if rel != pt.OID {
		return fmt.Sprintf("policy %q on table %s.%s refers to it", name, schema, table), nil
	}
	src := "ALTER POLICY " + ident(name) + " ON " + qual(schema, table)
	if qual_ != nil {
		src += " USING (" + *qual_ + ")"
	}
	if check != nil {
		src += " WITH CHECK (" + *check + ")"
	}
	stmt, err := pgquery.ParseOne(src)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", src, err)
	}
	p.objs.policies = append(p.objs.policies, stmt)
	return "", nil
}

// carryStats rebuilds an extended statistics object over the new column.
func (p *planner) carryStats(ctx context.Context, t *vTable, oid uint32, key string) (string, error) {
	sd, err := p.pr.StatisticsDef(ctx, oid)
	if err != nil {
		return "", err
	}
	name, schema, def, comment := sd.Name, sd.Schema, sd.Def, sd.Comment
	stmt, err := pgquery.ParseOne(def)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", def, err)
	}
	co := &catObj{Kind: kStats, Schema: schema, Table: t.Phys, Name: name, Comment: comment}
	p.objs.dropped = append(p.objs.dropped, co)
	p.objs.pending = append(p.objs.pending, &pendObj{Kind: kStats, Schema: p.schema, Table: t.Phys, Name: name,
		Temp: p.tempName(name), Stmt: stmt, Carried: co, Mig: p.mig, Idx: p.idx, Key: key})
	return "", nil
}

// carrySequence moves a serial's sequence or an identity to the new column.
func (p *planner) carrySequence(ctx context.Context, t *vTable, c *vColumn, d Dependent, key string) (string, error) {
	sq, err := p.pr.SequenceDef(ctx, d.OID)
	if err != nil {
		return "", err
	}
	seq, name, typ := sq.Qualified, sq.Name, sq.Type
	inc, min, max, cache, cycle := sq.Increment, sq.Min, sq.Max, sq.Cache, sq.Cycle
	switch d.DepType {
	case "a": // OWNED BY: a serial
		p.objs.seqOwned = append(p.objs.seqOwned, &seqOwner{Seq: seq, Table: t.Phys, Column: c.Phys})
		return "", nil
	case "i": // an identity column's own sequence
		opts := fmt.Sprintf(" INCREMENT BY %d CACHE %d", inc, cache)
		if cycle {
			opts += " CYCLE"
		}
		lo, hi := typeRange(typ)
		if inc > 0 {
			lo = 1
		} else {
			hi = -1
		}
		if min != lo {
			opts += fmt.Sprintf(" MINVALUE %d", min)
		}
		if max != hi {
			opts += fmt.Sprintf(" MAXVALUE %d", max)
		}
		p.objs.identity = append(p.objs.identity, &identityMove{Table: t.Phys, Shadow: c.Phys, Always: c.Identity == "a",
			Seq: seq, SeqName: name, Temp: p.tempName(name), Options: opts})
		c.IdentitySeq = seq
		return "", nil
	}
	return d.Desc, nil
}

// typeRange is the range of an integer type, as sequences use by default.
func typeRange(typ string) (int64, int64) {
	switch typ {
	case "smallint":
		return -32768, 32767
	case "integer":
		return -2147483648, 2147483647
	}
	return -9223372036854775808, 9223372036854775807
}

// columnAttrs returns what the shadow column must get right after it is
// added to keep the column's attributes: column grants, statistics target,
// attribute options, and the collation (as a COLLATE clause for ADD COLUMN,
// when the new type is collatable and the type string names none).
func (p *planner) columnAttrs(ctx context.Context, pt *Table, pc *Column, table, shadow, newType string) ([]string, string, error) {
	var attrs ColumnAttrs
	err := p.catalogPath(ctx, func() error {
		var err error
		attrs, err = p.pr.ColumnAttrs(ctx, pt.OID, pc.Num)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("read attributes of %s.%s: %w", table, pc.Name, err)
	}
	stat, opts, coll := attrs.StatTarget, attrs.Options, attrs.Collation
	var collatable bool
	if coll != nil && !strings.Contains(strings.ToUpper(newType), "COLLATE") {
		var err error
		collatable, err = p.pr.Collatable(ctx, newType)
		if p.verdict(err) != nil {
			collatable = false
		}
	}
	tq := qual(p.schema, table)
	var out []string
	for _, a := range attrs.Grants {
		s := "GRANT " + a.Privilege + " (" + ident(shadow) + ") ON " + tq + " TO " + grantee(a.Grantee)
		if a.Grantable {
			s += " WITH GRANT OPTION"
		}
		out = append(out, s)
	}
	if stat >= 0 {
		out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d", tq, ident(shadow), stat))
	}
	if len(opts) > 0 {
		out = append(out, "ALTER TABLE "+tq+" ALTER COLUMN "+ident(shadow)+" SET ("+strings.Join(opts, ", ")+")")
	}
	collate := ""
	if coll != nil && collatable {
		collate = " COLLATE " + *coll
	}
	return out, collate, nil
}
