package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// Identity columns added to an existing table (add_column with generated =
// "ALWAYS AS IDENTITY" or "BY DEFAULT AS IDENTITY"). PostgreSQL's own
// ADD COLUMN ... GENERATED AS IDENTITY fills every row under an ACCESS
// EXCLUSIVE lock (a rewrite); strata instead:
//
//   - start: creates a temporary sequence with the identity's options, adds
//     the column bare (no rewrite), makes nextval of the temporary sequence
//     its default (both versions' inserts get values), backfills the
//     existing rows from the sequence in batches, then NOT NULL through a
//     NOT VALID check that is validated without blocking writers;
//   - complete: SET NOT NULL (no scan: the validated check proves it), then
//     one short transaction that drops the default, makes the column an
//     identity column (ADD GENERATED ... AS IDENTITY: no rewrite, no scan),
//     sets the identity's sequence to where the temporary one is (past the
//     column's maximum, read through an index when the phase builds one on
//     the column); then the temporary sequence is dropped;
//   - abort: drops the column, which drops the sequence it owns.

// identitySpec is a parsed `generated` value.
type identitySpec struct {
	Kind    string // "a" (ALWAYS) or "d" (BY DEFAULT); "" for a stored generated column
	Options string // sequence options as SQL, with a leading space; "" for none
	SeqName string // SEQUENCE NAME given in the options, bare; "" for none
	Down    bool   // a negative INCREMENT: the sequence counts down
	Expr    string // a stored generated column's expression
}

// identityOptions are the sequence options an identity column added to an
// existing table may have (they go to CREATE SEQUENCE and to ADD GENERATED
// alike).
var identityOptions = map[string]bool{
	"start": true, "increment": true, "minvalue": true, "maxvalue": true,
	"cache": true, "cycle": true, "sequence_name": true,
}

// parseGenerated parses what follows GENERATED in a column definition.
func (p *planner) parseGenerated(g string) (*identitySpec, error) {
	n, err := pgquery.ParseOne("CREATE TABLE t (c int GENERATED " + g + "\n)")
	if err != nil {
		return nil, p.errf(".column.generated", "invalid generated clause %q: %v", g, err)
	}
	cs := n.GetCreateStmt()
	if cs == nil || len(cs.TableElts) != 1 || cs.TableElts[0].GetColumnDef() == nil {
		return nil, p.errf(".column.generated", "invalid generated clause %q", g)
	}
	cd := cs.TableElts[0].GetColumnDef()
	if gen := pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_GENERATED); len(gen) > 0 {
		expr, err := pgquery.DeparseExpr(gen[0].RawExpr)
		if err != nil {
			expr = g
		}
		return &identitySpec{Expr: expr}, nil
	}
	cons := pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_IDENTITY)
	if len(cons) != 1 {
		return nil, p.errf(".column.generated", "invalid generated clause %q", g)
	}
	con := cons[0]
	spec := &identitySpec{Kind: con.GeneratedWhen}
	var opts []*pgquery.Node
	for _, o := range con.Options {
		d := o.GetDefElem()
		if d == nil || !identityOptions[d.Defname] {
			name := "?"
			if d != nil {
				name = strings.ToUpper(strings.ReplaceAll(d.Defname, "_", " "))
			}
			return nil, p.errf(".column.generated", "identity option %s is not supported when adding an identity column to an existing table (use START WITH, INCREMENT BY, MINVALUE, MAXVALUE, CACHE, CYCLE or SEQUENCE NAME)", name)
		}
		switch d.Defname {
		case "sequence_name":
			names := pgquery.Strs(d.Arg.GetList().GetItems())
			switch {
			case len(names) == 1:
			case len(names) == 2 && names[0] == p.schema:
			default:
				return nil, p.errf(".column.generated", "SEQUENCE NAME %q: the identity's sequence must be in schema %q; give a bare name", strings.Join(names, "."), p.schema)
			}
			spec.SeqName = names[len(names)-1]
			continue
		case "increment":
			if iv := d.Arg.GetInteger(); iv != nil && iv.Ival < 0 {
				spec.Down = true
			}
			if fv := d.Arg.GetFloat(); fv != nil && strings.HasPrefix(fv.Fval, "-") {
				spec.Down = true
			}
		}
		opts = append(opts, o)
	}
	if len(opts) > 0 {
		seq := &pgquery.Node{Node: &pgquery.Node_CreateSeqStmt{CreateSeqStmt: &pgquery.CreateSeqStmt{
			Sequence: &pgquery.RangeVar{Relname: "s", Inh: true, Relpersistence: "p"}, Options: opts,
		}}}
		out, err := pgquery.Deparse(seq)
		if err != nil || !strings.HasPrefix(out, "CREATE SEQUENCE s ") {
			return nil, p.errf(".column.generated", "invalid identity options in %q", g)
		}
		spec.Options = " " + strings.TrimPrefix(out, "CREATE SEQUENCE s ")
	}
	return spec, nil
}

