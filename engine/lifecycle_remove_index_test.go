package engine_test

import "testing"

func TestLifecycleRemoveIndex(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/remove_index/docs_code_idx")
		e := newEnv(t, tables(t, "docs")+fx.setup())
		migs := e.migs("", fx.migrations()...)
		before := e.indexes("public", "docs")
		p := begin(t, e, "", "", migs)
		// The old version keeps the index until complete; the index added
		// and removed in the same phase is never built.
		want(t, "indexes during the phase", before, e.indexes("public", "docs"))
		p.exec(p.old, "INSERT INTO docs (title, code) VALUES ('o', 'x')")
		p.exec(p.new, "INSERT INTO docs (title, code) VALUES ('n', 'y')")
		if path == "abort" {
			p.abort()
			want(t, "indexes after abort", before, e.indexes("public", "docs"))
			return
		}
		p.complete()
		want(t, "indexes after complete", []string{
			"docs_body_idx valid=true: CREATE INDEX docs_body_idx ON public.docs USING btree (body)",
			"docs_pkey valid=true: CREATE UNIQUE INDEX docs_pkey ON public.docs USING btree (id)",
		}, e.indexes("public", "docs"))
	})
}
