#!/usr/bin/env bash
# capture-postfix310-world.sh — regenerate postfix310-world.log and postfix310-datagrams.jsonl
# from a REAL Postfix >= 3.10 with TLSRPT support (Debian 13 "trixie"'s postfix package, linked
# with libtlsrpt0) sending into the test world (tests/world). Needs root.
#
#   capture-postfix310-world.sh prepare     debootstrap trixie (minbase) into $TLSFENCE_TRIXIE_DIR
#                                          (default /var/cache/tlsfence-trixie) and install postfix
#                                          there; no world needed. Done by `capture` if missing.
#   capture-postfix310-world.sh [capture [OUTDIR]]
#                                          needs a running world; writes OUTDIR/postfix310-world.log
#                                          and OUTDIR/postfix310-datagrams.jsonl (OUTDIR: this dir)
#
# The world is shared: run the capture under the world lock, e.g.
#   flock -o /tmp/tlsfence-world.lock bash -c 'tests/world/up.sh && \
#     tests/unit/tlsrpt/data/capture-postfix310-world.sh; rc=$?; tests/world/down.sh; exit $rc'
#
# How: the trixie Postfix runs from the chroot (`chroot DIR postfix start`, host network
# namespace) as a second sending Postfix on 127.0.0.1:2531, configured like the world's
# postfix-out (dane level, DNSSEC through the world resolver 127.0.0.153 in the chroot's
# resolv.conf, smtp_tls_CAfile = the world CA) plus
#   smtp_tlsrpt_enable = yes, smtp_tlsrpt_socket_name = /run/tlsrpt/tlsrpt.sock
# (a host python3 receiver binds DIR/run/tlsrpt/tlsrpt.sock and writes each datagram it gets),
# and an smtp_tls_policy_maps texthash holding what an MTA-STS plugin with TLSRPT support hands
# Postfix 3.10 ("secure match=… servername=hostname policy_type=sts policy_domain=D
# policy_ttl=N mx_host_pattern=P… { policy_string = LINE }…", the lines taken from the policy
# the world's nginx serves) for sts.test, stsmismatch.test and stsmxexpired.test, and
# "nostarttls.test encrypt" (as capture-postfix-world.sh does for Postfix 3.7).
# Postfix 3.10 reports only for domains publishing a TLSRPT record (_smtp._tls.D TXT; in the
# world only sts.test has one), so for the length of the capture knotd also serves
# "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test" for the other domains below (knotc transaction,
# re-signed by knotd; removed again at the end, and up.sh regenerates the zones anyway).
# Mail: one message to user@D for each D in $domains; the capture waits for each one's
# delivery line (sent, or the first deferral), then stops this Postfix and empties its queue.
#
# Outputs: postfix310-world.log = every line this Postfix logged (maillog_file), in order,
# unchanged, after a '#' header; postfix310-datagrams.jsonl = one line per datagram received,
# a JSON string holding the datagram's exact bytes (libtlsrpt's datagrams contain newlines).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORLD=$(cd "$HERE/../../../world" && pwd)
RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
C=${TLSFENCE_TRIXIE_DIR:-/var/cache/tlsfence-trixie}
PORT=${TLSFENCE_POSTFIX310_PORT:-2531}
domains=(dane.test danefail.test danemxexpired.test sts.test stsmismatch.test stsmxexpired.test
         nostarttls.test insecure.test)
# names that get a temporary _smtp._tls TXT record (sts.test has its own)
rpt_test=(dane danefail danemxexpired stsmismatch stsmxexpired nostarttls)  # in zone test.
RPT_TXT='v=TLSRPTv1; rua=mailto:tlsrpt@reports.test'

die() { echo "${0##*/}: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"

# shellcheck source=../../../world/debian_mirror.sh
source "$(cd "$(dirname "$0")" && pwd)/../../../world/debian_mirror.sh"
mirror() { echo "${TLSFENCE_TRIXIE_MIRROR:-$(debian_mirror)}"; }

prepare() {
  if [ ! -x "$C/usr/sbin/postconf" ]; then
    command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
    if [ ! -x "$C/usr/bin/apt-get" ]; then
      mkdir -p "$C"
      debootstrap --variant=minbase trixie "$C" "$(mirror)" >&2 || die "debootstrap trixie failed"
    fi
    cp /etc/resolv.conf "$C/etc/resolv.conf"   # for apt; the capture writes the world's
    printf '#!/bin/sh\nexit 101\n' > "$C/usr/sbin/policy-rc.d" && chmod 755 "$C/usr/sbin/policy-rc.d"
    echo "postfix postfix/main_mailer_type select No configuration" | chroot "$C" debconf-set-selections
    chroot "$C" apt-get update >&2
    chroot "$C" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postfix >&2 || die "apt-get install postfix in $C failed"
  fi
  local v
  v=$(chroot "$C" postconf -d -h mail_version)
  chroot "$C" postconf -d 2>/dev/null | grep -q '^smtp_tlsrpt_enable' \
    || die "Postfix $v in $C has no TLSRPT support (no smtp_tlsrpt_enable)"
  echo "Postfix $v with TLSRPT support in $C" >&2
}

cmd=${1:-capture}
case $cmd in
  prepare) prepare; exit 0 ;;
  capture) OUT=${2:-$HERE} ;;
  *) sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
