#!/usr/bin/env bash
# nsexec.sh CMD [ARGS...] — run CMD in a private mount namespace where /etc/resolv.conf is the
# test world's ($RUN/dns/resolv.conf → validating unbound on 127.0.0.153, trust-ad), exactly
# as postfix-out runs. The machine's own resolv.conf is untouched. Needs root.
#   tests/world/nsexec.sh getent ahosts mx1.dane.test
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
[ -s "$RUN/dns/resolv.conf" ] || die "no test world in $RUN (run tests/world/up.sh)"
exec unshare --mount --propagation private -- \
  sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$RUN/dns/resolv.conf" "$@"
