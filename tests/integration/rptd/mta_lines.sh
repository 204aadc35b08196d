#!/usr/bin/env bash
# mta_lines.sh UNIT_TLSRPT_CORE — world test: makes the test world's real MTAs log every TLS
# line form they can — the sending Postfix (tests/unit/tlsrpt/data/capture-postfix-world.sh:
# DANE verified, TLSA mismatch, TLSA lookup error, unusable TLSA, opportunistic TLS, "secure"
# hostname mismatch, no STARTTLS) and Sendmail (capture-sendmail-world.sh: STARTTLS=client
# summaries) — then runs PostfixWorldLive and SendmailWorldLive over the whole live logs: a
# TLS-looking line the parsers do not recognise fails the test (an MTA that words its lines
# differently must be noticed).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../../unit/tlsrpt/data
RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
source "$RUN/world.env"
"$DATA/capture-postfix-world.sh" > "$RUN/tlsfence/postfix-world-capture.log"
echo "postfix capture: $(grep -vc '^#' "$RUN/tlsfence/postfix-world-capture.log") lines"
"$DATA/capture-sendmail-world.sh" > "$RUN/tlsfence/sendmail-world-capture.log"
echo "sendmail capture: $(grep -vc '^#' "$RUN/tlsfence/sendmail-world-capture.log") lines"
TLSFENCE_WORLD_POSTFIX_LOG=$WORLD_POSTFIX_OUT_LOG TLSFENCE_WORLD_SENDMAIL_LOG=$WORLD_LOG/sendmail.log \
  exec "$1" --gtest_filter='PostfixWorldLive.*:SendmailWorldLive.*'