// refuseStored is the refusal of a stored generated column on an existing
// table, with the alternatives strata supports.
func (p *planner) refuseStored(c migration.Column, spec *identitySpec) error {
	return p.errf(".column.generated",
		"adding the stored generated column %q to an existing table rewrites the table under an ACCESS EXCLUSIVE lock (PostgreSQL computes every row at once); strata refuses it\n"+
			"hint: add a plain column instead, with up = %q: strata fills existing rows in batches and computes the column for the old version's writes until complete; the new version then writes it itself (or a trigger you create in a `custom` action keeps it computed). A view or the query itself can also compute %s. Generated and identity columns are accepted on tables created in the same phase",
		c.Name, spec.Expr, spec.Expr)
}

// identityAdd is an identity column added to an existing table: how
// complete turns the plain column into the identity column.
type identityAdd struct {
	Kind    string // "a" or "d"
	Temp    string // the temporary sequence, bare name
	Final   string // the identity's sequence, bare name
	Options string // sequence options, leading space
	Down    bool   // counts down
}

// addIdentityColumn plans an identity column added to an existing table t.
func (p *planner) addIdentityColumn(ctx context.Context, t *vTable, c migration.Column, spec *identitySpec) error {
	tq := qual(p.schema, t.Phys)
	phys := p.freeColumn(t.Phys, c.Name)
	temp := pgquery.HashedName("_strata_id_", t.Phys+"_"+phys,
		qual(p.schema, t.Phys)+"."+ident(phys)+"."+ident(p.version))
	if taken, err := p.relationExists(ctx, temp); err != nil {
		return err
	} else if taken {
		return p.errf(".column.name", "strata needs the sequence name %q for this phase, but a relation already has it\nhint: rename or drop that relation", temp)
	}
	tempQ := qual(p.schema, temp)
	create := "CREATE SEQUENCE IF NOT EXISTS " + tempQ + " AS " + c.Type + spec.Options
	// Check the type and the options now: PostgreSQL refuses a sequence of
	// a non-integer type and options out of range.
	if err := p.pr.Apply(ctx, create); err != nil {
		return p.errf(".column.generated", "cannot add an identity column of type %s with these options: %s", c.Type, pgMessage(err))
	}
	final := spec.SeqName
	if final == "" {
		var err error
		if final, err = p.freeSeqName(ctx, t.Phys+"_"+c.Name+"_seq"); err != nil {
			return err
		}
	} else if taken, err := p.relationExists(ctx, final); err != nil {
		return err
	} else if taken || p.seqs[final] {
		return p.errf(".column.generated", "SEQUENCE NAME %q is already taken in schema %q", final, p.schema)
	}
	p.claimSeq(final)
	def := "nextval(" + literal(tempQ) + "::regclass)"
	sqls := []string{
		create,
		"ALTER TABLE " + tq + " ADD COLUMN IF NOT EXISTS " + ident(phys) + " " + c.Type,
		"ALTER TABLE " + tq + " ALTER COLUMN " + ident(phys) + " SET DEFAULT " + def,
		"ALTER SEQUENCE " + tempQ + " OWNED BY " + tq + "." + ident(phys),
	}
	if c.Comment != nil {
		sqls = append(sqls, "COMMENT ON COLUMN "+tq+"."+ident(phys)+" IS "+literal(*c.Comment))
	}
	p.expand = append(p.expand, plan.Step{
		ID: fmt.Sprintf("add-column:%s.%s", t.Phys, phys), Kind: plan.KindSQL, Tx: true,
		Desc: fmt.Sprintf("add column %s to %s, its values from sequence %s until complete makes it an identity column", phys, t.Phys, temp),
		SQL:  sqls,
	})
	// Existing rows: from the sequence, in batches (COALESCE keeps the
	// values rows written since start already have, and draws no number
	// for them).
	s := p.sync(t.Phys)
	s.Backfill = true
	s.Set = append(s.Set, ident(phys)+" = COALESCE("+ident(phys)+", "+def+")")
	p.added[t.Phys] = append(p.added[t.Phys], &addedCol{Name: phys, Type: c.Type, Default: &def, Comment: c.Comment, ActionNo: p.seq,
		Identity: &identityAdd{Kind: spec.Kind, Temp: temp, Final: final, Options: spec.Options, Down: spec.Down}})
	t.Columns = append(t.Columns, &vColumn{Name: c.Name, Phys: phys, Type: c.Type, NotNull: true, Comment: c.Comment,
		Generated: spec.Kind == "a", Identity: spec.Kind, IdentitySeq: tempQ})
	return nil
}

