package engine_test

import "testing"

func TestLifecycleAddUnique(t *testing.T) {
	bothPaths(t, func(t *testing.T, path string) {
		fx := loadFixture(t, "lifecycle/add_unique/tickets")
		e := newEnv(t, fx.setup())
		p := begin(t, e, "", "", e.migs("", fx.migrations()...))
		// Built at start, attached as a constraint only at complete.
		want(t, "index during the phase", append([]string{"tickets_pkey valid=true: CREATE UNIQUE INDEX tickets_pkey ON public.tickets USING btree (ticket_id)"},
			fx.lines("want/index")...), e.indexes("public", "tickets"))
		want(t, "constraints during the phase", []string{"tickets_pkey validated=true: PRIMARY KEY (ticket_id)"}, e.constraints("public", "tickets"))
		// Both versions write; the index holds for both.
		p.exec(p.old, "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('old', 1)")
		p.exec(p.new, "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('new', 1)")
		p.fails(p.old, "23505", "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('new', 1)")
		p.fails(p.new, "23505", "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('seller 7', 7)")
		p.fails(p.new, "23505", "UPDATE tickets SET sellers_name = 'seller 2', sellers_zip = 2 WHERE sellers_name = 'old'")
		// ON CONFLICT on the columns works from start, through the view too.
		p.exec(p.new, "INSERT INTO tickets (sellers_name, sellers_zip, note) VALUES ('new', 1, 'x') ON CONFLICT (sellers_name, sellers_zip) DO UPDATE SET note = 'upserted'")
		want(t, "rows", []string{"old|1|NULL", "new|1|upserted"},
			p.q(p.old, "SELECT sellers_name, sellers_zip, note FROM tickets WHERE sellers_name IN ('old', 'new') ORDER BY ticket_id"))
		if path == "abort" {
			p.abort()
			p.exec(e.catalogConn(), "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('new', 1)")
			return
		}
		p.complete()
		want(t, "constraints after complete", append([]string{"tickets_pkey validated=true: PRIMARY KEY (ticket_id)"}, fx.lines("want/constraint")...),
			e.constraints("public", "tickets"))
		want(t, "index after complete", append([]string{"tickets_pkey valid=true: CREATE UNIQUE INDEX tickets_pkey ON public.tickets USING btree (ticket_id)"},
			fx.lines("want/index")...), e.indexes("public", "tickets"))
		// PostgreSQL takes no deferrable constraint as an ON CONFLICT arbiter.
		p.fails(p.new, "55000", "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('new', 1) ON CONFLICT ON CONSTRAINT unique_zip_name DO NOTHING")
		p.fails(p.new, "23505", "INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('new', 1)")
	})
}
