#!/usr/bin/env bash
# contrib/run.sh — on a fresh Debian 12 machine: install what is missing, build the default
# preset, prepare ./var/ and run tlsfenced in the foreground on contrib/tlsfence.dev.conf
# (every door on 127.0.0.1: socketmap :10041, policy :10042, milter :10043; log to stderr;
# real DNS from the root trust anchor). Ctrl-C stops it cleanly.
#
#   contrib/run.sh                       build and run
#   contrib/run.sh --demo [--keep]       offline demo on the hermetic test world (contrib/demo.sh)
#   contrib/run.sh --daemon.log-level=info   extra arguments go to tlsfenced
#   TLSFENCE_SKIP_DEPS=1 contrib/run.sh  do not run contrib/install-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# --demo: the offline demo against the hermetic test world (contrib/demo.sh)
if [ "${1:-}" = "--demo" ]; then shift; exec contrib/demo.sh "$@"; fi

[ -n "${TLSFENCE_SKIP_DEPS:-}" ] || contrib/install-deps.sh

cmake --preset default
# Only what this script runs (and the CLI, for `tlsfence query`): contrib/test.sh builds the rest.
cmake --build --preset default --target tlsfenced tlsfence

# State of the development config: SQLite files and reports under ./var/. libunbound keeps
# the RFC 5011 trust anchor up to date, so it needs a writable copy of Debian's root.key.
mkdir -p var/reports
if [ ! -s var/root.key ]; then
  cp /usr/share/dns/root.key var/root.key
fi

echo "run.sh: starting tlsfenced (socketmap 127.0.0.1:10041, policy 127.0.0.1:10042, milter 127.0.0.1:10043); Ctrl-C stops it"
exec build/default/src/app/tlsfenced --config contrib/tlsfence.dev.conf "$@"
