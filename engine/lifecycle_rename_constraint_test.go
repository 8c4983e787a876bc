package engine_test

import "testing"

func TestLifecycleRenameConstraint(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/rename_constraint/people")
		e := newEnv(t, fx.setup())
		before := []string{
			"name_length validated=true: CHECK ((length(name) < 20))",
			"people_email_unique validated=true: UNIQUE (email)",
			"people_pkey validated=true: PRIMARY KEY (id)",
		}
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		// The old names stay until complete: the old version's ON CONFLICT
		// ON CONSTRAINT keeps working, and both versions are held by them.
		want(t, "constraints during the phase", before, e.constraints("public", "people"))
		for _, v := range p.both() {
			p.exec(v.c, "INSERT INTO people VALUES (1, 'x', 'p1@x') ON CONFLICT ON CONSTRAINT people_email_unique DO UPDATE SET name = '"+v.name+"'")
			p.fails(v.c, "23514", "INSERT INTO people VALUES (100, repeat('n', 30), 'long@x')")
			p.fails(v.c, "23505", "INSERT INTO people VALUES (101, 'dup', 'p2@x')")
		}
		want(t, "row", []string{"1|new"}, p.q(p.old, "SELECT id, name FROM people WHERE id = 1"))
		p.exec(p.new, "INSERT INTO people VALUES (50, 'n50', 'p50@x')")
		if path == "abort" {
			p.abort()
			want(t, "constraints after abort", before, e.constraints("public", "people"))
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{
			"name_length_check validated=true: CHECK ((length(name) < 20))",
			"people_email_key validated=true: UNIQUE (email)",
			"people_pkey validated=true: PRIMARY KEY (id)",
		}, e.constraints("public", "people"))
		want(t, "the unique constraint's index is renamed too", []string{
			"people_email_key valid=true: CREATE UNIQUE INDEX people_email_key ON public.people USING btree (email)",
			"people_pkey valid=true: CREATE UNIQUE INDEX people_pkey ON public.people USING btree (id)",
		}, e.indexes("public", "people"))
		p.exec(p.new, "INSERT INTO people VALUES (2, 'y', 'p2@x') ON CONFLICT ON CONSTRAINT people_email_key DO NOTHING")
	})
}