prepare
[ -f "$RUN/world.env" ] || die "no test world in $RUN (run tests/world/up.sh)"
source "$RUN/world.env"
[ -S "$RUN/knot/knot.sock" ] || die "knotd is not running (tests/world/up.sh)"
if ss -Hlnt "sport = :$PORT" | grep -q .; then die "port $PORT is in use"; fi

KC=(knotc -c "$RUN/knot/knot.conf")
LOG=/var/log/postfix310.log            # inside the chroot
SOCK_DIR=$C/run/tlsrpt
DGRAMS=$(mktemp)
rpid=
cleanup() {
  set +e
  if [ -s "$C/var/spool/postfix/pid/master.pid" ]; then
    chroot "$C" postfix stop >/dev/null 2>&1
    chroot "$C" postsuper -d ALL >/dev/null 2>&1
  fi
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
  rm -f "$SOCK_DIR/tlsrpt.sock" "$DGRAMS"
  if [ -S "$RUN/knot/knot.sock" ]; then
    "${KC[@]}" zone-begin test. >/dev/null &&
      for n in "${rpt_test[@]}"; do "${KC[@]}" zone-unset test. "_smtp._tls.$n" TXT >/dev/null; done &&
      "${KC[@]}" zone-commit test. >/dev/null || "${KC[@]}" zone-abort test. >/dev/null 2>&1
    "${KC[@]}" zone-begin insecure.test. >/dev/null &&
      "${KC[@]}" zone-unset insecure.test. _smtp._tls TXT >/dev/null &&
      "${KC[@]}" zone-commit insecure.test. >/dev/null || "${KC[@]}" zone-abort insecure.test. >/dev/null 2>&1
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- TLSRPT records in the world
"${KC[@]}" zone-begin test. >/dev/null
for n in "${rpt_test[@]}"; do
  "${KC[@]}" zone-set test. "_smtp._tls.$n" 300 TXT "\"$RPT_TXT\"" >/dev/null || die "knotc zone-set _smtp._tls.$n"
done
"${KC[@]}" zone-commit test. >/dev/null || die "knotc zone-commit test."
"${KC[@]}" zone-begin insecure.test. >/dev/null
"${KC[@]}" zone-set insecure.test. _smtp._tls 300 TXT "\"$RPT_TXT\"" >/dev/null || die "knotc zone-set insecure.test"
"${KC[@]}" zone-commit insecure.test. >/dev/null || die "knotc zone-commit insecure.test."
UC=(unbound-control -c "$RUN/dns/unbound.conf")
"${UC[@]}" flush_zone test. >/dev/null && "${UC[@]}" flush_negative >/dev/null \
  || echo "${0##*/}: warning: could not flush unbound's cache" >&2
for d in "${domains[@]}"; do
  for _ in $(seq 50); do
    kdig @"$WORLD_RESOLVER" +dnssec +timeout=1 "_smtp._tls.$d" TXT | grep -q 'TLSRPTv1' && continue 2
    sleep 0.1
  done
  die "the world resolver does not answer _smtp._tls.$d TXT"
done

# ---------------------------------------------------------------- MTA-STS plugin answers
sts_entry() { # sts_entry DOMAIN — the texthash line an STS plugin with TLSRPT support would give
  local d=$1 body line mx match= pat= strs= ttl=86400
  body=$(curl -sf --max-time 5 --cacert "$WORLD_CA" --resolve "mta-sts.$d:443:127.0.0.20" \
           "https://mta-sts.$d/.well-known/mta-sts.txt" | tr -d '\r') || die "cannot fetch the policy of $d"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    strs+=" { policy_string = $line }"
    case $line in
      mx:*) mx=${line#mx: }; pat+=" mx_host_pattern=$mx"; mx=${mx#\*}; match+=${match:+:}$mx ;;
      max_age:*) ttl=${line#max_age: } ;;
    esac
  done <<< "$body"
  echo "$d secure match=$match servername=hostname policy_type=sts policy_domain=$d policy_ttl=$ttl$pat$strs"
}

# ---------------------------------------------------------------- the trixie Postfix
E=$C/etc/postfix
printf 'nameserver %s\noptions edns0\n' "$WORLD_RESOLVER" > "$C/etc/resolv.conf"
cp "$WORLD_CA" "$E/world-ca.pem"
{
  for d in sts.test stsmismatch.test stsmxexpired.test; do sts_entry "$d"; done
  echo "nostarttls.test encrypt"
} > "$E/tls_policy"
cat > "$E/main.cf" <<EOF
# generated by tests/unit/tlsrpt/data/capture-postfix310-world.sh — like the world's postfix-out
compatibility_level = 3.10
mail_owner = postfix
setgid_group = postdrop
alias_maps =
alias_database =
mydestination =
local_recipient_maps =
relayhost =
inet_protocols = ipv4
biff = no
maillog_file = $LOG
myhostname = sender.test
mydomain = sender.test
myorigin = \$myhostname
local_transport = error:5.1.1 no local delivery on the sender
transport_maps = inline:{ sender.test=discard: }
inet_interfaces = 127.0.0.1
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP tlsfence-world-sender-postfix310
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_host_lookup = dns
smtp_dns_support_level = dnssec
dnssec_probe = ns:test
smtp_tls_security_level = dane
smtp_tls_CAfile = /etc/postfix/world-ca.pem
smtp_tls_loglevel = 1
smtp_tls_note_starttls_offer = yes
smtp_tls_policy_maps = texthash:/etc/postfix/tls_policy
smtp_tlsrpt_enable = yes
smtp_tlsrpt_socket_name = /run/tlsrpt/tlsrpt.sock
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 15s
maximal_queue_lifetime = 10m
bounce_queue_lifetime = 10m
delay_warning_time = 0
EOF
{
  echo "# generated by tests/unit/tlsrpt/data/capture-postfix310-world.sh"
  printf '127.0.0.1:%s inet n - n - - smtpd\n' "$PORT"
  cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
} > "$E/master.cf"
touch -d '-1 min' "$E/main.cf" "$E/master.cf"
if [ -s "$C/var/spool/postfix/pid/master.pid" ]; then chroot "$C" postfix stop >/dev/null 2>&1 || true; fi
chroot "$C" postsuper -d ALL >/dev/null 2>&1 || true
rm -f "$C$LOG"
install -o "$(chroot "$C" id -u postfix)" -g "$(chroot "$C" id -g postfix)" -m 0644 /dev/null "$C$LOG"

# ---------------------------------------------------------------- the datagram receiver
mkdir -p "$SOCK_DIR" && chmod 755 "$SOCK_DIR" && rm -f "$SOCK_DIR/tlsrpt.sock"
/usr/bin/python3 -u -c '
import json, os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", encoding="utf-8") as f:
    while True:
        data = s.recv(1 << 20)
        f.write(json.dumps(data.decode("utf-8"), ensure_ascii=False) + "\n")
        f.flush()
' "$SOCK_DIR/tlsrpt.sock" "$DGRAMS" &
rpid=$!
for _ in $(seq 50); do [ -S "$SOCK_DIR/tlsrpt.sock" ] && break; sleep 0.1; done
[ -S "$SOCK_DIR/tlsrpt.sock" ] || die "the datagram receiver did not bind $SOCK_DIR/tlsrpt.sock"

chroot "$C" postfix check >&2 || true
chroot "$C" postfix start >&2 || die "postfix start in $C failed (see $C$LOG)"
for _ in $(seq 100); do timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && break; sleep 0.1; done

# ---------------------------------------------------------------- mail
for d in "${domains[@]}"; do
  swaks --server "127.0.0.1:$PORT" --from capture@sender.test --to "user@$d" --timeout 30 >/dev/null \
    || die "swaks to user@$d was refused"
done
wait_line() { # wait_line REGEX SECONDS
  local end=$((SECONDS + $2))
  until grep -qE -- "$1" "$C$LOG"; do
    [ $SECONDS -lt "$end" ] || return 1
    sleep 0.2
  done
}
for d in "${domains[@]}"; do
  wait_line "to=<user@${d//./\\.}>.*status=" 60 || echo "no delivery line for $d" >&2
done
sleep 1
version=$(chroot "$C" postconf -h mail_version)
libv=$(chroot "$C" dpkg-query -W -f '${Version}' libtlsrpt0)
pkgv=$(chroot "$C" dpkg-query -W -f '${Version}' postfix)
chroot "$C" postfix stop >&2 || true
for _ in $(seq 50); do [ -s "$C/var/spool/postfix/pid/master.pid" ] || break; sleep 0.1; done
sleep 0.5

{
  echo "# Real log of Postfix $version (Debian 13 package postfix $pkgv, libtlsrpt0 $libv) sending"
  echo "# into the test world, captured $(date -u +%Y-%m-%dT%H:%M:%SZ) by"
  echo "# tests/unit/tlsrpt/data/capture-postfix310-world.sh (see its header for the setup: DANE via"
  echo "# the world resolver, an STS-plugin-style policy map, temporary _smtp._tls records)."
  echo "# Domains, in order: ${domains[*]}. Lines unchanged, in order."
  cat "$C$LOG"
} > "$OUT/postfix310-world.log"
cp "$DGRAMS" "$OUT/postfix310-datagrams.jsonl"
echo "wrote $OUT/postfix310-world.log ($(grep -vc '^#' "$OUT/postfix310-world.log") lines) and" \
     "$OUT/postfix310-datagrams.jsonl ($(wc -l < "$OUT/postfix310-datagrams.jsonl") datagrams)" >&2
