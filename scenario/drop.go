package scenario

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

// Drop drops a scenario's schema (its copies and change logs), its role
// and its metadata, in one transaction. It also clears a scenario whose
// create was interrupted. With ifExists, a missing scenario is not an
// error; found says whether there was one.
func (m *Manager) Drop(ctx context.Context, name string, ifExists bool) (found bool, err error) {
	conn, err := m.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var sc *Scenario
	err = m.readTx(ctx, conn, func(tx pgx.Tx) error {
		sc, err = m.loadMeta(ctx, tx, name)
		return err
	})
	if err != nil {
		return false, err
	}
	if sc == nil {
		if ifExists {
			return false, nil
		}
		return false, fmt.Errorf("scenario drop: %w %q\nhint: strata scenario list shows the scenarios; --if-exists makes this not an error", ErrNotFound, name)
	}
	if err := m.dropObjects(ctx, conn, sc); err != nil {
		return true, fmt.Errorf("scenario drop %s: %w", name, err)
	}
	return true, nil
}

// dropObjects removes the schema, the role's privileges and the role, and
// the metadata; each step is a no-op for what does not exist.
func (m *Manager) dropObjects(ctx context.Context, conn *pgx.Conn, sc *Scenario) error {
	return m.exec.InTx(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgquery.Ident(sc.Schema)+" CASCADE"); err != nil {
			return err
		}
		// The role's privileges in this database (on tables, views and
		// sequences, and on schemas), read and revoked in one round trip
		// each, then the role.
		var roleExists bool
		var objs []string
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1), coalesce(array(
				SELECT DISTINCT 'TABLE ' || c.oid::regclass::text FROM pg_class c, aclexplode(c.relacl) a
					WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
				UNION SELECT DISTINCT 'SCHEMA ' || quote_ident(n.nspname) FROM pg_namespace n, aclexplode(n.nspacl) a
					WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)), '{}')`, sc.Role).Scan(&roleExists, &objs); err != nil {
			return err
		}
		if roleExists {
			sort.Strings(objs)
			var stmts []string
			for _, o := range objs {
				stmts = append(stmts, "REVOKE ALL ON "+o+" FROM "+pgquery.Ident(sc.Role))
			}
			if len(stmts) > 0 {
				if _, err := tx.Exec(ctx, strings.Join(stmts, ";\n")); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, "DROP ROLE "+pgquery.Ident(sc.Role)); err != nil {
				return fmt.Errorf("drop role %s: %w\nhint: the role still has privileges or objects in another database: run DROP OWNED BY %s there", sc.Role, err, pgquery.Ident(sc.Role))
			}
		}
		ok, err := m.metaInstalled(ctx, tx)
		if err != nil || !ok {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+m.st("scenario")+` WHERE name = $1`, sc.Name)
		return err
	})
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
