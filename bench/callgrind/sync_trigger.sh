#!/usr/bin/env bash
# Counts the CPU instructions a single-row write costs PostgreSQL with a
# strata phase in progress (the sync trigger and the phase's constraints)
# against the same write to an untouched twin table. Instruction counts from
# valgrind's callgrind do not depend on what else the machine is doing, so
# this is the steady cross-check of the write-overhead benchmark.
#
# Usage (as a user that may run PostgreSQL, not root):
#   bench/callgrind/sync_trigger.sh            # uses pg_config's server binaries
#   PGBIN=/usr/lib/postgresql/16/bin bench/callgrind/sync_trigger.sh
#   STRATA=/path/to/strata bench/callgrind/sync_trigger.sh   # skip building strata
#
# It starts a throwaway cluster in a temporary directory, builds a 100,000-row
# table t and its twin t_twin, starts the benchmark's migration (amount text ->
# bigint, plus score bigint NOT NULL with up) on a fresh copy, then runs the
# backend in single-user mode under callgrind twice, with 500 and 1,500
# prepared single-row statements (80% updates, 20% inserts), and prints the
# difference divided by 1,000: instructions per statement, start-up excluded.
set -euo pipefail
cd "$(dirname "$0")/../.."
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
work=$(mktemp -d)
trap '"$PGBIN/pg_ctl" -D "$work/data" stop -m immediate >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
STRATA=${STRATA:-}
if [ -z "$STRATA" ]; then go build -o "$work/strata" ./cmd/strata; STRATA=$work/strata; fi
"$PGBIN/initdb" -D "$work/data" -A trust -U postgres >/dev/null
opts="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
start() { "$PGBIN/pg_ctl" -D "$work/data" -o "-p $port -k $work -c listen_addresses='' $opts" -l "$work/log" -w start >/dev/null; }
stop() { "$PGBIN/pg_ctl" -D "$work/data" -w stop -m fast >/dev/null; }
export PGOPTIONS='-c client_min_messages=warning'
psql() { command psql -h "$work" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qX "$@"; }
start
psql -d postgres -c "CREATE DATABASE tmpl"
psql -d tmpl -c "CREATE TABLE t (id bigint PRIMARY KEY, payload text NOT NULL, amount text NOT NULL);
  INSERT INTO t SELECT g, md5(g::text), (g * 7)::text FROM generate_series(1, 100000) g;
  CREATE TABLE t_twin (LIKE t INCLUDING ALL); INSERT INTO t_twin SELECT * FROM t;"
psql -d tmpl -c "VACUUM ANALYZE"
mkdir -p "$work/migrations"
cat > "$work/migrations/01_bench.toml" <<'TOML'
[[actions]]
type = "alter_column"
table = "t"
column = "amount"
up = "amount::bigint"
down = "amount::text"
  [actions.changes]
  type = "bigint"

[[actions]]
type = "add_column"
table = "t"
up = "length(payload) * 2"
  [actions.column]
  name = "score"
  type = "bigint"
  nullable = false
TOML

statements() { # table version n
  local table=$1 version=$2 n=$3 amount=text
  if [ "$version" = new ]; then
    echo "SET search_path = public_01_bench, public;"
    amount=bigint
    echo "PREPARE i(bigint, text, bigint) AS INSERT INTO $table (id, payload, amount, score) VALUES (\$1, \$2, \$3, 4);"
  else
    echo "PREPARE i(bigint, text, text) AS INSERT INTO $table (id, payload, amount) VALUES (\$1, \$2, \$3);"
  fi
  echo "PREPARE u(bigint, text, $amount) AS UPDATE $table SET payload = \$2, amount = \$3 WHERE id = \$1;"
  for ((i = 1; i <= n; i++)); do
    if ((i % 5 == 0)); then echo "EXECUTE i($((i + 1000000)), 'x$i', '$((i * 3))');"
    else echo "EXECUTE u($((i * 37 % 100000 + 1)), 'x$i', '$((i * 3))');"; fi
  done
}

measure() { # label table version phase(yes|no)
  local label=$1 table=$2 version=$3 phase=$4 n total=()
  for n in 500 1500; do
    psql -d postgres -c "DROP DATABASE IF EXISTS m" -c "CREATE DATABASE m TEMPLATE tmpl"
    if [ "$phase" = yes ]; then
      "$STRATA" --url "postgres://postgres@/m?host=$work&port=$port" --dir "$work/migrations" start -q >/dev/null
    fi
    psql -d m -c "VACUUM ANALYZE" -c "CHECKPOINT"
    stop
    statements "$table" "$version" "$n" > "$work/s.sql"
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
      "$PGBIN/postgres" --single -D "$work/data" $opts m < "$work/s.sql" > "$work/out" 2> "$work/cg.err"
    if grep -q ERROR "$work/out"; then grep ERROR "$work/out" | head -3 >&2; exit 1; fi
    total+=("$(grep -o 'Collected : [0-9]*' "$work/cg.err" | awk '{print $3}')")
    start
  done
  printf '%-58s %8d instructions per statement\n' "$label" $(((total[1] - total[0]) / 1000))
}

measure "no phase: t_twin" t_twin old no
measure "phase in progress: t, old version (base table)" t old yes
measure "phase in progress: t, new version (through the view)" t new yes
