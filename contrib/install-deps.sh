#!/usr/bin/env bash
# install-deps.sh — the one list of Debian 12 packages tlsfence needs to build and test.
#
# Idempotent and non-interactive: packages already present are not reinstalled, apt is
# only consulted when something is missing. Postfix is preseeded to "No configuration"
# (the test world runs its own instances with `postfix -c DIR`; the system one stays off).
# Do NOT add sendmail-bin here: it conflicts with postfix. The Sendmail tests unpack it
# privately (tests/world/sendmail.sh).
#
# Usage: contrib/install-deps.sh [--bench]   (--bench adds what tests/bench needs)
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev libunbound-dev libsqlite3-dev libmilter-dev libsystemd-dev libopendkim-dev
  libboost-dev libboost-program-options-dev
  libgtest-dev libgmock-dev
  nlohmann-json3-dev libidn2-dev zlib1g-dev libpq-dev
  clang libclang-rt-14-dev clang-format clang-tidy
  scdoc
)
TEST_PKGS=(
  knot knot-dnsutils ldnsutils unbound unbound-anchor unbound-host dns-root-data
  nginx-light openssl curl ca-certificates
  postfix swaks miltertest sqlite3
  python3-dkim python3-dnspython
  python3 iproute2 util-linux procps psmisc systemd libwrap0 m4
  groff-base
  dpkg-dev debhelper fakeroot lintian debootstrap
  prometheus
  postgresql-15 postgresql-client-15
)
BENCH_PKGS=(postfix-mta-sts-resolver valgrind)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
[ "${1:-}" = "--bench" ] && want+=("${BENCH_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string tlsfence.test" | $SUDO debconf-set-selections
# Package scripts must not start system services (unbound, nginx, knot would take the
# ports the test world needs): a policy-rc.d that forbids starting, only while we install.
prc=${TLSFENCE_POLICY_RC_D:-/usr/sbin/policy-rc.d}   # overridable for tests/unit/contrib
created_prc=
if [ ! -e "$prc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$prc" >/dev/null
  $SUDO chmod 755 "$prc"
  created_prc=1
fi
# (an if, not `[ … ] && …`: a false test would be the trap's status and so the script's.)
cleanup() {
  if [ -n "$created_prc" ]; then $SUDO rm -f "$prc"; fi
}
trap cleanup EXIT

echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Services some packages enable for boot must not hold the test world's ports.
for s in unbound nginx knot postfix postgresql prometheus; do
  $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
done
echo "install-deps: done"
