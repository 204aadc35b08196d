#!/bin/bash
# Fleet benchmark (see ../README.md "Fleet" for the figures), as root, serialised with the tests:
#   flock -o /tmp/tlsfence-world.lock tests/bench/fleet/run.sh [-b BUILD_DIR] [-d SECONDS] [-r ROUNDS] [-c "1 16 64"] [-n COLD_ROUNDS] [-p 1|2|12]
# Starts the test world and its PostgreSQL (tests/world/up.sh, pg.sh start; both stopped again at
# the end), creates a database and role as README "Running a fleet" says, then:
#   1. cache hits: the socketmap benchmark (../socketmap/run.sh -u) with tlsfenced using that
#      database ([fleet] postgresql) against the same binary without it (-B), interleaved, the
#      same load generator; the database's committed transactions during it are counted (hits
#      must not touch it: only the host's 30 s heartbeat and its start-up).
#   2. a cold miss answered from PostgreSQL: cold_miss.py (two hosts in the world; p50/p99 of a
#      full resolve, a read from PostgreSQL, a memory hit).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD="$ROOT/build/bench"
DURATION=4
ROUNDS=3
CONNS="1 16 64"
COLD=20
PARTS=12
while getopts "b:d:r:c:n:p:" opt; do
  case $opt in
    b) BUILD=$(cd "$OPTARG" && pwd) ;;
    d) DURATION=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    n) COLD=$OPTARG ;;
    p) PARTS=$OPTARG ;;
    *) sed -n '2,3p' "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (the test world)" >&2; exit 2; }
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target tlsfenced tlsfence bench_socketmap >/dev/null

RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
PSQL=/usr/lib/postgresql/15/bin/psql
DB=fleet_bench_$$
WORK=$(mktemp -d /tmp/tlsfence-fleet-bench.XXXXXX)
cleanup() {
  [ -s "$RUN/pg/pg.env" ] && $PSQL -h "$RUN/pg/sock" -p "$PG_PORT" -U postgres -d postgres -Atqc \
    "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  "$ROOT/tests/world/pg.sh" stop >/dev/null 2>&1 || true
  "$ROOT/tests/world/down.sh" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$ROOT/tests/world/up.sh" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; exit 1; }
"$ROOT/tests/world/pg.sh" start >/dev/null
source "$RUN/pg/pg.env"
sql() { PGOPTIONS="-c client_min_messages=warning" $PSQL -h "$PG_SOCK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -Atq "$@"; }
PW=bench-$$-pw
sql -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tlsfence') THEN
                    CREATE ROLE tlsfence LOGIN; END IF; END\$\$" -c "ALTER ROLE tlsfence PASSWORD '$PW'" \
    -c "CREATE DATABASE $DB" -c "REVOKE ALL ON DATABASE $DB FROM PUBLIC" -c "GRANT CONNECT ON DATABASE $DB TO tlsfence" \
    -c "ALTER ROLE tlsfence IN DATABASE $DB SET search_path = tlsfence"
sql -d "$DB" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" -c "CREATE SCHEMA tlsfence AUTHORIZATION tlsfence"
CONNINFO="host=$PG_ADDR port=$PG_PORT dbname=$DB user=tlsfence password=$PW"
xacts() { sql -d postgres -c "SELECT pg_stat_force_next_flush()" >/dev/null;
          sql -d postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"; }

if [[ $PARTS == *1* ]]; then
echo "== 1. cache hits: tlsfenced with [fleet] postgresql (A) vs without (baseline), same binary, same run"
sleep 2; before=$(xacts)
t0=$(date +%s)
"$ROOT/tests/bench/socketmap/run.sh" -u -b "$BUILD" -d "$DURATION" -r "$ROUNDS" -c "$CONNS" \
  -B "$BUILD/src/app/tlsfenced" -F "$CONNINFO"
sleep 2; after=$(xacts)
echo "fleet database: hosts seen: $(sql -d "$DB" -c "SELECT string_agg(host || '/' || program, ' ') FROM tlsfence.tlsfence_hosts");" \
     "transactions during part 1 ($(( $(date +%s) - t0 )) s, every request a hit): $((after - before))"
echo
fi
if [[ $PARTS == *2* ]]; then
echo "== 2. a cold miss answered from PostgreSQL"
python3 "$HERE/cold_miss.py" "$BUILD/src/app/tlsfenced" "$BUILD/src/app/tlsfence" "$CONNINFO" "$WORK" "$COLD"
fi
