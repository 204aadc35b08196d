#!/bin/bash
# Socketmap benchmark, all in one run on this machine (see ../README.md for the figures):
#   1. a do-nothing socketmap server in C (epoll, fixed reply)      — the ceiling
#   2. tlsfenced itself (the real daemon, built from this tree, started on a cache.db primed with
#      an MTA-STS decision for bench.example, so every request is a memory-cache hit through the
#      whole PolicyService path); -D measures the bare door (bench_door: SocketmapDoor + an
#      in-memory PolicyLookup) instead, and TLSFENCED=HOST:PORT|unix:PATH an already running
#      tlsfenced (its cache must already hold bench.example)
#   3. postfix-mta-sts-resolver's mta-sts-daemon, cache primed with the same domain
# each loaded by the same one-thread epoll load generator at C = 1, 16, 64 connections.
#
# usage: tests/bench/socketmap/run.sh [-d SECONDS] [-p DEPTH] [-c "1 16 64"] [-b BUILD_DIR] [-u] [-r ROUNDS] [-D]
#                                     [-M] [-B BASELINE_TLSFENCED] [-F CONNINFO]
#   -D                   the bare door with an in-memory lookup instead of tlsfenced
#   -r ROUNDS            measure every point ROUNDS times (servers interleaved), report the median run
#   -u                   unix-domain sockets instead of TCP loopback (as Postfix usually connects)
#   -M                   tlsfenced with [metrics] listen on (127.0.0.1:18465), scraped once per point
#   -B BINARY            A/B: also measure this tlsfenced binary (e.g. one built from an older commit)
#                        on its own copy of the primed cache, interleaved with the others
#   -F CONNINFO          tlsfenced with [fleet] postgresql = CONNINFO (host "bench"); with
#                        -B build/…/tlsfenced: the fleet backend vs a single host, same binary
#   env: TLSFENCED=HOST:PORT|unix:PATH  measure a running tlsfenced instead of the bench_door stand-in
#        TLSFENCED_PID=PID    its process id, for the CPU-per-request column
#        NO_PIN=1             do not pin the load generator and the servers to separate CPUs
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DURATION=5
DEPTH=1
CONNS="1 16 64"
BUILD="$ROOT/build/bench"
TRANSPORT=tcp
ROUNDS=1
BARE_DOOR=0
METRICS=0
BASELINE=""
FLEET=""
while getopts "d:p:c:b:ur:DMB:F:" opt; do
  case $opt in
    d) DURATION=$OPTARG ;;
    p) DEPTH=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    u) TRANSPORT=unix ;;
    r) ROUNDS=$OPTARG ;;
    D) BARE_DOOR=1 ;;
    M) METRICS=1 ;;
    B) BASELINE=$(cd "$(dirname "$OPTARG")" && pwd)/$(basename "$OPTARG") ;;
    F) FLEET=$OPTARG ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
done

if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target bench_socketmap >/dev/null
BIN="$BUILD/tests/bench/socketmap"

