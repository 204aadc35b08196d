#!/usr/bin/env bash
# smoke.sh — prove the running test world shows every state DOMAINS.md promises (ctest
# world_smoke). Prints PASS/FAIL lines, ends with "N passed, M failed", non-zero on failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[ -s "$RUN/world.env" ] || { echo "smoke.sh: no world in $RUN (run tests/world/up.sh)"; echo "0 passed, 1 failed"; exit 1; }
source "$RUN/world.env"
PASS=0 FAIL=0
ok()  { PASS=$((PASS + 1)); echo "PASS: $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $1"; [ -n "${2:-}" ] && sed 's/^/      /' <<<"$2" | head -n 12; }
# check DESC CMD... — PASS if CMD succeeds
check() { local d=$1 out; shift; if out=$("$@" 2>&1); then ok "$d"; else bad "$d" "$out"; fi; }
# expect DESC REGEX TEXT — PASS if TEXT matches the extended REGEX
expect() { if grep -qiE -- "$2" <<<"$3"; then ok "$1"; else bad "$1" "$3"; fi; }

dig_r() { kdig @"$WORLD_RESOLVER" +dnssec +timeout=3 +retry=0 "$@" 2>&1; }
ub() { unbound-host -C "$WORLD_UNBOUND_CONF" -v "$@" 2>&1; }
CURL=(curl -sS --max-time 5 --cacert "$WORLD_CA")
sts_url() { echo "https://mta-sts.$1/.well-known/mta-sts.txt"; }
at() { echo "--resolve mta-sts.$1:443:$2"; }

echo "== DNS through the validating unbound ($WORLD_RESOLVER)"
SECURE='status: NOERROR.*Flags: qr rd ra ad;'
r() { dig_r "$@" | tr -s '\t\n ' '   '; }
expect "secure: dane.test MX (AD)"                       "$SECURE.* MX +10 mx1.dane.test" "$(r dane.test MX)"
expect "secure: _25._tcp.mx1.dane.test TLSA 3 1 1 good" "$SECURE.*TLSA +3 1 1 $WORLD_TLSA_GOOD" "$(r _25._tcp.mx1.dane.test TLSA)"
expect "secure: _25._tcp.mx2.dane.test TLSA 2 0 1 ca"   "$SECURE.*TLSA +2 0 1 $WORLD_TLSA_CA" "$(r _25._tcp.mx2.dane.test TLSA)"
expect "secure: _25._tcp.mx1.danemxexpired.test TLSA 2 0 1 ca" "$SECURE.*TLSA +2 0 1 $WORLD_TLSA_CA" "$(r _25._tcp.mx1.danemxexpired.test TLSA)"
expect "secure: unusable.test has 3 unusable TLSA"      "$SECURE.*ANSWER: 4;" "$(r _25._tcp.mx1.unusable.test TLSA)"
expect "insecure: insecure.test MX without AD"           'status: NOERROR.*Flags: qr rd ra;.* MX +10 mx1.insecure.test' "$(r insecure.test MX)"
expect "bogus: expired.test MX is SERVFAIL"              'status: SERVFAIL' "$(r expired.test MX)"
expect "bogus: bogus.test MX is SERVFAIL (DS mismatch)"  'status: SERVFAIL' "$(r bogus.test MX)"
expect "secure: mx1.bogustlsa.test A"                    "$SECURE" "$(r mx1.bogustlsa.test A)"
expect "bogus: _25._tcp.mx1.bogustlsa.test TLSA SERVFAIL" 'status: SERVFAIL' "$(r _25._tcp.mx1.bogustlsa.test TLSA)"
expect "NXDOMAIN (secure): nosuch.test"                  'status: NXDOMAIN.*Flags: qr rd ra ad;' "$(r nosuch.test MX)"
expect "null MX: nullmx.test MX 0 ."                     "$SECURE.* MX +0 \\. " "$(r nullmx.test MX)"
expect "CNAME'd MX host: mx.cname.test → mx1.dane.test" "$SECURE.*CNAME +mx1.dane.test.*A +127.0.0.10" "$(r mx.cname.test A)"
expect "implicit MX: implicit.test A + TLSA"             "$SECURE.*A +127.0.0.10" "$(r implicit.test A)"
expect "MTA-STS TXT: _mta-sts.sts.test secure"           "$SECURE.*v=STSv1; id=" "$(r _mta-sts.sts.test TXT)"
expect "two STSv1 TXT records at _mta-sts.stsbadtxt.test" 'id=first.*id=second|id=second.*id=first' "$(r _mta-sts.stsbadtxt.test TXT)"
expect "TLS-RPT TXT at _smtp._tls.sts.test"              "$SECURE.*v=TLSRPTv1; rua=mailto:tlsrpt@reports.test" "$(r _smtp._tls.sts.test TXT)"
expect "TLS-RPT TXT at _smtp._tls.reports.test"          "$SECURE.*v=TLSRPTv1; rua=mailto:tlsrpt@reports.test" "$(r _smtp._tls.reports.test TXT)"
expect "secure: TLSA of mx1.reports.test"                "$SECURE.*ANSWER: 2;" "$(r _25._tcp.mx1.reports.test TLSA)"
expect "two TLSRPTv1 TXT records at _smtp._tls.rpttwo.test" "$SECURE.*ANSWER: 3;.*v=TLSRPTv1.*v=TLSRPTv1" "$(r _smtp._tls.rpttwo.test TXT)"
expect "malformed TLS-RPT TXT at _smtp._tls.rptbad.test" "$SECURE.*rua=ftp://" "$(r _smtp._tls.rptbad.test TXT)"
expect "DKIM key tlsrpt._domainkey.sender.test (s=tlsrpt)" "$SECURE.*v=DKIM1; k=rsa; s=tlsrpt; p=" "$(r tlsrpt._domainkey.sender.test TXT)"
expect "outside test. is REFUSED (no egress)"            'status: REFUSED' "$(r example.com A)"
expect "hang.test is delegated to 127.0.0.99 (knot referral)" 'NS +ns1.hang.test.*A +127.0.0.99' \
  "$(kdig @127.0.0.1 -p 5353 +norec hang.test MX | tr -s '\t\n ' '   ')"