// addedIdentity returns the identity column added in this phase as the
// physical column col of table, or nil.
func (p *planner) addedIdentity(table, col string) *identityAdd {
	for _, a := range p.added[table] {
		if a.Name == col && a.Identity != nil {
			return a.Identity
		}
	}
	return nil
}

// claimSeq records a sequence name the phase creates.
func (p *planner) claimSeq(name string) {
	if p.seqs == nil {
		p.seqs = map[string]bool{}
	}
	p.seqs[name] = true
}

// freeSeqName returns stem, or stem with a number after it, whichever is
// free first in the managed schema (as PostgreSQL names the sequences of
// serial and identity columns), cut to 63 bytes.
func (p *planner) freeSeqName(ctx context.Context, stem string) (string, error) {
	for i := 0; ; i++ {
		name := stem
		if i > 0 {
			name = fmt.Sprintf("%s%d", stem, i)
		}
		name = internalName("", name)
		taken, err := p.relationExists(ctx, name)
		if err != nil {
			return "", err
		}
		if !taken && !p.seqs[name] {
			return name, nil
		}
	}
}

// identityColumn is an identity column added to an existing table, as the
// phase leaves it.
type identityColumn struct {
	table string  // physical table
	col   string  // physical column
	view  string  // its name in the new version
	vt    *vTable // the table as the new version sees it
	id    *identityAdd
}

// identityAdds lists the identity columns added to existing tables that
// the phase keeps.
func (p *planner) identityAdds() []identityColumn {
	var out []identityColumn
	for _, t := range p.cur.Tables {
		if t.Created {
			continue
		}
		for _, a := range p.added[t.Phys] {
			if a.Identity == nil {
				continue
			}
			c := colByPhys(t, a.Name)
			if c == nil {
				continue
			}
			out = append(out, identityColumn{table: t.Phys, col: a.Name, view: c.Name, vt: t, id: a.Identity})
		}
	}
	return out
}

