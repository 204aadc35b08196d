#!/usr/bin/env bash
# pg.sh start|stop|status|smoke|tls on|off — the test world's private PostgreSQL 15 (fleet tests, TESTWORLD.md).
#   start: initdb into $RUN/pg/data (kept across runs: a second start only starts it; a running
#          one is left as it is), listen on
#          $PG_ADDR:$PG_PORT (never 5432) and on the socket directory $RUN/pg/sock, fsync off;
#          waits until it answers; writes $RUN/pg/pg.env (PG_ADDR, PG_PORT, PG_SOCK, PG_SUPER).
#   stop:  pg_ctl -m fast stop of that data directory, then its postmaster.pid's PID if still
#          alive and it is a postgres of that directory (never by process name).
#   tls on|off: TLS on the running server (ssl = on with $RUN/pki/pg.pem, pg.fleet.test and
#          $PG_ADDR, issued by the world's CA) or off again (the default), by ALTER SYSTEM and a
#          reload; waits until a new connection sees the change. Connections already open keep
#          what they had.
# Trust authentication on loopback only: the tests give a password anyway (it must never be
# logged); the superuser "postgres" creates one database per test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
P=$RUN/pg
D=$P/data
as_pg() { runuser -u postgres -- "$@"; }

start() {
  [ "$(id -u)" = 0 ] || die "must run as root (runs PostgreSQL as user postgres)"
  [ -x "$PGBIN/initdb" ] || die "missing $PGBIN/initdb (apt-get install postgresql-15)"
  mkdir -p "$P/sock"
  chmod 755 "$RUN" 2>/dev/null || true
  chown postgres:postgres "$P" "$P/sock"
  chmod 755 "$P"
  if [ ! -s "$D/PG_VERSION" ]; then
    rm -rf "$D"
    as_pg "$PGBIN/initdb" -D "$D" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
      >"$P/initdb.log" 2>&1 || { tail -n 20 "$P/initdb.log" >&2; die "initdb failed (see $P/initdb.log)"; }
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$D" status >/dev/null 2>&1; then
    echo "PostgreSQL already running on $PG_ADDR:$PG_PORT"
  else
    as_pg "$PGBIN/pg_ctl" -D "$D" -l "$P/postgresql.log" -w -t 20 -o \
      "-c listen_addresses=$PG_ADDR -p $PG_PORT -c unix_socket_directories=$P/sock -c fsync=off \
       -c full_page_writes=off -c synchronous_commit=off -c max_connections=100" \
      start >"$P/pg_ctl.log" 2>&1 \
      || { tail -n 20 "$P/postgresql.log" >&2; die "PostgreSQL did not start (see $P/postgresql.log)"; }
  fi
  "$PGBIN/psql" -h "$P/sock" -p "$PG_PORT" -U postgres -d postgres -Atqc "SELECT 1" >/dev/null \
    || die "PostgreSQL on $P/sock:$PG_PORT does not answer"
  cat > "$P/pg.env" <<EOT
PG_ADDR=$PG_ADDR
PG_PORT=$PG_PORT
PG_SOCK=$P/sock
PG_SUPER=postgres
EOT
  chmod 644 "$P/pg.env"
  echo "PostgreSQL up on $PG_ADDR:$PG_PORT (socket $P/sock)"
}

stop() {
  [ -d "$D" ] || return 0
  local pf=$D/postmaster.pid pid
  if [ -s "$pf" ]; then
    pid=$(head -n1 "$pf" | tr -dc 0-9)
    as_pg "$PGBIN/pg_ctl" -D "$D" -m fast -w -t 10 stop >/dev/null 2>&1 || true
    if [ -n "$pid" ] && alive "$pid" && pid_matches "$pid" "$D"; then
      kill -TERM "$pid" 2>/dev/null || true; sleep 1
      alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped PostgreSQL"
  fi
}

# tls on|off: the server's ssl setting, reloaded (no restart), checked over TCP.
tls() {
  local sql want psql=("$PGBIN/psql" -h "$P/sock" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq)
  case "$1" in
    on)
      [ -s "$RUN/pki/pg.pem" ] && [ -s "$RUN/pki/pg.key" ] || die "no $RUN/pki/pg.pem (gen-pki.sh)"
      install -d -o postgres -g postgres -m 700 "$P/tls"
      install -o postgres -g postgres -m 600 "$RUN/pki/pg.chain.pem" "$P/tls/server.pem"
      install -o postgres -g postgres -m 600 "$RUN/pki/pg.key" "$P/tls/server.key"
      sql=(-c "ALTER SYSTEM SET ssl_cert_file = '$P/tls/server.pem'" -c "ALTER SYSTEM SET ssl_key_file = '$P/tls/server.key'"
           -c "ALTER SYSTEM SET ssl = on")
      want=t ;;
    off) sql=(-c "ALTER SYSTEM RESET ssl" -c "ALTER SYSTEM RESET ssl_cert_file" -c "ALTER SYSTEM RESET ssl_key_file"); want=f ;;
    *) die "usage: $0 tls on|off" ;;
  esac
  "${psql[@]}" "${sql[@]}" -c "SELECT pg_reload_conf()" >/dev/null || die "cannot change ssl (see $P/postgresql.log)"
  local i got
  for i in $(seq 50); do
    got=$(PGSSLMODE=prefer "$PGBIN/psql" -h "$PG_ADDR" -p "$PG_PORT" -U postgres -d postgres -Atq \
          -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>/dev/null || true)
    [ "$got" = "$want" ] && { echo "PostgreSQL on $PG_ADDR:$PG_PORT: TLS $1"; return 0; }
    sleep 0.1
  done
  die "PostgreSQL did not turn TLS $1 (see $P/postgresql.log)"
}

# smoke: it answers over TCP on loopback as the tests connect (a role, a database, a query).
smoke() {
  local q=(-h "$PG_ADDR" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -Atq)
  export PGOPTIONS="-c client_min_messages=warning"
  "$PGBIN/psql" "${q[@]}" -d postgres -c "SELECT 1" | grep -qx 1 || die "no answer on $PG_ADDR:$PG_PORT"
  "$PGBIN/psql" "${q[@]}" -d postgres -c "DROP DATABASE IF EXISTS smoke" -c "CREATE DATABASE smoke" \
    || die "cannot create a database"
  [ "$("$PGBIN/psql" "${q[@]}" -d smoke -c "SELECT current_setting('port')")" = "$PG_PORT" ] \
    || die "database smoke does not answer"
  "$PGBIN/psql" "${q[@]}" -d postgres -c "DROP DATABASE smoke" || die "cannot drop a database"
  echo "PostgreSQL on $PG_ADDR:$PG_PORT answers"
}

case "${1:-}" in
  start) start ;;
  smoke) smoke ;;
  stop) stop ;;
  status) as_pg "$PGBIN/pg_ctl" -D "$D" status ;;
  tls) tls "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|smoke|tls on|off" >&2; exit 2 ;;
esac
