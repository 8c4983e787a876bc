package dump_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/engine"
	"github.com/stratapg/strata/internal/pgcluster"
	"github.com/stratapg/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// RichSchema has every kind of object the model knows, with hostile
// identifiers, a partitioned table, an exclusion constraint, a generated
// column, RLS policies and grants to two roles.
const RichSchema = `
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'strata_dump_reader') THEN CREATE ROLE strata_dump_reader; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'Strata "Writer"') THEN CREATE ROLE "Strata ""Writer"""; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END$$;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'it''s "fine"');
CREATE DOMAIN app.posint AS integer DEFAULT 1 NOT NULL CONSTRAINT positive CHECK (VALUE > 0);
CREATE TYPE app."Pair" AS (a integer, b text COLLATE "C");
CREATE SEQUENCE app.counter AS integer INCREMENT BY 5 START WITH 10;
CREATE FUNCTION app.add1(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT x + 1';
CREATE PROCEDURE app."do it"(n integer) LANGUAGE plpgsql AS $$BEGIN PERFORM n; END$$;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.c := NEW.c; RETURN NEW; END$$;
CREATE TABLE app."Users; DROP TABLE x" (
  id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100) PRIMARY KEY,
  "E-mail" text COLLATE "C" NOT NULL CONSTRAINT "e-mail unique" UNIQUE,
  mood app.mood DEFAULT 'ok',
  n app.posint,
  n2 integer GENERATED ALWAYS AS (app.add1(n)) STORED,
  c integer DEFAULT nextval('app.counter'),
  "select" text,
  CONSTRAINT long_enough CHECK (length("E-mail") > 3)
);
COMMENT ON TABLE app."Users; DROP TABLE x" IS 'the users; it''s hostile';
COMMENT ON COLUMN app."Users; DROP TABLE x"."E-mail" IS 'e-mail address';
CREATE TABLE app.serials (id serial PRIMARY KEY, note text);
CREATE TABLE app.events (id integer NOT NULL, at date NOT NULL, payload jsonb, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
CREATE INDEX events_payload ON app.events USING gin (payload);
CREATE TABLE app.bookings (
  id integer PRIMARY KEY,
  user_id bigint REFERENCES app."Users; DROP TABLE x" (id) ON DELETE CASCADE,
  room integer NOT NULL,
  during tsrange NOT NULL,
  EXCLUDE USING gist (room WITH =, during WITH &&)
);
ALTER TABLE app.bookings ADD CONSTRAINT room_small CHECK (room < 1000) NOT VALID;
CREATE UNIQUE INDEX "Bookings by room" ON app.bookings (room, id) WHERE room > 0;
CREATE INDEX bookings_lower ON app.bookings (lower(during));
CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON app."Users; DROP TABLE x" FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE VIEW app.active AS SELECT id, "E-mail", app.add1(n) AS next FROM app."Users; DROP TABLE x" WHERE mood <> 'sad';
CREATE VIEW app.active_ids WITH (security_barrier) AS SELECT id FROM app.active;
CREATE MATERIALIZED VIEW app.room_counts AS SELECT room, count(*) AS n FROM app.bookings GROUP BY room;
CREATE INDEX room_counts_room ON app.room_counts (room);
ALTER TABLE app.bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.bookings FORCE ROW LEVEL SECURITY;
CREATE POLICY "own rooms" ON app.bookings FOR SELECT TO strata_dump_reader USING (room > 10);
CREATE POLICY writers ON app.bookings AS RESTRICTIVE FOR INSERT TO "Strata ""Writer""" WITH CHECK (room < 500);
GRANT USAGE ON SCHEMA app TO strata_dump_reader, "Strata ""Writer""";
GRANT SELECT ON app."Users; DROP TABLE x" TO strata_dump_reader;
GRANT SELECT, INSERT, UPDATE ON app.bookings TO "Strata ""Writer""" WITH GRANT OPTION;
GRANT SELECT ON app.bookings TO strata_dump_reader;
GRANT SELECT ON app.active TO strata_dump_reader;
GRANT USAGE ON SEQUENCE app.counter TO "Strata ""Writer""";
REVOKE EXECUTE ON FUNCTION app.add1(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.add1(integer) TO strata_dump_reader;
COMMENT ON FUNCTION app.add1(integer) IS 'adds one';
`