t0=$(now_ns)
expect "black hole 127.0.0.99 never answers (UDP)"       'timed out|no servers could be reached|failed' "$(kdig @127.0.0.99 +timeout=1 +retry=0 hang.test MX 2>&1)"
expect "black hole 127.0.0.99 never answers (TCP)"       'timed out|no servers could be reached|failed' "$(kdig @127.0.0.99 +tcp +timeout=1 +retry=0 hang.test MX 2>&1)"

echo "== libunbound ($WORLD_UNBOUND_CONF)"
expect "libunbound: dane.test MX secure"                  '\(secure\)' "$(ub -t MX dane.test)"
expect "libunbound: insecure.test MX insecure"            '\(insecure\)' "$(ub -t MX insecure.test)"
expect "libunbound: expired.test bogus (signature expired)" 'BOGUS.*|signature expired' "$(ub -t MX expired.test)"
expect "libunbound: bogus.test bogus (no key matches DS)" 'BOGUS' "$(ub -t MX bogus.test)"
expect "libunbound: bogustlsa TLSA bogus"                 'BOGUS' "$(ub -t TLSA _25._tcp.mx1.bogustlsa.test)"
expect "libunbound: nosuch.test NXDOMAIN"                 'NXDOMAIN' "$(ub -t MX nosuch.test)"
t0=$(now_ns)
out=$(timeout 3 unbound-host -C "$WORLD_UNBOUND_CONF" -t MX hang.test 2>&1); rc=$?
if [ $rc -eq 124 ]; then ok "libunbound: hang.test gets no answer within 3 s"; else bad "libunbound: hang.test gets no answer within 3 s" "rc=$rc $out"; fi

echo "== MTA-STS over HTTPS"
hdr() { "${CURL[@]}" -o /dev/null -w '%{http_code} %{content_type} %{size_download}' $(at "$1" "${2:-127.0.0.20}") "$(sts_url "$1")" 2>&1; }
expect "sts.test: 200 text/plain"                         '^200 text/plain ' "$(hdr sts.test)"
expect "sts.test: policy enforce with CRLF"               $'mode: enforce\r' "$("${CURL[@]}" $(at sts.test 127.0.0.20) "$(sts_url sts.test)")"
expect "ststesting.test: mode testing"                    'mode: testing' "$("${CURL[@]}" $(at ststesting.test 127.0.0.20) "$(sts_url ststesting.test)")"
expect "stsnone.test: mode none"                          'mode: none' "$("${CURL[@]}" $(at stsnone.test 127.0.0.20) "$(sts_url stsnone.test)")"
expect "stsmxexpired.test: policy enforce, mx1.stsmxexpired.test" $'mode: enforce\r.*mx: mx1.stsmxexpired.test\r' "$("${CURL[@]}" $(at stsmxexpired.test 127.0.0.20) "$(sts_url stsmxexpired.test)" | tr -d '\n')"
expect "stsredirect.test: 301"                            '^301 ' "$(hdr stsredirect.test)"
expect "stshtml.test: 200 text/html"                      '^200 text/html ' "$(hdr stshtml.test)"
expect "stsbig.test: 200, 71680 bytes"                    '^200 text/plain 71680$' "$(hdr stsbig.test)"
expect "sts404.test: 404"                                 '^404 ' "$(hdr sts404.test)"
expect "stswrongcert.test: certificate fails verification" 'SSL certificate problem|no alternative certificate subject name|does not match' "$(hdr stswrongcert.test)"
expect "stsexpired.test: certificate has expired"         'certificate has expired' "$(hdr stsexpired.test)"
expect "stsexpired.test: served anyway with -k"           '^200 text/plain' "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code} %{content_type}' $(at stsexpired.test 127.0.0.20) "$(sts_url stsexpired.test)")"
n=$("${CURL[@]}" --max-time 3 $(at stschunked.test 127.0.0.21) "$(sts_url stschunked.test)" 2>/dev/null | head -c 200000 | wc -c)
if [ "$n" -ge 200000 ]; then ok "stschunked.test: chunked body goes on past 64 KiB ($n bytes read)"; else bad "stschunked.test: chunked body goes on past 64 KiB" "read $n bytes"; fi
expect "stschunked.test: Transfer-Encoding chunked"        '[Tt]ransfer-[Ee]ncoding: chunked' "$("${CURL[@]}" --max-time 2 -D - -o /dev/null $(at stschunked.test 127.0.0.21) "$(sts_url stschunked.test)" 2>&1)"
t0=$(now_ns)
out=$(curl -sS --max-time 2 --cacert "$WORLD_CA" $(at stshang.test 127.0.0.22) "$(sts_url stshang.test)" 2>&1); rc=$?
if [ $rc -eq 28 ]; then ok "stshang.test: no answer (timeout after 2 s)"; else bad "stshang.test: no answer" "rc=$rc $out"; fi
expect "tlsrpt.test accepts an HTTPS report upload"       '^stored' "$(curl -sS --max-time 5 --cacert "$WORLD_CA" --resolve tlsrpt.test:443:127.0.0.21 --data-binary 'smoke' -H 'Content-Type: application/tlsrpt+gzip' https://tlsrpt.test/report 2>&1)"