// indexedBy reports whether a btree index the phase builds on table has
// col as its first key column: max(col) is then an index lookup.
func (p *planner) indexedBy(table, col string) bool {
	for _, o := range p.objs.pending {
		if !o.Kind.isIndex() || o.Schema != p.schema || o.Table != table || o.Stmt == nil {
			continue
		}
		ix := o.Stmt.GetIndexStmt()
		if ix == nil || len(ix.IndexParams) == 0 || (ix.AccessMethod != "" && ix.AccessMethod != "btree") || ix.WhereClause != nil {
			continue
		}
		if e := ix.IndexParams[0].GetIndexElem(); e != nil && e.Name == col {
			return true
		}
	}
	return false
}

// identitySteps are complete's steps that make the added columns identity
// columns, after SET NOT NULL. Each is one short transaction: the default
// goes and the identity comes together, so no insert finds neither.
func (p *planner) identitySteps() []plan.Step {
	var out []plan.Step
	for _, x := range p.identityAdds() {
		tq := qual(p.schema, x.table)
		tempQ, finalQ := qual(p.schema, x.id.Temp), qual(p.schema, x.id.Final)
		kind := "BY DEFAULT"
		if x.id.Kind == "a" {
			kind = "ALWAYS"
		}
		var sqls []string
		if p.newDiffers(x.vt) {
			// The new version's view takes its default from the temporary
			// sequence; the view is locked before the table, as the new
			// version's clients lock them.
			sqls = append(sqls, "ALTER VIEW IF EXISTS "+qual(p.version, x.vt.Name)+" ALTER COLUMN "+ident(x.view)+" DROP DEFAULT")
		}
		// One ALTER TABLE (the default is dropped in an earlier pass than
		// the identity is added) and the sequence's position: the fewer
		// round trips under ACCESS EXCLUSIVE, the shorter the lock.
		sqls = append(sqls,
			"ALTER TABLE "+tq+" ALTER COLUMN "+ident(x.col)+" DROP DEFAULT, ALTER COLUMN "+ident(x.col)+
				" ADD GENERATED "+kind+" AS IDENTITY (SEQUENCE NAME "+finalQ+x.id.Options+")",
			p.identityPositionSQL(x, tempQ, finalQ),
		)
		out = append(out, plan.Step{
			ID: "identity:" + x.table + "." + x.col, Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("make %s.%s an identity column (GENERATED %s) continuing from sequence %s", x.table, x.col, kind, x.id.Temp),
			SQL:  sqls,
		}, plan.Step{
			// In its own transaction: dropping the sequence locks the
			// sequence, not the table.
			ID: "drop-sequence:" + x.table + "." + x.col, Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("drop sequence %s, replaced by the identity's", x.id.Temp),
			SQL:  []string{"DROP SEQUENCE IF EXISTS " + tempQ},
		})
	}
	return out
}

// identityPositionSQL sets the identity's sequence where the temporary
// sequence is: every value the column got came from it. When an index of
// the phase leads with the column, the column's maximum (minimum for a
// sequence counting down) is read through it too, so explicit values
// written past the sequence are skipped; without an index that would be a
// scan under the ACCESS EXCLUSIVE lock, and it is not made.
func (p *planner) identityPositionSQL(x identityColumn, tempQ, finalQ string) string {
	if !p.indexedBy(x.table, x.col) {
		return "SELECT setval(" + literal(finalQ) + ", s.last_value, s.is_called) FROM " + tempQ + " s"
	}
	agg, past := "max", ">"
	if x.id.Down {
		agg, past = "min", "<"
	}
	return "SELECT CASE WHEN x.m " + past + " s.last_value OR (x.m = s.last_value AND NOT s.is_called) THEN setval(" + literal(finalQ) +
		", x.m) ELSE setval(" + literal(finalQ) + ", s.last_value, s.is_called) END FROM " + tempQ + " s, (SELECT " + agg + "(" +
		ident(x.col) + ") AS m FROM " + qual(p.schema, x.table) + ") x"
}
