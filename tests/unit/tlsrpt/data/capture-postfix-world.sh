#!/usr/bin/env bash
# capture-postfix-world.sh — regenerate postfix-world.log from the test world's real sending
# Postfix (tests/world, postfix-out). Needs root and a running world (tests/world/up.sh).
#
#   tests/unit/tlsrpt/data/capture-postfix-world.sh > tests/unit/tlsrpt/data/postfix-world.log
#
# For the length of the capture, postfix-out gets an inline TLS policy map (the previous
# smtp_tls_policy_maps is restored after) so that the MTA-STS-like "secure" and "encrypt"
# policies fail the way they fail in production:
#   sts.test          secure match=mx1.sts.test:.mx.sts.test (certificate matches: Verified)
#   stsmismatch.test  secure match=mx1.stsmismatch.test      (MX presents wrong.test: hostname mismatch)
#   stsmxexpired.test secure match=mx1.stsmxexpired.test     (MX certificate chains, expired in 2020)
#   nostarttls.test   encrypt                                (no STARTTLS offered)
# Everything else follows postfix-out's own `dane` level with DNSSEC (dane.test, partial.test,
# implicit.test, cname.test: Verified by TLSA; danefail.test: TLSA mismatch; danemxexpired.test:
# TLSA 2 0 1 of the test CA, MX certificate expired; bogustlsa.test: TLSA lookup error;
# insecure.test, unusable.test, reports.test: opportunistic TLS, Trusted).
# Every line postfix-out logged during the capture is kept, in order, unchanged (deferred
# messages are retried by Postfix during the capture; those retries are real lines too).
# Afterwards the capture's deferred messages are removed from postfix-out's queue.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORLD=$(cd "$HERE/../../../world" && pwd)
RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
[ -f "$RUN/world.env" ] || { echo "no test world in $RUN (run tests/world/up.sh)" >&2; exit 1; }
source "$RUN/world.env"
OUT="$WORLD/postfix-out.sh"
domains=(dane.test partial.test implicit.test cname.test danefail.test bogustlsa.test insecure.test
         unusable.test reports.test sts.test stsmismatch.test nostarttls.test danemxexpired.test
         stsmxexpired.test)
after=$("$OUT" log-lines)
previous=$(postconf -c "$WORLD_POSTFIX_OUT" -n -h smtp_tls_policy_maps 2>/dev/null || true)
"$OUT" set "smtp_tls_policy_maps=inline:{{sts.test=secure match=mx1.sts.test:.mx.sts.test}, {stsmismatch.test=secure match=mx1.stsmismatch.test}, {stsmxexpired.test=secure match=mx1.stsmxexpired.test}, nostarttls.test=encrypt}" >&2
cleanup() {
  if [ -n "$previous" ]; then "$OUT" set "smtp_tls_policy_maps=$previous" >&2; else "$OUT" unset smtp_tls_policy_maps >&2; fi
  # the deferred ones would be retried later under the world's normal config: remove them
  postqueue -c "$WORLD_POSTFIX_OUT" -j | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("sender") == "capture@sender.test":
        print(m["queue_id"])' | postsuper -c "$WORLD_POSTFIX_OUT" -d - >&2 || true
}
trap cleanup EXIT
for d in "${domains[@]}"; do
  "$OUT" send capture@sender.test "user@$d" >/dev/null
done
for d in "${domains[@]}"; do
  "$OUT" wait-log "to=<user@${d//./\\.}>.*status=" 60 "$after" >/dev/null || echo "no delivery line for $d" >&2
done
sleep 1
version=$(postconf -c "$WORLD_POSTFIX_OUT" -h mail_version)
echo "# Real log of the test world's sending Postfix $version (tests/world postfix-out), captured"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/unit/tlsrpt/data/capture-postfix-world.sh (see its header"
echo "# for the domains and the temporary TLS policy map). Lines unchanged, in order."
tail -n +"$((after + 1))" "$WORLD_POSTFIX_OUT_LOG"