WORK=$(mktemp -d /tmp/tlsfence-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Two CPUs: the load generator on one, the server under test on the other.
if [ -z "${NO_PIN:-}" ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_GEN="taskset -c 0"
  PIN_SRV="taskset -c 1"
else
  PIN_GEN=""
  PIN_SRV=""
fi

# Addresses as "--tcp HOST:PORT" or "--unix PATH" (what the servers and the load generator take).
if [ "$TRANSPORT" = unix ]; then
  ADDR_NOTHING="--unix $WORK/nothing.sock"
  ADDR_DOOR="--unix $WORK/door.sock"
  ADDR_RESOLVER="--unix $WORK/resolver.sock"
  ADDR_BASE="--unix $WORK/base.sock"
  RESOLVER_LISTEN="path: $WORK/resolver.sock"
else
  ADDR_NOTHING="--tcp 127.0.0.1:18461"
  ADDR_DOOR="--tcp 127.0.0.1:18462"
  ADDR_RESOLVER="--tcp 127.0.0.1:18463"
  ADDR_BASE="--tcp 127.0.0.1:18464"
  RESOLVER_LISTEN=$(printf 'host: 127.0.0.1\nport: 18463')
fi

$PIN_SRV "$BIN/bench_socketmap_nothing" $ADDR_NOTHING &
PIDS+=($!)
PID_NOTHING=$!
disown
if [ -n "${TLSFENCED:-}" ]; then
  :
elif [ "$BARE_DOOR" = 1 ]; then
  $PIN_SRV "$BIN/bench_socketmap_door" $ADDR_DOOR 2>"$WORK/door.log" &
  PIDS+=($!)
  PID_DOOR=$!
  disown
  DOOR_ADDR=$ADDR_DOOR
  DOOR_NAME="tlsfence door (bare)"
else
  # The real daemon: its own config, state in $WORK, the cache primed with bench.example.
  "$BIN/bench_socketmap_prime" "$WORK/cache.db"
  cp /usr/share/dns/root.key "$WORK/root.key"
  if [ "$TRANSPORT" = unix ]; then SM_LISTEN="unix:$WORK/door.sock"; else SM_LISTEN="inet:127.0.0.1:18462"; fi
  cp "$WORK/cache.db" "$WORK/base-cache.db"
  cat >"$WORK/tlsfence.conf" <<CONF
[daemon]
user =
log = stderr
log-level = info
[socketmap]
listen = $SM_LISTEN
[policy]
listen = unix:$WORK/policy.sock
[milter]
listen = unix:$WORK/milter.sock
[cache]
db = $WORK/cache.db
[dns]
trust-anchor-file = $WORK/root.key
[tlsrpt]
db = $WORK/tlsrpt.db
socket =
outbox = $WORK/reports
deliver = no
CONF
  METRICS_OPT=()
  [ "$METRICS" = 1 ] && METRICS_OPT=(--metrics.listen=inet:127.0.0.1:18465)
  [ -n "$FLEET" ] && METRICS_OPT+=("--fleet.postgresql=$FLEET" --fleet.host=bench)
  $PIN_SRV "$BUILD/src/app/tlsfenced" --config "$WORK/tlsfence.conf" "${METRICS_OPT[@]}" 2>"$WORK/tlsfenced.log" &
  PIDS+=($!)
  PID_DOOR=$!
  disown
  if [ -n "$BASELINE" ]; then
    if [ "$TRANSPORT" = unix ]; then BASE_LISTEN="unix:$WORK/base.sock"; else BASE_LISTEN="inet:127.0.0.1:18464"; fi
    $PIN_SRV "$BASELINE" --config "$WORK/tlsfence.conf" --socketmap.listen="$BASE_LISTEN" \
      --policy.listen="unix:$WORK/base-policy.sock" --milter.listen="unix:$WORK/base-milter.sock" \
      --cache.db="$WORK/base-cache.db" 2>"$WORK/baseline.log" &
    PIDS+=($!)
    PID_BASE=$!
    disown
  fi
  DOOR_ADDR=$ADDR_DOOR
  DOOR_NAME="tlsfenced${FLEET:+ (fleet)}"
fi
if [ -n "${TLSFENCED:-}" ]; then
  PID_DOOR=${TLSFENCED_PID:-}
  case $TLSFENCED in
    unix:*) DOOR_ADDR="--unix ${TLSFENCED#unix:}" ;;
    *) DOOR_ADDR="--tcp $TLSFENCED" ;;
  esac
  DOOR_NAME="tlsfenced"
fi
cat >"$WORK/mta-sts-daemon.yml" <<YML
$RESOLVER_LISTEN
reuse_port: true
shutdown_timeout: 1
cache_grace: 1000000000
cache:
  type: internal
  options:
    cache_size: 10000
default_zone:
  strict_testing: false
  timeout: 4
YML
$PIN_SRV /usr/bin/python3 "$HERE/mta_sts_primed.py" "$WORK/mta-sts-daemon.yml" 2>"$WORK/resolver.log" &
PIDS+=($!)
PID_RESOLVER=$!
disown

wait_listening() {  # "--tcp HOST:PORT" or "--unix PATH"
  local kind=${1%% *} where=${1#* }
  for _ in $(seq 100); do
    if [ "$kind" = --unix ]; then
      [ -S "$where" ] && return 0
    elif (exec 3<>"/dev/tcp/${where%:*}/${where##*:}") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: nothing listens on $where" >&2
  exit 1
}
wait_listening "$ADDR_NOTHING"
wait_listening "$DOOR_ADDR"
wait_listening "$ADDR_RESOLVER"
[ -n "$BASELINE" ] && wait_listening "$ADDR_BASE"
sleep 0.2

# CPU time (user + system, in clock ticks) a server process has used so far.
cpu_ticks() {
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    awk '{ print $14 + $15 }' "/proc/$1/stat"
  else
    echo 0
  fi
}
TCK=$(getconf CLK_TCK)

# One measurement: prints "rps p50 p99 errors cpu_us_per_request". CPU per request is the
# server's own CPU time over the whole run (warm-up included) divided by every reply it sent:
# unlike req/s it hardly depends on what else the machine is doing.
measure() {
  local addr=$1 conns=$2 pid=$3 line before after
  before=$(cpu_ticks "$pid")
  line=$($PIN_GEN "$BIN/bench_socketmap_loadgen" $addr -c "$conns" -p "$DEPTH" -d "$DURATION" -w 1 \
    -q "tlspolicy bench.example" -e "OK secure match=mx.bench.example servername=hostname" || true)
  after=$(cpu_ticks "$pid")
  echo "$line cpu_ticks=$((after - before))" >>"$WORK/raw.txt"
  awk -v ticks=$((after - before)) -v tck="$TCK" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        cpu = (ticks > 0 && v["total"] > 0) ? sprintf("%.1f", 1e6 * ticks / tck / v["total"]) : "-"
        printf "%s %s %s %s %s\n", v["rps"], v["p50_us"], v["p99_us"], v["errors"], cpu }' <<<"$line"
}