func dumpOf(t *testing.T, url, schema string) string {
	t.Helper()
	m, err := engine.New(url, engine.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	text, err := m.Dump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func binary(t *testing.T, name string) string {
	t.Helper()
	return pgtest.ClientBinary(t, name)
}

func psql(t *testing.T, url, file string) {
	t.Helper()
	out, err := exec.Command(binary(t, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("psql -f %s: %v\n%s", file, err, out)
	}
}

var pgDumpNoise = regexp.MustCompile(`(?m)^(\\(un)?restrict .*|-- Dumped (from|by) .*)\n`)

func pgDump(t *testing.T, pgDumpBin, url, schema string) string {
	t.Helper()
	out, err := exec.Command(pgDumpBin, "--schema-only", "--schema", schema, "-d", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return pgDumpNoise.ReplaceAllString(string(out), "")
}

// TestRoundTrip: dump, restore with psql into an empty database, dump
// again: byte-identical; pg_dump (the oracle) sees the same two schemas.
func TestRoundTrip(t *testing.T) {
	src := pgtest.New(t)
	src.Exec(t, RichSchema)
	first := dumpOf(t, src.URL, "app")
	for _, want := range []string{`CREATE TABLE app."Users; DROP TABLE x"`, "EXCLUDE USING gist", "PARTITION BY RANGE (at)",
		"GENERATED ALWAYS AS (app.add1((n)::integer)) STORED", `CREATE POLICY "own rooms"`, `TO "Strata ""Writer"""`, "CREATE EXTENSION IF NOT EXISTS btree_gist"} {
		if !strings.Contains(first, want) {
			t.Errorf("the dump lacks %q:\n%s", want, first)
		}
	}
	file := filepath.Join(t.TempDir(), "structure.sql")
	if err := os.WriteFile(file, []byte(first), 0o666); err != nil {
		t.Fatal(err)
	}
	dst := pgtest.New(t)
	psql(t, dst.URL, file)
	second := dumpOf(t, dst.URL, "app")
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("the dump of the restored database differs (-first +second):\n%s", diff)
	}
	pd := binary(t, "pg_dump")
	if diff := cmp.Diff(pgDump(t, pd, src.URL, "app"), pgDump(t, pd, dst.URL, "app")); diff != "" {
		t.Errorf("pg_dump --schema-only of the two databases differs (-original +restored):\n%s", diff)
	}
}

// TestDeterministic: unrelated activity (inserts, vacuum, analyze) does
// not change the dump.
func TestDeterministic(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, RichSchema)
	before := dumpOf(t, db.URL, "app")
	db.Exec(t, `INSERT INTO app."Users; DROP TABLE x" ("E-mail", n) SELECT 'user' || i || '@x', i FROM generate_series(1, 500) i;
		INSERT INTO app.events SELECT i, date '2024-06-01' + i FROM generate_series(1, 500) i;
		SELECT nextval('app.counter'); REFRESH MATERIALIZED VIEW app.room_counts`)
	db.Exec(t, `VACUUM ANALYZE`)
	if diff := cmp.Diff(before, dumpOf(t, db.URL, "app")); diff != "" {
		t.Fatalf("the dump changed after inserts, vacuum and analyze:\n%s", diff)
	}
}

// TestDeterministicAcrossRestart: a private cluster, restarted between two
// dumps (with activity before), gives the same bytes.
func TestDeterministicAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private cluster")
	}
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot start a private cluster: %v", err)
	}
	defer c.Stop()
	url := c.URL("postgres")
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, RichSchema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	before := dumpOf(t, url, "app")
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`INSERT INTO app.bookings VALUES (1, NULL, 5, '[2024-01-01,2024-01-02)')`, `VACUUM ANALYZE`, `CHECKPOINT`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	if diff := cmp.Diff(before, dumpOf(t, url, "app")); diff != "" {
		t.Fatalf("the dump changed across a restart:\n%s", diff)
	}
}
