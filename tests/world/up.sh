#!/usr/bin/env bash
# up.sh — start the tlsfence test world (a hermetic "internet" on 127.0.0.0/8; see DOMAINS.md).
# Idempotent: stops a running world first. Needs root (ports 25/53/443, mount namespaces).
# State: ${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}; keys and certificates are kept across
# runs, everything else (logs, mail, queues, zones, configs) is made fresh.
# Afterwards: source $RUN/world.env. Stop with tests/world/down.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
T0=$(now_ns)
step() { printf '[%5d ms] %s\n' "$(( ($(now_ns) - T0) / 1000000 ))" "$*"; }

[ "$(id -u)" = 0 ] || die "must run as root (ports 25/53/443, postfix, unshare)"
for t in knotd knotc keymgr kdig ldns-keygen ldns-signzone ldns-key2ds unbound unbound-checkconf \
         unbound-host nginx postfix postconf postsuper swaks openssl curl unshare ss "$PY"; do
  command -v "$t" >/dev/null || die "missing tool: $t (run contrib/install-deps.sh)"
done

"$HERE/down.sh" >/dev/null
step "previous world stopped"

# ---------------------------------------------------------------- preflight: busy ports
# A wildcard listener (0.0.0.0:25 of a system MTA, *:53 of a resolver) blocks us too.
busy() { # busy ADDR PORT t|u
  ss -Hln"$3" "sport = :$2" 2>/dev/null | awk '{print $4}' \
    | grep -qE "^(\*|0\.0\.0\.0|\[::\]|\[::ffff:$1\]|$1):$2\$"
}
conflicts=()
for ap in "$DNS_ADDR $DNS_PORT u" "$DNS_ADDR $DNS_PORT t" "$RESOLVER 53 u" "$RESOLVER 53 t" \
          "$BLACKHOLE 53 u" "$BLACKHOLE 53 t" "$WEB 443 t" "$WEB_ODD 443 t" "$WEB_HANG 443 t" \
          "$SENDER $SENDER_PORT t" "$MX_A 25 t" "$MX_B 25 t" "$MX_C 25 t" "$MX_D 25 t" \
          "$MX_E 25 t" "$MX_NOTLS 25 t" "$MX_WRONG 25 t" "$MX_EXPIRED 25 t"; do
  set -- $ap
  if busy "$1" "$2" "$3"; then conflicts+=("$1:$2/$([ "$3" = t ] && echo tcp || echo udp)"); fi