echo "socketmap benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, ${DURATION}s per point (median of $ROUNDS), pipeline depth $DEPTH, $( [ "$TRANSPORT" = unix ] && echo unix-domain sockets || echo TCP loopback)"
echo "load generator: one epoll thread; ${PIN_GEN:-no pinning}${PIN_GEN:+ (servers: $PIN_SRV)}; load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo
printf "%5s | %-32s | %-32s | %-32s | %-9s %-9s %-9s %-9s\n" "conns" "do-nothing (C, epoll)" "$DOOR_NAME" \
  "postfix-mta-sts-resolver" "door/none" "door/pmsr" "p99 d/n" "cpu d/n"
printf "%5s | %-32s | %-32s | %-32s |\n" "" "req/s  p50/p99 us  cpu us/req" "req/s  p50/p99 us  cpu us/req" \
  "req/s  p50/p99 us  cpu us/req"
printf -- "------+----------------------------------+----------------------------------+----------------------------------+--------------------------------------\n"
# The run with the median req/s among "$@" (lines "rps p50 p99 errors cpu").
median() {
  printf '%s\n' "$@" | sort -n -k1,1 | sed -n "$(((${#} + 1) / 2))p"
}
AB_LINES=()
for c in $CONNS; do
  n_runs=()
  d_runs=()
  r_runs=()
  b_runs=()
  for _ in $(seq "$ROUNDS"); do
    n_runs+=("$(measure "$ADDR_NOTHING" "$c" "$PID_NOTHING")")
    d_runs+=("$(measure "$DOOR_ADDR" "$c" "$PID_DOOR")")
    [ "$METRICS" = 1 ] && curl -s -o "$WORK/scrape.txt" http://127.0.0.1:18465/metrics
    [ -n "$BASELINE" ] && b_runs+=("$(measure "$ADDR_BASE" "$c" "$PID_BASE")")
    r_runs+=("$(measure "$ADDR_RESOLVER" "$c" "$PID_RESOLVER")")
  done
  if [ -n "$BASELINE" ]; then
    read -r dd_rps _ dd_p99 _ dd_cpu <<<"$(median "${d_runs[@]}")"
    read -r b_rps _ b_p99 _ b_cpu <<<"$(median "${b_runs[@]}")"
    AB_LINES+=("$(awk -v c="$c" -v d="$dd_rps" -v b="$b_rps" -v dp="$dd_p99" -v bp="$b_p99" -v dc="$dd_cpu" -v bc="$b_cpu" \
      'BEGIN { printf "%5s | %8s %8s %8s | %8s %8s | %8s %8s %8s", c, d, b, (b > 0 ? sprintf("%.1f%%", 100 * (d - b) / b) : "-"),
               dp, bp, dc, bc, (bc > 0 && dc != "-" ? sprintf("%.1f%%", 100 * (dc - bc) / bc) : "-") }')")
  fi
  read -r n_rps n_p50 n_p99 n_err n_cpu <<<"$(median "${n_runs[@]}")"
  read -r d_rps d_p50 d_p99 d_err d_cpu <<<"$(median "${d_runs[@]}")"
  read -r r_rps r_p50 r_p99 r_err r_cpu <<<"$(median "${r_runs[@]}")"
  ratios=$(awk -v n="$n_rps" -v d="$d_rps" -v r="$r_rps" -v np="$n_p99" -v dp="$d_p99" -v nc="$n_cpu" -v dc="$d_cpu" \
    'BEGIN { printf "%-9s %-9s %-9s %-9s", (n > 0 ? sprintf("%.0f%%", 100 * d / n) : "-"),
             (r > 0 ? sprintf("%.1fx", d / r) : "-"), (np > 0 ? sprintf("%.2fx", dp / np) : "-"),
             (nc > 0 && dc > 0 ? sprintf("%.2fx", dc / nc) : "-") }')
  printf "%5s | %8s  %6s/%-8s %8s | %8s  %6s/%-8s %8s | %8s  %6s/%-8s %8s | %s\n" "$c" \
    "$n_rps" "$n_p50" "$n_p99" "$n_cpu" "$d_rps" "$d_p50" "$d_p99" "$d_cpu" "$r_rps" "$r_p50" "$r_p99" "$r_cpu" "$ratios"
  if [ "$n_err$d_err$r_err" != "000" ]; then
    echo "      (errors: do-nothing=$n_err door=$d_err resolver=$r_err — see replies)" >&2
  fi
done
if [ -n "$BASELINE" ]; then
  echo
  echo "A/B: tlsfenced of this tree${FLEET:+ with [fleet] postgresql}${METRICS:+ (metrics listener $( [ "$METRICS" = 1 ] && echo on || echo off))} vs baseline $BASELINE (medians, interleaved)"
  printf "%5s | %8s %8s %8s | %8s %8s | %8s %8s %8s\n" conns "req/s" "base" "diff" "p99 us" "base" "cpu/req" "base" "diff"
  printf '%s\n' "${AB_LINES[@]}"
fi
if [ "$METRICS" = 1 ] && [ -s "$WORK/scrape.txt" ]; then
  echo
  echo "last scrape: $(grep -E '^tlsfence_socketmap_requests_total\{answer="OK"\}' "$WORK/scrape.txt")"
fi
echo
echo "raw:"
sed 's/^/  /' "$WORK/raw.txt"
