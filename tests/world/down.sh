#!/usr/bin/env bash
# down.sh — stop everything tests/world/up.sh (and sendmail.sh run) started, strictly by the
# PIDs in their pid files after checking /proc/PID/cmdline (never by process name).
# Idempotent. Keeps $RUN (keys, logs, mail) for inspection; rm -rf it to start from scratch.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[ -d "$RUN" ] || exit 0

stop_postfix() { # stop_postfix INSTANCE
  local e=$RUN/$1/etc pf=$RUN/$1/spool/pid/master.pid
  [ -s "$pf" ] || return 0
  if pid_matches "$(head -n1 "$pf" | tr -dc 0-9)" master && [ -f "$e/main.cf" ]; then
    postfix -c "$e" stop >/dev/null 2>&1 && echo "stopped $1"
  fi
  stop_pid "$1 master" "$pf" master
}

jobs_=()
stop_postfix postfix-out & jobs_+=($!)
stop_postfix postfix-in & jobs_+=($!)
[ -f "$HERE/sendmail.sh" ] && { bash "$HERE/sendmail.sh" stop & jobs_+=($!); }
stop_pid nginx "$RUN/nginx/nginx.pid" "nginx: master" & jobs_+=($!)
stop_pid odd_https.py "$RUN/odd_https.pid" odd_https.py & jobs_+=($!)
stop_pid blackhole.py "$RUN/blackhole.pid" blackhole.py & jobs_+=($!)
stop_pid unbound "$RUN/unbound/unbound.pid" unbound & jobs_+=($!)
stop_pid knotd "$RUN/knot/knot.pid" knotd & jobs_+=($!)
for j in "${jobs_[@]}"; do wait "$j"; done
exit 0
