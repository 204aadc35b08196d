#!/usr/bin/env bash
# DANE benchmark through the running test world (tests/world/up.sh first).
#   tests/bench/dane/run.sh [-n DOMAINS] [-c IN_FLIGHT] [-r SAME_DOMAIN_REQUESTS] [-b BUILD_DIR] [-k]
# Adds a generated zone bench.test (N domains: dI.bench.test MX 10 mx.dI.bench.test, A .10,
# 3 of 4 with TLSA 3 1 1 "good", 1 of 4 without) to the RUNNING knotd through knotc (no file
# of tests/world is touched), lets knot sign it with its default policy, writes a libunbound
# config = the world's + a stub and a DNSKEY trust anchor for bench.test, runs bench_dane
# and removes the zone again (-k keeps it for another run).
set -euo pipefail
N=10000 C=256 R=1000 BUILD= KEEP=0
while getopts "n:c:r:b:k" o; do
  case $o in
    n) N=$OPTARG ;; c) C=$OPTARG ;; r) R=$OPTARG ;; b) BUILD=$OPTARG ;; k) KEEP=1 ;;
    *) sed -n 2,9p "$0"; exit 2 ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$SRC/build/bench-dane}
RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
[ -s "$RUN/world.env" ] || { echo "test world not up ($RUN/world.env)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$RUN/world.env"
SOCK=$RUN/knot/knot.sock
KC=(knotc -s "$SOCK")
ZDIR=$RUN/knot/zones
ZONE=bench.test.
WORK=$RUN/bench-dane
mkdir -p "$WORK"

if [ ! -x "$BUILD/tests/bench/dane/bench_dane" ]; then
  [ -f "$BUILD/build.ninja" ] || cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target bench_dane -j2 >/dev/null
fi

cleanup() {
  [ "$KEEP" = 1 ] && return
  "${KC[@]}" conf-begin >/dev/null
  "${KC[@]}" conf-unset "zone[$ZONE]" >/dev/null || true
  "${KC[@]}" conf-commit >/dev/null || "${KC[@]}" conf-abort >/dev/null || true
  rm -f "$ZDIR/bench.test.zone"
}
trap cleanup EXIT

zone_loaded() { "${KC[@]}" zone-read "$ZONE" @ DNSKEY 2>/dev/null | grep -q DNSKEY; }

if ! zone_loaded || [ "$(cat "$WORK/count" 2>/dev/null)" != "$N" ]; then
  echo "generating bench.test with $N domains…"
  {
    printf '$ORIGIN bench.test.\n$TTL 3600\n'
    printf '@ SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n'
    awk -v n="$N" -v good="$WORLD_TLSA_GOOD" 'BEGIN {
      for (i = 0; i < n; i++) {
        printf "d%d MX 10 mx.d%d\nmx.d%d A 127.0.0.10\n", i, i, i
        if (i % 4 != 3) printf "_25._tcp.mx.d%d TLSA 3 1 1 %s\n", i, good
      }
    }'
  } > "$ZDIR/bench.test.zone"
  if "${KC[@]}" conf-read "zone[$ZONE]" >/dev/null 2>&1; then
    "${KC[@]}" zone-reload "$ZONE" >/dev/null
  else
    "${KC[@]}" conf-begin >/dev/null
    "${KC[@]}" conf-set "zone[$ZONE]" >/dev/null
    "${KC[@]}" conf-set "zone[$ZONE].dnssec-signing" on >/dev/null
    "${KC[@]}" conf-commit >/dev/null
  fi
  t0=$(date +%s)
  until zone_loaded && "${KC[@]}" zone-read "$ZONE" "d$((N - 1))" MX 2>/dev/null | grep -q MX; do
    [ $(( $(date +%s) - t0 )) -lt 120 ] || { echo "knot did not load/sign bench.test" >&2; exit 1; }
    sleep 1
  done
  echo "$N" > "$WORK/count"
  echo "signed in $(( $(date +%s) - t0 )) s"
fi

# libunbound config: the world's, plus bench.test (stub to knot, its DNSKEY as trust anchor).
CONF=$WORK/libunbound.conf
{
  cat "$WORLD_UNBOUND_CONF"
  echo "server:"
  echo "    num-queries-per-thread: 4096"
  "${KC[@]}" zone-read "$ZONE" @ DNSKEY | awk '$4 == "DNSKEY" && $5 == 257 {
    printf "    trust-anchor: \"%s DNSKEY", $2; for (i = 5; i <= NF; i++) printf " %s", $i; print "\"" }'
  printf 'stub-zone:\n    name: "bench.test."\n    stub-addr: 127.0.0.1@5353\n    stub-prime: no\n'
} > "$CONF"

B=$BUILD/tests/bench/dane/bench_dane
"$B" --unbound-conf "$CONF" --explain d0.bench.test
"$B" --unbound-conf "$CONF" --count "$N" --concurrency "$C" --same d0.bench.test --same-count "$R"