echo "== SMTP listeners of postfix-in"
sclient() { # sclient ADDR NAME
  timeout 10 openssl s_client -brief -starttls smtp -connect "$1:25" -servername "$2" \
    -CAfile "$WORLD_CA" -verify_hostname "$2" </dev/null 2>&1
}
expect "127.0.0.10: STARTTLS, certificate verifies for mx1.dane.test" 'Verification: OK' "$(sclient 127.0.0.10 mx1.dane.test)"
expect "127.0.0.10: certificate key is TLSA 'good'"       "^$WORLD_TLSA_GOOD\$" \
  "$(timeout 10 openssl s_client -starttls smtp -connect 127.0.0.10:25 </dev/null 2>/dev/null | openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
expect "127.0.0.14: STARTTLS, certificate verifies for mx1.sts.test" 'Verification: OK' "$(sclient 127.0.0.14 mx1.sts.test)"
ehlo15=$(swaks --server 127.0.0.15:25 --quit-after EHLO --to x@nostarttls.test 2>&1)
if grep -q '250.STARTTLS' <<<"$ehlo15" || ! grep -q '250' <<<"$ehlo15"; then bad "127.0.0.15: no STARTTLS offered" "$ehlo15"; else ok "127.0.0.15: no STARTTLS offered"; fi
expect "127.0.0.16: STARTTLS with a certificate for wrong.test" 'CN ?= ?wrong.test' "$(sclient 127.0.0.16 mx1.stsmismatch.test)"

expect "127.0.0.17: STARTTLS with an expired certificate" 'CN ?= ?mx1.stsmxexpired.test.*certificate has expired' \
  "$(sclient 127.0.0.17 mx1.stsmxexpired.test | tr -s '\n' ' ')"
cert17=$(timeout 10 openssl s_client -starttls smtp -connect 127.0.0.17:25 </dev/null 2>/dev/null | openssl x509 2>&1)
expect "127.0.0.17: certificate valid only in January 2020" 'notAfter=Feb +1 00:00:00 2020 GMT' "$(openssl x509 -noout -enddate <<<"$cert17" 2>&1)"
expect "127.0.0.17: certificate chains to the test CA (dates not checked)" ': OK$' \
  "$(openssl verify -no_check_time -CAfile "$WORLD_CA" <<<"$cert17" 2>&1)"

echo "== mail through postfix-out (its own DANE)"
before=$("$HERE/postfix-out.sh" log-lines)
tag="smoke-$$-$(date +%s)"
out=$("$HERE/postfix-out.sh" send "smoke@sender.test" "smoke@dane.test" --header "Subject: $tag" 2>&1)
qid=$(sed -n 's/.*250 2.0.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$out")
if [ -n "$qid" ]; then ok "postfix-out accepted the mail ($qid)"; else bad "postfix-out accepted the mail" "$out"; fi
check "postfix-out delivered it to dane.test (status=sent)" \
  "$HERE/postfix-out.sh" wait-log "${qid:-none}: to=<smoke@dane.test>.*status=sent" 15 "$before"
check "postfix-out logged 'Verified TLS connection established to mx1.dane.test'" \
  "$HERE/postfix-out.sh" wait-log "Verified TLS connection established to mx1.dane.test" 5 "$before"
found=
for _ in $(seq 50); do
  found=$(grep -l "^Subject: $tag" "$WORLD_MAIL"/dane.test/new/* 2>/dev/null | head -n1) && [ -n "$found" ] && break
  sleep 0.1
done
if [ -n "$found" ]; then ok "mail landed in $WORLD_MAIL/dane.test/new"; else bad "mail landed in $WORLD_MAIL/dane.test/new" "$(ls -R "$WORLD_MAIL" 2>&1 | head)"; fi
expect "delivered mail came over TLS (ESMTPS)" 'with ESMTPS' "$(cat "${found:-/dev/null}")"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