done
[ ${#conflicts[@]} -eq 0 ] || die "ports already in use: ${conflicts[*]} (see: ss -lntup)"

# ---------------------------------------------------------------- state directory
mkdir -p "$RUN"
chmod 755 "$RUN"
d=$RUN
while d=$(dirname "$d"); [ "$d" != / ]; do   # nginx workers and virtual(8) run as nobody
  [ "$(( 0$(stat -c %a "$d") & 1 ))" -ne 0 ] \
    || die "$d is not world-searchable (o+x): chmod o+x $d, or set TLSFENCE_WORLD_RUN elsewhere"
done
rm -rf "$RUN"/{log,mail,postfix-in,postfix-out,tlsfence,tlsrpt-https,unbound,nginx,bin,world.env}
mkdir -p "$RUN"/{log,mail,bin,unbound,tlsfence,tlsrpt-https}
chown 65534:65534 "$RUN/mail"

bash "$HERE/gen-pki.sh" || die "gen-pki.sh failed"
gen_jobs=()
for g in gen-dns gen-web gen-postfix; do bash "$HERE/$g.sh" & gen_jobs+=("$!:$g"); done
for job in "${gen_jobs[@]}"; do wait "${job%%:*}" || die "${job#*:}.sh failed"; done
step "keys, zones and configs generated"

# ---------------------------------------------------------------- start everything
knotd -c "$RUN/knot/knot.conf" -d 2>>"$RUN/log/knot.start.log" || die "knotd did not start (see $RUN/log/knot.log)"

setsid "$PY" "$HERE/bin/blackhole.py" --udp "$BLACKHOLE:53" --tcp "$BLACKHOLE:53" \
  --tcp "$WEB_HANG:443" --pidfile "$RUN/blackhole.pid" >>"$RUN/log/blackhole.log" 2>&1 </dev/null &
setsid "$PY" "$HERE/bin/odd_https.py" --listen "$WEB_ODD:443" --cert "$RUN/pki/odd.chain.pem" \
  --key "$RUN/pki/odd.key" --uploads "$RUN/tlsrpt-https" --pidfile "$RUN/odd_https.pid" \
  >>"$RUN/log/odd_https.log" 2>&1 </dev/null &

nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/log/nginx-error.log" \
  || die "nginx did not start (see $RUN/log/nginx-error.log)"

# Postfix: both instances start in parallel. postfix-out runs in its own mount namespace
# where /etc/resolv.conf is $RUN/dns/resolv.conf (→ the validating unbound).
pf_jobs=()
for inst in postfix-in postfix-out; do
  mkdir -p "$RUN/$inst/spool" "$RUN/$inst/data"
  chown postfix "$RUN/$inst/data"
  # before postlogd runs, postfix commands write the log themselves as user postfix
  install -o postfix -g postfix -m 0644 /dev/null "$RUN/log/$inst.log"
  if [ $inst = postfix-out ]; then
    unshare --mount --propagation private -- sh -c \
      'mount --bind "$0" /etc/resolv.conf && exec postfix -c "$1" start' \
      "$RUN/dns/resolv.conf" "$RUN/$inst/etc" >>"$RUN/log/$inst.start.log" 2>&1 &
  else
    postfix -c "$RUN/$inst/etc" start >>"$RUN/log/$inst.start.log" 2>&1 &
  fi
  pf_jobs+=("$!:$inst")
done

# unbound needs knot's zones to answer its readiness probe
for z in test. expired.test. bogus.test. bogustlsa.test. _tcp.mx1.bogustlsa.test. insecure.test.; do
  wait_for "knotd zone $z on $DNS_ADDR@$DNS_PORT" 10 \
    sh -c "kdig @$DNS_ADDR -p $DNS_PORT +norec +short +timeout=1 SOA $z | grep -q hostmaster"
done
step "knotd up on $DNS_ADDR@$DNS_PORT"

unbound-checkconf "$RUN/dns/unbound.conf" >/dev/null || die "unbound.conf is invalid"
# a copy of the binary: AppArmor's profile for /usr/sbin/unbound denies configs under /tmp
cp -p "$(command -v unbound)" "$RUN/bin/unbound"
"$RUN/bin/unbound" -c "$RUN/dns/unbound.conf" 2>>"$RUN/log/unbound.start.log" \
  || die "unbound did not start (see $RUN/log/unbound.start.log)"
wait_for "unbound on $RESOLVER:53 (AD bit for dane.test)" 10 \
  sh -c "kdig @$RESOLVER +dnssec +timeout=1 dane.test MX | grep -q 'Flags: qr rd ra ad'"
step "unbound up on $RESOLVER:53"

wait_for "nginx on $WEB:443" 10 tcp_open "$WEB" 443
wait_for "odd_https.py on $WEB_ODD:443" 10 tcp_open "$WEB_ODD" 443
wait_for "blackhole.py on $WEB_HANG:443" 10 tcp_open "$WEB_HANG" 443
wait_for "blackhole.py on $BLACKHOLE:53" 10 tcp_open "$BLACKHOLE" 53
step "nginx, odd_https.py, blackhole.py up"

for job in "${pf_jobs[@]}"; do
  wait "${job%%:*}" || { tail -n 5 "$RUN/log/${job#*:}.start.log" "$RUN/log/${job#*:}.log" >&2;
                         die "${job#*:} did not start (see $RUN/log/${job#*:}.start.log)"; }
done
for a in "$MX_A" "$MX_B" "$MX_C" "$MX_D" "$MX_E" "$MX_NOTLS" "$MX_WRONG" "$MX_EXPIRED"; do
  wait_for "postfix-in on $a:25" 15 tcp_open "$a" 25
done
wait_for "postfix-out on $SENDER:$SENDER_PORT" 15 tcp_open "$SENDER" "$SENDER_PORT"
step "postfix-in on $MX_A–$MX_EXPIRED:25, postfix-out on $SENDER:$SENDER_PORT"

# ---------------------------------------------------------------- libunbound really validates
ub() { unbound-host -C "$RUN/dns/libunbound.conf" -v -t MX "$1" 2>&1; }
ub dane.test | grep -q '(secure)' || die "libunbound (unbound-host -C $RUN/dns/libunbound.conf) does not validate dane.test as secure: $(ub dane.test)"
ub expired.test | grep -q 'BOGUS' || die "libunbound does not see expired.test as bogus: $(ub expired.test)"
step "libunbound through $RUN/dns/libunbound.conf: dane.test secure, expired.test bogus"

# ---------------------------------------------------------------- tlsfence config, world.env
cat > "$RUN/tlsfence/tlsfence.conf" <<EOF
# generated by tests/world/up.sh — tlsfence inside the test world
[daemon]
user =
log = stderr
log-level = debug

[cache]
db = $RUN/tlsfence/cache.db

[dns]
unbound-conf = $RUN/dns/libunbound.conf
trust-anchor-file =
timeout = 3

[mta-sts]
ca-file = $RUN/pki/ca.pem
allow-private-addresses = yes
timeout = 3

[tlsrpt]
db = $RUN/tlsfence/tlsrpt.db
socket = $RUN/tlsfence/tlsrpt.sock
outbox = $RUN/tlsfence/reports
EOF

cat > "$RUN/world.env" <<EOF
# generated by tests/world/up.sh — source it (shell syntax); contract in tests/world/DOMAINS.md
WORLD_RUN=$RUN
WORLD_DIR=$HERE
WORLD_CA=$RUN/pki/ca.pem
WORLD_UNBOUND_CONF=$RUN/dns/libunbound.conf
WORLD_TLSFENCE_CONF=$RUN/tlsfence/tlsfence.conf
WORLD_DNS=$DNS_ADDR@$DNS_PORT
WORLD_RESOLVER=$RESOLVER
WORLD_RESOLV_CONF=$RUN/dns/resolv.conf
WORLD_TRUST_ANCHOR=$RUN/dns/test.ds
WORLD_TLSA_GOOD=$(cat "$RUN/pki/mx.spki-sha256")
WORLD_TLSA_CA=$(cat "$RUN/pki/ca.cert-sha256")
WORLD_MX_CERT=$RUN/pki/mx.pem
WORLD_LOG=$RUN/log
WORLD_MAIL=$RUN/mail
WORLD_SMTP=$SENDER:$SENDER_PORT
WORLD_POSTFIX_OUT=$RUN/postfix-out/etc
WORLD_POSTFIX_OUT_LOG=$RUN/log/postfix-out.log
WORLD_POSTFIX_IN=$RUN/postfix-in/etc
WORLD_POSTFIX_IN_LOG=$RUN/log/postfix-in.log
WORLD_TLSRPT_HTTPS_DIR=$RUN/tlsrpt-https
WORLD_TLSFENCE_DIR=$RUN/tlsfence
WORLD_SENDMAIL_PORT=$SENDMAIL_PORT
WORLD_DKIM_KEY=$RUN/pki/dkim-tlsrpt.key
WORLD_DKIM_SELECTOR=tlsrpt
WORLD_DKIM_DOMAIN=sender.test
EOF
chmod -R a+rX "$RUN/tlsfence" "$RUN/world.env"
step "world is up: source $RUN/world.env; stop: $HERE/down.sh"
