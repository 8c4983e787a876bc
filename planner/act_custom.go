package planner

import (
	"context"
	"fmt"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/pglock"
	"github.com/stratapg/strata/plan"
)

// custom runs user SQL at each phase. Each part must be safe to re-run. A
// part runs in one transaction unless it holds a statement PostgreSQL
// refuses inside one (CREATE INDEX CONCURRENTLY, VACUUM, ...): then each of
// its statements runs on its own, with lock_timeout set.
func (p *planner) custom(ctx context.Context, a *migration.Custom) error {
	id := fmt.Sprintf("custom:%s:%d", p.mig.Name, p.idx)
	parts := []struct {
		key, sql, phase string
		to              *[]plan.Step
	}{
		{".start", a.Start, "start", &p.expand},
		{".complete", a.Complete, "complete", &p.completeCustom},
		{".abort", a.Abort, "abort", &p.abortCustom},
	}
	for _, part := range parts {
		if part.sql == "" {
			continue
		}
		st := plan.Step{ID: id + ":" + part.phase, Kind: plan.KindSQL, Tx: true,
			Desc: fmt.Sprintf("custom SQL (%s) of %s action %d", part.phase, p.mig.Name, p.idx),
			SQL:  []string{part.sql}}
		stmts, err := pglock.ClassifySQL(part.sql, pglock.Config{PGVersion: p.cat.PGMajor})
		if err != nil {
			return p.errf(part.key, "the SQL does not parse: %v", err)
		}
		for _, s := range stmts {
			if s.NoTransaction {
				st.Tx = false
			}
		}
		if !st.Tx {
			st.SQL = nil
			for _, s := range stmts {
				st.SQL = append(st.SQL, s.Statement)
			}
		}
		*part.to = append(*part.to, st)
		if part.phase == "start" && st.Tx {
			if err := p.customCreates(ctx, stmts); err != nil {
				return err
			}
		}
		if part.phase == "start" && a.Abort == "" {
			drops, err := p.extensionUndo(ctx, stmts)
			if err != nil {
				return err
			}
			if len(drops) > 0 {
				p.abortCustom = append(p.abortCustom, plan.Step{ID: id + ":abort", Kind: plan.KindSQL, Tx: true,
					Desc: fmt.Sprintf("drop the extensions the custom SQL (start) of %s action %d created", p.mig.Name, p.idx),
					SQL:  drops})
			}
		}
	}
	return nil
}

// extensionUndo derives the abort of a custom start without abort SQL
// that only creates extensions (Reshape's "enable an extension" examples):
// DROP EXTENSION IF EXISTS for each extension not installed now, in reverse
// order, so that abort leaves the database as start found it. A start with
// any other statement gets no derived abort (nil).
func (p *planner) extensionUndo(ctx context.Context, stmts []pglock.StatementLocks) ([]string, error) {
	var names []string
	for _, s := range stmts {
		n, err := pgquery.ParseOne(s.Statement)
		if err != nil || n.GetCreateExtensionStmt() == nil {
			return nil, nil
		}
		names = append(names, n.GetCreateExtensionStmt().GetExtname())
	}
	var drops []string
	for i := len(names) - 1; i >= 0; i-- {
		// Try fails when the extension is installed already.
		err := p.try(ctx, "DO $strata$ BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = "+
			pgquery.Literal(names[i])+") THEN RAISE EXCEPTION 'installed'; END IF; END $strata$")
		if p.lockErr != nil {
			return nil, p.lockOr(err)
		}
		if err == nil {
			drops = append(drops, "DROP EXTENSION IF EXISTS "+ident(names[i]))
		}
	}
	return drops, nil
}

// customCreates makes what a custom action's start SQL creates known to the
// rest of the phase: its CREATE TABLE, CREATE TYPE (enum, composite, range,
// ...), CREATE DOMAIN, CREATE SEQUENCE, CREATE FUNCTION and CREATE VIEW
// statements run for the rest of planning (each one that PostgreSQL accepts
// on its own; its other statements, data changes included, do not run
// while planning). The tables and types it creates in the managed schema
// become the phase's own: later actions may use them, the new version
// schema has a view of each table, and abort drops them (after the custom
// abort SQL and the objects of later actions), as it drops what
// create_table and create_enum made.
func (p *planner) customCreates(ctx context.Context, stmts []pglock.StatementLocks) error {
	var tables []string
	for _, s := range stmts {
		n, err := pgquery.ParseOne(s.Statement)
		if err != nil {
			continue
		}
		var table, typ string
		ours := func(schema string) bool { return schema == "" || schema == p.schema }
		switch {
		case n.GetCreateStmt() != nil:
			if rv := n.GetCreateStmt().GetRelation(); ours(rv.GetSchemaname()) && rv.GetRelpersistence() != "t" {
				table = rv.GetRelname()
			}
		case n.GetCreateEnumStmt() != nil:
			typ = ownType(pgquery.Strs(n.GetCreateEnumStmt().GetTypeName()), p.schema)
		case n.GetCompositeTypeStmt() != nil:
			if rv := n.GetCompositeTypeStmt().GetTypevar(); ours(rv.GetSchemaname()) {
				typ = rv.GetRelname()
			}
		case n.GetCreateDomainStmt() != nil:
			typ = ownType(pgquery.Strs(n.GetCreateDomainStmt().GetDomainname()), p.schema)
		case n.GetCreateRangeStmt() != nil:
			typ = ownType(pgquery.Strs(n.GetCreateRangeStmt().GetTypeName()), p.schema)
		case n.GetDefineStmt() != nil, n.GetCreateSeqStmt() != nil, n.GetCreateFunctionStmt() != nil, n.GetViewStmt() != nil:
		default:
			continue
		}
		if err := p.try(ctx, s.Statement); err != nil {
			if p.lockErr != nil {
				return err // no verdict: planning is retried
			}
			continue // start will run it with the rest of the SQL
		}
		if err := p.pr.Apply(ctx, s.Statement); err != nil {
			return p.errf(".start", "the SQL failed while planning: %s", pgMessage(err))
		}
		if table != "" && p.cur.table(table) == nil && !p.isCreated(table) {
			tables = append(tables, table)
		}
		if typ != "" {
			p.objs.created = append(p.objs.created, typ)
		}
	}
	if len(tables) == 0 {
		return nil
	}
	cat, err := p.pr.Catalog(ctx, p.schema)
	if err != nil {
		return err
	}
	// Catalog reads with search_path = pg_catalog.
	if err := p.setPath(ctx, ident(p.schema)); err != nil {
		return err
	}
	for _, t := range schemaFromCatalog(&Catalog{Names: tables, Tables: cat.Tables}).Tables {
		t.Created = true
		p.created = append(p.created, t.Phys)
		p.cur.Tables = append(p.cur.Tables, t)
	}
	return nil
}

// ownType returns the name of a type created as names (maybe qualified)
// when it is in schema, "" otherwise.
func ownType(names []string, schema string) string {
	switch {
	case len(names) == 1:
		return names[0]
	case len(names) == 2 && names[0] == schema:
		return names[1]
	}
	return ""
}
