package engine_test

import "testing"

func TestLifecycleRemoveConstraint(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/remove_constraint/reviews")
		e := newEnv(t, fx.setup())
		before := e.constraints("public", "reviews")
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		// Still enforced for both versions until complete.
		for _, v := range p.both() {
			p.fails(v.c, "23505", "INSERT INTO reviews VALUES (100, 'r1', 1)")
			p.fails(v.c, "23P01", "INSERT INTO reviews VALUES (101, 'top again', 5)")
			p.fails(v.c, "23514", "INSERT INTO reviews VALUES (102, 'bad', 9)")
		}
		p.exec(p.old, "INSERT INTO reviews VALUES (103, 'fine old', 3)")
		p.exec(p.new, "UPDATE reviews SET review = 'edited' WHERE id = 1")
		want(t, "rows", []string{"1|edited", "103|fine old"}, p.q(p.new, "SELECT id, review FROM reviews WHERE id IN (1, 103) ORDER BY id"))
		want(t, "constraints during the phase", before, e.constraints("public", "reviews"))
		if path == "abort" {
			p.abort()
			want(t, "constraints after abort", before, e.constraints("public", "reviews"))
			return
		}
		p.complete()
		want(t, "constraints after complete", []string{"reviews_pkey validated=true: PRIMARY KEY (id)"}, e.constraints("public", "reviews"))
		want(t, "indexes after complete", []string{"reviews_pkey valid=true: CREATE UNIQUE INDEX reviews_pkey ON public.reviews USING btree (id)"},
			e.indexes("public", "reviews"))
		p.exec(p.new, "INSERT INTO reviews VALUES (200, 'edited', 5), (201, 'x', 9)")
	})
}
