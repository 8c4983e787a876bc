package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgtest"
)

// asRole runs fn on a new connection that has SET ROLE role.
func asRole(t *testing.T, e *env, role string, fn func(c *pgx.Conn)) {
	t.Helper()
	c := e.db.Conn(t)
	exec(t, e.ctx, c, "SET ROLE "+role)
	fn(c)
	exec(t, e.ctx, c, "RESET ROLE")
}

// TestLifecycleCarry: a column that other objects depend on has its type
// changed and is made NOT NULL (through a shadow column). Each case is one
// kind of dependent object: after complete it exists on the final column
// and works; after abort the catalog is as before.
func TestLifecycleCarry(t *testing.T) {
	cases := []struct {
		// name is the case's archive in testdata/lifecycle/carry: setup.sql
		// is run after tables/carry ({role} is a role made for the test);
		// the migration is migrations/001_carry.toml, or when there is none
		// tables/carry's alter_v.toml.
		name string
		// during runs between start and complete, after after complete.
		during, after func(t *testing.T, p *phase, role string)
		// minMajor: on older servers start must refuse, with refusal in
		// its message (row security needs security_invoker views, 15+).
		minMajor int
		refusal  string
	}{{
		name: "indexes",
		during: func(t *testing.T, p *phase, role string) {
			// Built on the shadow column under temporary names.
			want(t, "temporary indexes", []string{
				"_strata_1_items_label valid=true:", "_strata_1_items_v2_expr valid=true:",
				"_strata_1_items_v_partial valid=true:", "_strata_1_items_w_v valid=true:"},
				firstWords(withSubstring(p.e.indexes("public", "items"), "_strata_"), 2))
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "indexes after complete", []string{
				"items_label valid=true: CREATE INDEX items_label ON public.items USING btree (label) WHERE (v IS NOT NULL)",
				"items_pkey valid=true: CREATE UNIQUE INDEX items_pkey ON public.items USING btree (id)",
				"items_v2_expr valid=true: CREATE INDEX items_v2_expr ON public.items USING btree (((v * 2))) WHERE (w = 3)",
				"items_v_partial valid=true: CREATE INDEX items_v_partial ON public.items USING btree (v) WHERE (v > 100)",
				"items_w_v valid=true: CREATE INDEX items_w_v ON public.items USING btree (w, v) INCLUDE (label)",
			}, p.e.indexes("public", "items"))
			p.e.usesIndex(t, "items_v_partial", "SELECT id FROM items WHERE v > 200 AND v < 210")
			p.e.usesIndex(t, "items_v2_expr", "SELECT id FROM items WHERE v * 2 = 42 AND w = 3")
			want(t, "index comment", []string{"hot rows"}, p.q(p.e.catalogConn(), "SELECT obj_description('items_v_partial'::regclass, 'pg_class')"))
		},
	}, {
		name: "unique",
		during: func(t *testing.T, p *phase, role string) {
			p.fails(p.old, "23505", "INSERT INTO items (id, v) VALUES (1001, 5)")
			p.fails(p.new, "23505", "INSERT INTO items (id, v) VALUES (1001, 5)")
			p.fails(p.new, "23505", "INSERT INTO items (id, v) VALUES (1001, -50)") // the backfilled value of row 50
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "constraint", []string{"items_v_key validated=true: UNIQUE (v)"}, withSubstring(p.e.constraints("public", "items"), "items_v_key"))
			p.fails(p.new, "23505", "INSERT INTO items (id, v) VALUES (1002, 7)")
			want(t, "comment", []string{"one per v"}, p.q(p.e.catalogConn(),
				"SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conname = 'items_v_key'"))
		},
	}, {
		name: "primary_key",
		during: func(t *testing.T, p *phase, role string) {
			for _, c := range p.both() {
				p.exec(c.c, "INSERT INTO items (id, label) VALUES (1000, 'ins') ON CONFLICT (id) DO UPDATE SET label = 'upd-"+c.name+"'")
			}
			want(t, "upserted", []string{"upd-new"}, p.q(p.old, "SELECT label FROM items WHERE id = 1000"))
			p.fails(p.old, "23505", "INSERT INTO items (id) VALUES (1)")
			p.fails(p.new, "23505", "INSERT INTO items (id) VALUES (1)")
			p.fails(p.old, "23503", "INSERT INTO children VALUES (999, 5000)")
			p.fails(p.new, "23503", "INSERT INTO children VALUES (999, 5000)")
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "key", []string{"items_pkey validated=true: PRIMARY KEY (id)"}, withSubstring(p.e.constraints("public", "items"), "pkey"))
			want(t, "id column", []string{"id bigint not null"}, withSubstring(p.e.columns("public", "items"), "id "))
			want(t, "inbound key", []string{"children_item_id_fkey validated=true: FOREIGN KEY (item_id) REFERENCES items(id) ON DELETE CASCADE"},
				withSubstring(p.e.constraints("public", "children"), "fkey"))
			p.fails(p.new, "23505", "INSERT INTO items (id) VALUES (2)")
			p.fails(p.new, "23503", "INSERT INTO children VALUES (999, 5000)")
			p.exec(p.new, "DELETE FROM items WHERE id = 3")
			want(t, "cascaded", []string{"0"}, p.q(p.new, "SELECT count(*) FROM children WHERE item_id = 3"))
			want(t, "replica identity", []string{"d"}, p.q(p.e.catalogConn(), "SELECT relreplident::text FROM pg_class WHERE oid = 'items'::regclass"))
		},
	}, {
		name: "check",
		during: func(t *testing.T, p *phase, role string) {
			p.fails(p.old, "23514", "UPDATE items SET v = 1000 WHERE id = 1")
			p.fails(p.new, "23514", "INSERT INTO items (id, v) VALUES (1001, 1000)")
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "checks", []string{
				"items_v_check validated=true: CHECK (((v <> 1000) AND (v > (w - 1000))))",
				"items_v_nv validated=false: CHECK ((v < 100000)) NOT VALID",
			}, withSubstring(p.e.constraints("public", "items"), "CHECK"))
			p.fails(p.new, "23514", "INSERT INTO items (id, v) VALUES (1001, 1000)")
			p.fails(p.new, "23514", "INSERT INTO items (id, v) VALUES (1001, 100001)")
		},
	}, {
		name: "exclusion",
		during: func(t *testing.T, p *phase, role string) {
			p.fails(p.old, "23P01", "INSERT INTO bookings VALUES (1001, int4range(12, 14))")
			p.fails(p.new, "23P01", "INSERT INTO bookings VALUES (1001, int8range(12, 14))")
			p.exec(p.new, "INSERT INTO bookings VALUES (1001, int8range(6, 9))")
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "constraint", []string{"bookings_no_overlap validated=true: EXCLUDE USING gist (span WITH &&)"},
				withSubstring(p.e.constraints("public", "bookings"), "overlap"))
			want(t, "column", []string{"span int8range not null"}, withSubstring(p.e.columns("public", "bookings"), "span "))
			p.fails(p.new, "23P01", "INSERT INTO bookings VALUES (1002, int8range(7, 8))")
		},
	}, {
		name: "foreign_key_outbound",
		during: func(t *testing.T, p *phase, role string) {
			p.fails(p.old, "23503", "INSERT INTO items (id, w) VALUES (1001, 99)")
			p.fails(p.new, "23503", "INSERT INTO items (id, w) VALUES (1001, 99)")
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "key", []string{"items_w_fkey validated=true: FOREIGN KEY (w) REFERENCES weights(id) ON UPDATE CASCADE"},
				withSubstring(p.e.constraints("public", "items"), "fkey"))
			p.fails(p.new, "23503", "INSERT INTO items (id, w) VALUES (1001, 99)")
			p.exec(p.new, "UPDATE weights SET id = 60 WHERE id = 6")
			want(t, "cascaded", []string{"43"}, p.q(p.new, "SELECT count(*) FROM items WHERE w = 60"))
		},
	}, {
		name: "foreign_key_inbound",
		during: func(t *testing.T, p *phase, role string) {
			p.fails(p.old, "23503", "INSERT INTO children VALUES (999, 5000)")
			p.fails(p.new, "23503", "INSERT INTO children VALUES (999, 5000)")
			p.exec(p.new, "INSERT INTO children VALUES (998, 7)")
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "inbound key", []string{"children_item_v_fkey validated=true: FOREIGN KEY (item_v) REFERENCES items(v) ON DELETE CASCADE"},
				withSubstring(p.e.constraints("public", "children"), "fkey"))
			p.fails(p.new, "23503", "INSERT INTO children VALUES (999, 5000)")
			p.exec(p.new, "DELETE FROM items WHERE v = 7")
			want(t, "cascaded", []string{"0"}, p.q(p.new, "SELECT count(*) FROM children WHERE item_v = 7"))
		},
	}, {
		name: "identity",
		during: func(t *testing.T, p *phase, role string) {
			want(t, "old insert", []string{"101"}, p.q(p.old, "INSERT INTO seqs (name) VALUES ('old') RETURNING id"))
			// A new-version insert draws from the same sequence (the old
			// column's identity is drawn too: a gap).
			want(t, "new insert", []string{"105"}, p.q(p.new, "INSERT INTO seqs (name) VALUES ('new') RETURNING id"))
			want(t, "rows, old version", []string{"101|old", "105|new"}, p.q(p.old, "SELECT id, name FROM seqs WHERE id > 100 ORDER BY id"))
			p.fails(p.old, "428C9", "INSERT INTO seqs (id, name) VALUES (5000, 'x')")
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "column", []string{"id bigint not null identity always"}, withSubstring(p.e.columns("public", "seqs"), "id "))
			want(t, "insert after complete", []string{"107"}, p.q(p.new, "INSERT INTO seqs (name) VALUES ('later') RETURNING id"))
			p.fails(p.new, "428C9", "INSERT INTO seqs (id, name) VALUES (5000, 'x')")
			want(t, "sequence", []string{"public.seqs_id_seq"}, p.q(p.e.catalogConn(), "SELECT pg_get_serial_sequence('seqs', 'id')"))
		},
	}, {
		name: "serial",
		during: func(t *testing.T, p *phase, role string) {
			want(t, "old insert", []string{"51"}, p.q(p.old, "INSERT INTO sers (name) VALUES ('old') RETURNING id"))
			want(t, "new insert", []string{"53"}, p.q(p.new, "INSERT INTO sers (name) VALUES ('new') RETURNING id"))
		},
		after: func(t *testing.T, p *phase, role string) {
			want(t, "column", []string{"id bigint not null default nextval('sers_id_seq'::regclass)"}, withSubstring(p.e.columns("public", "sers"), "id "))
			want(t, "sequence", []string{"public.sers_id_seq"}, p.q(p.e.catalogConn(), "SELECT pg_get_serial_sequence('sers', 'id')"))
			want(t, "insert after complete", []string{"54"}, p.q(p.new, "INSERT INTO sers (name) VALUES ('later') RETURNING id"))
		},
	}, {
		name: "grants",
		after: func(t *testing.T, p *phase, role string) {
			asRole(t, p.e, role, func(c *pgx.Conn) {
				want(t, "column privilege", []string{"5"}, p.q(c, "SELECT v FROM items WHERE id = 5"))
				p.exec(c, "UPDATE items SET v = 6000 WHERE id = 6")
				p.fails(c, "42501", "SELECT label FROM items WHERE id = 5")
			})
			want(t, "grant option", []string{"true"}, p.q(p.e.catalogConn(),
				"SELECT has_column_privilege($1, 'items', 'v', 'UPDATE WITH GRANT OPTION')", strings.Trim(role, `"`)))
		},
	}, {
		name: "policy", minMajor: 15, refusal: "has row-level security and this phase needs a version view in front of it",
		during: func(t *testing.T, p *phase, role string) {
			asRole(t, p.e, role, func(c *pgx.Conn) {
				// Even v; the 6 rows with a NULL v are not visible.
				want(t, "visible rows", []string{"144"}, p.q(c, "SELECT count(*) FROM items"))
			})
		},
		after: func(t *testing.T, p *phase, role string) {
			asRole(t, p.e, role, func(c *pgx.Conn) {
				// The NULLs became -id, all even.
				want(t, "visible rows", []string{"150"}, p.q(c, "SELECT count(*) FROM items"))
				p.fails(c, "42501", "INSERT INTO items (id, v) VALUES (1001, -5)")
				p.exec(c, "INSERT INTO items (id, v) VALUES (1002, 5)")
			})
			want(t, "policies on v", []string{"2"}, p.q(p.e.catalogConn(),
				`SELECT count(*) FROM pg_depend WHERE classid = 'pg_policy'::regclass AND refobjid = 'items'::regclass
				 AND refobjsubid = (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v')`))
		},
	}, {
		name: "statistics",
		after: func(t *testing.T, p *phase, role string) {
			want(t, "attributes", []string{"500|{n_distinct=100}"}, p.q(p.e.catalogConn(),
				`SELECT attstattarget, ARRAY(SELECT o FROM unnest(attoptions) o WHERE o NOT LIKE 'pg\_%')::text
				 FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v'`))
			// Statistics list their columns in table order: v is now last.
			want(t, "statistics", []string{"CREATE STATISTICS public.items_vw (ndistinct, dependencies) ON w, v FROM items|v and w"},
				p.q(p.e.catalogConn(), "SELECT pg_get_statisticsobjdef(oid), obj_description(oid, 'pg_statistic_ext') FROM pg_statistic_ext"))
			p.exec(p.e.catalogConn(), "ANALYZE items")
			want(t, "statistics computed", []string{"true"}, p.q(p.e.catalogConn(),
				"SELECT n_distinct IS NOT NULL FROM pg_stats_ext WHERE statistics_name = 'items_vw'"))
		},
	}, {
		name: "collation_replica_identity",
		after: func(t *testing.T, p *phase, role string) {
			want(t, "column", []string{"label|character varying(40)|C"}, p.q(p.e.catalogConn(),
				`SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.collname FROM pg_attribute a
				 JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = 'items'::regclass AND a.attname = 'label'`))
			want(t, "index", []string{"items_label_key|true|true"}, p.q(p.e.catalogConn(),
				`SELECT c.relname, x.indisreplident, x.indisclustered FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
				 WHERE x.indrelid = 'items'::regclass AND NOT x.indisprimary`))
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bothPaths(t, func(t *testing.T, path string) {
				fx := loadFixture(t, "lifecycle/carry/"+c.name)
				e := newEnv(t, tables(t, "carry"))
				role := pgx.Identifier{e.db.Name + "_r"}.Sanitize()
				if strings.Contains(fx.setup(), "{role}") {
					admin := e.catalogConn()
					exec(t, e.ctx, admin, "CREATE ROLE "+role+" NOLOGIN")
					t.Cleanup(func() {
						ctx := context.Background()
						admin.Exec(ctx, "DROP OWNED BY "+role)
						if _, err := admin.Exec(ctx, "DROP ROLE "+role); err != nil {
							t.Errorf("drop role %s: %v", role, err)
						}
					})
				}
				if fx.setup() != "" {
					e.db.Exec(t, strings.ReplaceAll(fx.setup(), "{role}", role))
				}
				mig := []string{"001_carry.toml", loadFixture(t, "tables/carry").file("alter_v.toml")}
				if fx.has("migrations/001_carry.toml") {
					mig = fx.migrations()
				}
				if c.minMajor > 0 && pgtest.ServerMajor(t) < c.minMajor {
					before := e.snapshot("public")
					if _, err := e.m.Start(e.ctx, e.migs("", mig...)); err == nil || !strings.Contains(err.Error(), c.refusal) {
						t.Fatalf("PostgreSQL %d: start: %v, want a refusal: %s", pgtest.ServerMajor(t), err, c.refusal)
					}
					if diff := cmp.Diff(before, e.snapshot("public")); diff != "" {
						t.Errorf("the refused start changed the database (-before +after):\n%s", diff)
					}
					return
				}
				p := begin(t, e, "", "", e.migs("", mig...))
				// Both versions read and write through the phase.
				if c.during != nil {
					c.during(t, p, role)
				}
				if path == "abort" {
					p.abort()
					return
				}
				p.complete()
				if c.after != nil {
					c.after(t, p, role)
				}
			})
		})
	}
}

// firstWords keeps the first n words of each row.
func firstWords(rows []string, n int) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		f := strings.Fields(r)
		if len(f) > n {
			f = f[:n]
		}
		out[i] = strings.Join(f, " ")
	}
	return out
}

// TestCarryRefusals: what cannot be carried to a new column is refused at
// start, before anything changes, with an error naming every such object.
func TestCarryRefusals(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, "refusals/carry")
	e := newEnv(t, tables(t, "carry")+fx.setup())
	startFails(t, e, "", e.migs("", "001_x.toml", loadFixture(t, "tables/carry").file("alter_v.toml")), fx.lines("want/error")...)
	// A carried object that does not fit the new type is reported too.
	c := fx.sub("label_to_integer")
	startFails(t, e, "", e.migs("", c.migrations()...), c.lines("want/error")...)
}
