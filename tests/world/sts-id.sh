#!/usr/bin/env bash
# sts-id.sh ID [POLICYFILE] — change stsid.test's MTA-STS policy id live:
#   TXT _mta-sts.stsid.test becomes "v=STSv1; id=ID;" (knotc transaction, re-signed by knotd,
#   TTL 1 s) and the validating unbound forgets the old answer; with POLICYFILE, that file
#   (used byte for byte: write CRLF line ends yourself) becomes the served policy of
#   https://mta-sts.stsid.test/.well-known/mta-sts.txt
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 ID [POLICYFILE]" >&2; exit 2; }
id=$1
[[ $id =~ ^[A-Za-z0-9]{1,32}$ ]] || echo "sts-id.sh: note: '$id' is not a valid RFC 8461 id (1-32 alphanumerics); serving it anyway" >&2
[ -S "$RUN/knot/knot.sock" ] || die "knotd is not running (tests/world/up.sh)"

if [ $# -eq 2 ]; then
  [ -r "$2" ] || die "cannot read policy file $2"
  dst=$RUN/www/mta-sts.stsid.test/.well-known/mta-sts.txt
  cp "$2" "$dst.tmp" && chmod 644 "$dst.tmp" && mv "$dst.tmp" "$dst"
fi

KC=(knotc -c "$RUN/knot/knot.conf")
"${KC[@]}" zone-begin test. >/dev/null
if ! { "${KC[@]}" zone-unset test. _mta-sts.stsid TXT >/dev/null &&
       "${KC[@]}" zone-set test. _mta-sts.stsid 1 TXT "\"v=STSv1; id=$id;\"" >/dev/null &&
       "${KC[@]}" zone-commit test. >/dev/null; }; then
  "${KC[@]}" zone-abort test. >/dev/null 2>&1 || true
  die "knotc could not change _mta-sts.stsid.test"
fi
unbound-control -c "$RUN/dns/unbound.conf" flush_type _mta-sts.stsid.test TXT >/dev/null \
  || echo "sts-id.sh: warning: could not flush unbound's cache" >&2
# wait until knotd serves the new record
for _ in $(seq 50); do
  kdig @"$DNS_ADDR" -p "$DNS_PORT" +norec +short _mta-sts.stsid.test TXT | grep -qF "id=$id;" && exit 0
  sleep 0.1
done
die "knotd does not serve the new id after 5 s"
