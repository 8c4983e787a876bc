package engine

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/strata-db/strata/internal/pgquery"
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

// dependent is one pg_depend row on a column.
type dependent struct {
	Class   string // catalog of the dependent object, e.g. pg_constraint
	OID     uint32
	SubID   int32
	DepType string
	Desc    string
}

// carryColumn carries everything that depends on the physical column
// oldPhys of table t to shadow, which replaces it (shadow has type newType).
// key locates the change in the migration file. It returns statements to
// run right after the shadow column is added (column grants, statistics
// target, options) and the COLLATE clause the shadow column needs, if any.
func (p *planner) carryColumn(t *vTable, c *vColumn, oldPhys, shadow, newType, key string) ([]string, string, error) {
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
		if extra, collate, err = p.columnAttrs(pt, pc, t.Phys, shadow, newType); err != nil {
			return nil, "", err
		}
	}
	if pt != nil && pc != nil && origin == oldPhys {
		// The catalog's dependents, once: later replacements of the same
		// column in the phase rewrite the carried copies.
		if err := p.carryDependents(t, c, pt, pc, key); err != nil {
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
func (p *planner) carryDependents(t *vTable, c *vColumn, pt *physTable, pc *physColumn, key string) error {
	var deps []dependent
	err := p.catalogPath(func() error {
		rows, err := p.tx.Query(p.ctx, `SELECT d.classid::regclass::text, d.objid, d.objsubid, d.deptype::text,
				pg_describe_object(d.classid, d.objid, d.objsubid)
			FROM pg_depend d
			WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2
			ORDER BY 1, 2, 3`, pt.OID, pc.Num)
		if err != nil {
			return err
		}
		deps, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dependent, error) {
			var d dependent
			err := r.Scan(&d.Class, &d.OID, &d.SubID, &d.DepType, &d.Desc)
			return d, err
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("engine: read dependents of %s.%s: %w", t.Phys, pc.Name, err)
	}
	var refused []string
	for _, d := range deps {
		var why string
		err := p.catalogPath(func() error {
			var err error
			why, err = p.carryOne(t, c, pt, pc, d, key)
			return err
		})
		if err != nil {
			return fmt.Errorf("engine: carry %s: %w", d.Desc, err)
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
func (p *planner) carryOne(t *vTable, c *vColumn, pt *physTable, pc *physColumn, d dependent, key string) (string, error) {
	ck := fmt.Sprintf("%s:%d", d.Class, d.OID)
	switch d.Class {
	case "pg_class":
		var kind string
		if err := p.tx.QueryRow(p.ctx, `SELECT relkind::text FROM pg_class WHERE oid = $1`, d.OID).Scan(&kind); err != nil {
			return "", err
		}
		switch kind {
		case "i":
			var conOID uint32
			err := p.tx.QueryRow(p.ctx, `SELECT coalesce((SELECT oid FROM pg_constraint WHERE conindid = $1 AND conrelid = $2
				AND contype IN ('p', 'u', 'x') LIMIT 1), 0)`, d.OID, pt.OID).Scan(&conOID)
			if err != nil {
				return "", err
			}
			if conOID != 0 {
				return p.carryConstraint(t, pt, conOID, key)
			}
			if p.objs.carried[ck] {
				return "", nil
			}
			p.objs.carried[ck] = true
			return p.carryIndex(t, d.OID, key)
		case "S":
			return p.carrySequence(t, c, d, key)
		}
		return d.Desc, nil
	case "pg_constraint":
		return p.carryConstraint(t, pt, d.OID, key)
	case "pg_policy":
		if p.objs.carried[ck] {
			return "", nil
		}
		p.objs.carried[ck] = true
		return p.carryPolicy(t, pt, d, key)
	case "pg_statistic_ext":
		if p.objs.carried[ck] {
			return "", nil
		}
		p.objs.carried[ck] = true
		return p.carryStats(t, d.OID, key)
	case "pg_attrdef":
		var adnum int
		var col string
		if err := p.tx.QueryRow(p.ctx, `SELECT d.adnum, a.attname FROM pg_attrdef d
			JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.oid = $1`, d.OID).Scan(&adnum, &col); err != nil {
			return "", err
		}
		if adnum == pc.Num {
			return "", nil // the column's own default: carried by the model
		}
		return fmt.Sprintf("generated column %q of table %q is computed from it", col, t.Phys), nil
	case "pg_rewrite":
		var schema, rel string
		var self bool
		if err := p.tx.QueryRow(p.ctx, `SELECT n.nspname, c.relname, c.oid = $2 FROM pg_rewrite r
			JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.oid = $1`,
			d.OID, pt.OID).Scan(&schema, &rel, &self); err != nil {
			return "", err
		}
		if p.prev != "" && schema == p.prev {
			return "", nil // the old version's own view, dropped at complete
		}
		if self {
			return d.Desc, nil
		}
		return fmt.Sprintf("view %s.%s selects it", schema, rel), nil
	case "pg_trigger":
		return d.Desc + " (UPDATE OF or WHEN names the column)", nil
	}
	return d.Desc, nil
}

// carryIndex rebuilds a plain index on the shadow column.
func (p *planner) carryIndex(t *vTable, oid uint32, key string) (string, error) {
	var name, def string
	var valid, replIdent, clustered bool
	var comment *string
	err := p.tx.QueryRow(p.ctx, `SELECT c.relname, pg_get_indexdef(c.oid), x.indisvalid, x.indisreplident,
			x.indisclustered, obj_description(c.oid, 'pg_class')
		FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid WHERE c.oid = $1`, oid).
		Scan(&name, &def, &valid, &replIdent, &clustered, &comment)
	if err != nil {
		return "", err
	}
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
func (p *planner) carryConstraint(t *vTable, pt *physTable, oid uint32, key string) (string, error) {
	ck := fmt.Sprintf("pg_constraint:%d", oid)
	if p.objs.carried[ck] {
		return "", nil
	}
	p.objs.carried[ck] = true
	var name, typ, def, schema, table, indexDef string
	var validated, deferrable, deferred, replIdent, clustered bool
	var comment *string
	err := p.tx.QueryRow(p.ctx, `SELECT k.conname, k.contype::text, pg_get_constraintdef(k.oid), k.convalidated,
			k.condeferrable, k.condeferred, n.nspname, c.relname,
			CASE WHEN k.contype IN ('p', 'u') THEN pg_get_indexdef(k.conindid) ELSE '' END,
			coalesce(x.indisreplident, false) AND k.contype IN ('p', 'u'),
			coalesce(x.indisclustered, false) AND k.contype IN ('p', 'u', 'x'),
			obj_description(k.oid, 'pg_constraint')
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_index x ON x.indexrelid = k.conindid
		WHERE k.oid = $1`, oid).
		Scan(&name, &typ, &def, &validated, &deferrable, &deferred, &schema, &table, &indexDef, &replIdent, &clustered, &comment)
	if err != nil {
		return "", err
	}
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
func (p *planner) carryPolicy(t *vTable, pt *physTable, d dependent, key string) (string, error) {
	var name, schema, table string
	var qual_, check *string
	var rel uint32
	err := p.tx.QueryRow(p.ctx, `SELECT pol.polname, n.nspname, c.relname, pol.polrelid,
			pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)
		FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE pol.oid = $1`, d.OID).Scan(&name, &schema, &table, &rel, &qual_, &check)
	if err != nil {
		return "", err
	}
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
func (p *planner) carryStats(t *vTable, oid uint32, key string) (string, error) {
	var name, schema, def string
	var comment *string
	err := p.tx.QueryRow(p.ctx, `SELECT s.stxname, n.nspname, pg_get_statisticsobjdef(s.oid),
			obj_description(s.oid, 'pg_statistic_ext')
		FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid = $1`, oid).
		Scan(&name, &schema, &def, &comment)
	if err != nil {
		return "", err
	}
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
func (p *planner) carrySequence(t *vTable, c *vColumn, d dependent, key string) (string, error) {
	var seq, name, typ string
	var inc, min, max, cache int64
	var cycle bool
	err := p.tx.QueryRow(p.ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relname,
			s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, format_type(s.seqtypid, NULL)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
		WHERE c.oid = $1`, d.OID).Scan(&seq, &name, &inc, &min, &max, &cache, &cycle, &typ)
	if err != nil {
		return "", err
	}
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
func (p *planner) columnAttrs(pt *physTable, pc *physColumn, table, shadow, newType string) ([]string, string, error) {
	var stat int
	var opts []string
	var coll *string
	type acl struct {
		priv, grantee string
		grantable     bool
	}
	var acls []acl
	var collatable bool
	err := p.catalogPath(func() error {
		// Options named pg_* are not user settings: some builds keep
		// internal bookkeeping there.
		err := p.tx.QueryRow(p.ctx, `SELECT coalesce(a.attstattarget::int, -1),
				coalesce(ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_%'), '{}'),
				CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
				     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
			FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
			WHERE a.attrelid = $1 AND a.attnum = $2`, pt.OID, pc.Num).Scan(&stat, &opts, &coll)
		if err != nil {
			return err
		}
		rows, err := p.tx.Query(p.ctx, `SELECT x.privilege_type, CASE WHEN x.grantee = 0 THEN '' ELSE x.grantee::regrole::text END, x.is_grantable
			FROM pg_attribute a, aclexplode(a.attacl) x WHERE a.attrelid = $1 AND a.attnum = $2 ORDER BY 2, 1`, pt.OID, pc.Num)
		if err != nil {
			return err
		}
		acls, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (acl, error) {
			var a acl
			err := r.Scan(&a.priv, &a.grantee, &a.grantable)
			return a, err
		})
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("engine: read attributes of %s.%s: %w", table, pc.Name, err)
	}
	if coll != nil && !strings.Contains(strings.ToUpper(newType), "COLLATE") {
		err := p.savepoint(func() error {
			return p.tx.QueryRow(p.ctx, "SELECT typcollation <> 0 FROM pg_type WHERE oid = $1::regtype", newType).Scan(&collatable)
		})
		if err != nil {
			collatable = false
		}
	}
	tq := qual(p.schema, table)
	var out []string
	for _, a := range acls {
		s := "GRANT " + a.priv + " (" + ident(shadow) + ") ON " + tq + " TO " + grantee(a.grantee)
		if a.grantable {
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
