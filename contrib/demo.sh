#!/usr/bin/env bash
# contrib/demo.sh (also: contrib/run.sh --demo) — see tlsfence work on a machine without internet.
# Starts the hermetic test internet of tests/world on loopback (a DNSSEC-signing knot, an MTA-STS
# web server, receiving MX hosts) and tlsfenced against it, then asks for four kinds of domain
# through the socketmap with Postfix's own client (postmap -q) and through `tlsfence explain`:
#   dane.test    DNSSEC-signed MX with TLSA records   -> OK dane-only
#   sts.test     MTA-STS policy in enforce mode        -> OK secure match=... servername=hostname
#   bogus.test   DNSSEC-bogus (DS matches no key)      -> TEMP ... (the mail waits, never clear text)
#   nosuch.test  no policy at all                      -> NOTFOUND (Postfix's own default applies)
# and prints the main.cf line that turns it on in Postfix. Then it stops what it started
# (--keep: leave tlsfenced and the world running until Ctrl-C).
#
#   contrib/demo.sh [--keep]
#   TLSFENCE_SKIP_DEPS=1        do not run contrib/install-deps.sh
#   TLSFENCE_BUILD_DIR=DIR      use the programs built in DIR (default: build the default preset)
#   TLSFENCE_DEMO_USE_WORLD=1   use an already running test world (the test suite does), do not stop it
# Needs root (the world listens on ports 25, 53 and 443 of 127.0.0.x).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=
[ "${1:-}" = "--keep" ] && keep=1

[ "$(id -u)" = 0 ] || { echo "demo: must run as root (the test world uses ports 25/53/443 on loopback)" >&2; exit 2; }
[ -n "${TLSFENCE_SKIP_DEPS:-}" ] || contrib/install-deps.sh
bin=${TLSFENCE_BUILD_DIR:-build/default}
if [ -z "${TLSFENCE_BUILD_DIR:-}" ]; then
  cmake --preset default >/dev/null
  cmake --build --preset default --target tlsfenced tlsfence
fi
bin=$bin/src/app

export TLSFENCE_WORLD_RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
if [ -z "${TLSFENCE_DEMO_USE_WORLD:-}" ]; then
  echo "demo: starting the test world (tests/world/up.sh: knot, unbound, nginx, Postfix MX hosts on 127.0.0.x)"
  tests/world/up.sh > /tmp/tlsfence-demo-world.log 2>&1 ||
    { tail -n 20 /tmp/tlsfence-demo-world.log; echo "demo: the test world did not start" >&2; exit 1; }
fi
# shellcheck disable=SC1091
source "$TLSFENCE_WORLD_RUN/world.env"

sock=$WORLD_TLSFENCE_DIR/demo-socketmap.sock
log=$WORLD_TLSFENCE_DIR/demo-tlsfenced.log
cache=$WORLD_TLSFENCE_DIR/demo-cache.db   # its own cache, apart from the test suite's
rm -f "$cache" "$cache"-*
"$bin/tlsfenced" --config "$WORLD_TLSFENCE_CONF" --cache.db="$cache" --daemon.user= --daemon.log-level=info \
  --socketmap.listen="unix:$sock" --policy.listen= --milter.listen= > "$log" 2>&1 &
daemon=$!
stop() {
  kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  [ -n "${TLSFENCE_DEMO_USE_WORLD:-}" ] || tests/world/down.sh > /dev/null 2>&1 || true
}
trap stop EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
[ -S "$sock" ] || { cat "$log"; echo "demo: tlsfenced did not start" >&2; exit 1; }
echo "demo: tlsfenced is answering on unix:$sock (log: $log)"
echo

status=0
ask() { # ask DOMAIN WHAT EXPECTED-PREFIX
  local answer
  # postmap prints the value without "OK ", nothing (exit 1) for NOTFOUND, and warns for TEMP.
  answer=$(postmap -c "$WORLD_POSTFIX_OUT" -q "$1" "socketmap:unix:$sock:tlspolicy" 2>&1) && answer="OK $answer" || {
    case $answer in
      *"temporary error"*) answer="TEMP $(sed -n 's/.*temporary error: //p' <<<"$answer" | head -n1)" ;;
      "") answer="NOTFOUND" ;;
    esac
  }
  printf '%-12s %-40s socketmap: %s\n' "$1" "($2)" "$answer"
  case $answer in "$3"*) ;; *) echo "demo: unexpected answer for $1 (expected $3...)" >&2; status=1 ;; esac
}
echo "What Postfix's smtp(8) is told for each next-hop domain (postmap -q through the socketmap):"
ask dane.test "DANE: signed MX + TLSA" "OK dane-only"
ask sts.test "MTA-STS enforce" "OK secure match="
ask bogus.test "DNSSEC bogus" "TEMP"
ask nosuch.test "no policy" "NOTFOUND"
echo
for d in dane.test sts.test bogus.test; do
  echo "\$ tlsfence explain $d"
  "$bin/tlsfence" --config "$WORLD_TLSFENCE_CONF" --cache.db="$cache" --daemon.log-level=warning explain "$d" | sed 's/^/    /' || true
done
cat <<TXT

To use tlsfenced from your Postfix, put into main.cf (then 'postfix reload'):

    smtp_tls_policy_maps = socketmap:unix:/run/tlsfence/socketmap.sock:tlspolicy
    smtp_tls_security_level = dane
    smtp_dns_support_level = dnssec

(this demo's daemon listens on unix:$sock instead; for real domains run contrib/run.sh,
or install the Debian package: see README.md)
TXT
if [ -n "$keep" ]; then
  echo "demo: tlsfenced and the test world keep running; Ctrl-C stops them"
  wait "$daemon" || true
fi
exit $status
