package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgquery"
)

// Drop drops a scenario's schema (its copies and change logs), its role
// and its metadata, in one transaction. It also clears a scenario whose
// create was interrupted. With ifExists, a missing scenario is not an
// error; found says whether there was one.
//
// It is a connection and two round trips: the transaction with its
// settings and the scenario's record, then the drops, the revokes and
// the metadata's delete with the COMMIT. Nothing it does depends on the
// size of the copies (what does is PostgreSQL freeing their files at the
// commit).
func (m *Manager) Drop(ctx context.Context, name string, ifExists bool) (found bool, err error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	err = m.exec.InTxPipeline(ctx, conn, func(begin []string) error {
		b := &pgx.Batch{}
		for _, s := range begin {
			b.Queue(s)
		}
		b.Queue(`SELECT schema_name, role_name FROM `+m.st("scenario")+` WHERE name = $1::text`, name)
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		for range begin {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
		}
		sc := &Scenario{Name: name}
		err := br.QueryRow().Scan(&sc.Schema, &sc.Role)
		var pe *pgconn.PgError
		switch {
		case errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pe) && pe.Code == "42P01": // no such scenario, or none ever made
			return errNoScenario // rolled back: nothing to drop
		case err != nil:
			return fmt.Errorf("scenario: %w", err)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		found = true
		return m.dropPipeline(ctx, conn, sc)
	})
	if errors.Is(err, errNoScenario) {
		found, err = false, nil
	}
	if err != nil {
		return found, fmt.Errorf("scenario drop %s: %w", name, err)
	}
	if !found && !ifExists {
		return false, fmt.Errorf("scenario drop: %w %q\nhint: strata scenario list shows the scenarios; --if-exists makes this not an error", ErrNotFound, name)
	}
	return found, nil
}

// errNoScenario ends Drop's transaction when there is nothing to drop.
var errNoScenario = errors.New("no scenario to drop")

// dropObjects removes the schema, the role's privileges and the role, and
// the metadata, in one transaction; each step is a no-op for what does not
// exist.
func (m *Manager) dropObjects(ctx context.Context, conn *pgx.Conn, sc *Scenario) error {
	return m.exec.InTxPipeline(ctx, conn, func(begin []string) error {
		b := &pgx.Batch{}
		for _, s := range begin {
			b.Queue(s)
		}
		br := conn.SendBatch(ctx, b)
		for range begin {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		return m.dropPipeline(ctx, conn, sc)
	})
}

// dropPipeline sends, in the transaction open on conn, one pipeline that
// drops sc's schema, revokes its role's privileges in this database (on
// tables, views and sequences, and on schemas: read from the catalog and
// revoked by the server, after the schema's objects are gone), drops the
// role, deletes the metadata (when the metadata tables exist) and commits.
func (m *Manager) dropPipeline(ctx context.Context, conn *pgx.Conn, sc *Scenario) error {
	role := pgquery.Literal(sc.Role)
	// The names are literals in the block's body, and the body a literal.
	body := `DECLARE o text;
BEGIN
	FOR o IN SELECT DISTINCT 'TABLE ' || c.oid::regclass::text FROM pg_class c, aclexplode(c.relacl) a
			WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = ` + role + `)
		UNION SELECT DISTINCT 'SCHEMA ' || quote_ident(n.nspname) FROM pg_namespace n, aclexplode(n.nspacl) a
			WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = ` + role + `)
		ORDER BY 1
	LOOP
		EXECUTE 'REVOKE ALL ON ' || o || ' FROM ' || quote_ident(` + role + `);
	END LOOP;
	IF to_regclass(` + pgquery.Literal(m.st("scenario")) + `) IS NOT NULL THEN
		EXECUTE ` + pgquery.Literal("DELETE FROM "+m.st("scenario")+" WHERE name = $1") + ` USING ` + pgquery.Literal(sc.Name) + `;
	END IF;
END`
	b := &pgx.Batch{}
	b.Queue("DROP SCHEMA IF EXISTS " + pgquery.Ident(sc.Schema) + " CASCADE")
	b.Queue("DO " + pgquery.Literal(body))
	b.Queue("DROP ROLE IF EXISTS " + pgquery.Ident(sc.Role))
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for i := range 4 {
		if _, err := br.Exec(); err != nil {
			if i == 2 {
				return fmt.Errorf("drop role %s: %w\nhint: the role still has privileges or objects in another database: run DROP OWNED BY %s there", sc.Role, err, pgquery.Ident(sc.Role))
			}
			return err
		}
	}
	return br.Close()
}

// Holder is a scenario holding copies of tables a migration phase changes.
type Holder struct {
	Name   string
	Tables []string
}

// Holding returns the scenarios of the managed schema that hold a copy of
// one of tables (nil tables: of any table), with the tables they hold.
func (m *Manager) Holding(ctx context.Context, tables []string) ([]Holder, error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var out []Holder
	err = m.readTx(ctx, conn, func(tx pgx.Tx) error {
		ok, err := m.metaInstalled(ctx, tx)
		if err != nil || !ok {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT t.scenario, array_agg(t.table_name::text ORDER BY t.table_name)
			FROM `+m.st("scenario_table")+` t JOIN `+m.st("scenario")+` s ON s.name = t.scenario
			WHERE s.base_schema = $1 AND ($2::text[] IS NULL OR t.table_name = ANY ($2))
			GROUP BY t.scenario ORDER BY t.scenario`, m.opts.Schema, tables)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Holder, error) {
			var h Holder
			err := r.Scan(&h.Name, &h.Tables)
			return h, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HoldingError is the refusal of a migration start while scenarios hold
// copies of tables it changes.
func HoldingError(hs []Holder) error {
	var parts, names []string
	for _, h := range hs {
		parts = append(parts, h.Name+" ("+strings.Join(h.Tables, ", ")+")")
		names = append(names, h.Name)
	}
	return errors.New("scenarios hold copies of tables this phase changes: " + strings.Join(parts, "; ") +
		"\nhint: promote or drop them first (strata scenario drop " + strings.Join(names, ", ") + "), or run start with --drop-scenarios")
}
