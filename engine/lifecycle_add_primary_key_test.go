package engine_test

import (
	"testing"

	"github.com/stratapg/strata/internal/pgtest"
)

func TestLifecycleAddPrimaryKey(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/add_primary_key/tasks")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		// During the phase: a validated NOT NULL check (a validated NOT
		// NULL constraint on PostgreSQL 18) and the key's unique index hold
		// for both versions; no primary key yet.
		during := []string{
			"_strata_nn_id validated=true: CHECK ((id IS NOT NULL))",
			"tasks_code_key validated=true: UNIQUE (code)",
		}
		if pgtest.ServerMajor(t) >= 18 {
			during = during[1:] // e.constraints leaves NOT NULL constraints out
			want(t, "NOT NULL constraint of id during the phase", []string{"_strata_nn_id|true"}, p.q(e.catalogConn(),
				`SELECT k.conname || '|' || k.convalidated FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
				 WHERE k.conrelid = 'public.tasks'::regclass AND k.contype = 'n' AND a.attname = 'id'`))
		}
		want(t, "constraints during the phase", during, e.constraints("public", "tasks"))
		p.exec(p.old, "INSERT INTO tasks VALUES (100, 'old', 'c100')")
		p.exec(p.new, "INSERT INTO tasks VALUES (101, 'new', 'c101')")
		p.fails(p.old, p.notNull(), "INSERT INTO tasks VALUES (NULL, 'old', 'c102')")
		p.fails(p.new, p.notNull(), "INSERT INTO tasks VALUES (NULL, 'new', 'c103')")
		p.fails(p.old, "23505", "INSERT INTO tasks VALUES (101, 'old', 'c104')")
		p.fails(p.new, "23505", "UPDATE tasks SET id = 100 WHERE id = 101")
		p.exec(p.new, "UPDATE tasks SET title = 'renamed' WHERE id = 100")
		want(t, "rows", []string{"100|renamed", "101|new"}, p.q(p.old, "SELECT id, title FROM tasks WHERE id >= 100 ORDER BY id"))
		if path == "abort" {
			p.abort()
			p.exec(e.catalogConn(), "INSERT INTO tasks VALUES (NULL, 'after abort', 'c200')")
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{
			"tasks_code_key validated=true: UNIQUE (code)",
			"tasks_pkey validated=true: PRIMARY KEY (id) INCLUDE (title)",
		}, e.constraints("public", "tasks"))
		want(t, "id is NOT NULL", []string{"true"}, p.q(e.catalogConn(),
			"SELECT attnotnull FROM pg_attribute WHERE attrelid = 'public.tasks'::regclass AND attname = 'id'"))
		p.fails(p.new, "23502", "INSERT INTO tasks VALUES (NULL, 'new', 'c300')")
		p.exec(p.new, "INSERT INTO tasks VALUES (101, 'x', 'c301') ON CONFLICT ON CONSTRAINT tasks_pkey DO NOTHING")
	})
}
