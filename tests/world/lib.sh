# lib.sh — shared settings and helpers of the tlsfence test world. Sourced, never run.
# Every address is on loopback (127.0.0.0/8). See DOMAINS.md for the contract.

WORLD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
PY=/usr/bin/python3                  # the system interpreter, never a pyenv/venv shim

DNS_ADDR=127.0.0.1 DNS_PORT=5353     # knotd
RESOLVER=127.0.0.153                 # validating unbound, port 53 (resolv.conf can't say a port)
BLACKHOLE=127.0.0.99                 # DNS server of hang.test: receives, never answers
MX_A=127.0.0.10 MX_B=127.0.0.11 MX_C=127.0.0.12 MX_D=127.0.0.13 MX_E=127.0.0.14
MX_NOTLS=127.0.0.15                  # postfix-in listener without STARTTLS
MX_WRONG=127.0.0.16                  # postfix-in listener presenting a certificate for wrong.test
MX_EXPIRED=127.0.0.17                # postfix-in listener presenting an expired certificate (test CA)
WEB=127.0.0.20                       # nginx, every mta-sts.* host
WEB_ODD=127.0.0.21                   # python stand-in: endless chunked body, tlsrpt.test uploads
WEB_HANG=127.0.0.22                  # accepts TCP on 443 and never answers
SENDER=127.0.0.1 SENDER_PORT=2525    # postfix-out
SENDMAIL_PORT=2526                   # tests/world/sendmail.sh run
PG_ADDR=127.0.0.30 PG_PORT=15432      # tests/world/pg.sh: private PostgreSQL 15 (fleet tests)

# Every mail domain postfix-in accepts (one Maildir each under $RUN/mail/<domain>/).
WORLD_DOMAINS=(
  dane.test partial.test unusable.test danefail.test expired.test bogus.test bogustlsa.test
  insecure.test insecurehost.test nullmx.test implicit.test crosszone.test cname.test
  nosuch.test hang.test nostarttls.test danemxexpired.test
  sts.test ststesting.test stsnone.test stsredirect.test stshtml.test stsbig.test
  stschunked.test sts404.test stswrongcert.test stsexpired.test stshang.test
  stsmismatch.test stsbadtxt.test stsid.test stsdane.test stsmxexpired.test
  reports.test
)

die() { echo "${0##*/}: ERROR: $*" >&2; exit 1; }

now_ns() { date +%s%N; }

# wait_for DESC SECONDS CMD... — poll CMD every 0.1 s until it succeeds; die naming DESC.
wait_for() {
  local desc=$1 secs=$2; shift 2
  local end=$(( $(now_ns) + secs * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ns)" -lt "$end" ] || die "$desc did not come up within ${secs}s"
    sleep 0.1
  done
}

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# alive PID — running and not a zombie
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pid_matches PID TEXT — /proc/PID/cmdline contains TEXT
pid_matches() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# stop_pid NAME PIDFILE EXPECT [TENTHS] — TERM the pid of PIDFILE if its command line
# contains EXPECT, wait up to TENTHS/10 s (default 3 s), then KILL. Removes PIDFILE.
stop_pid() {
  local name=$1 pf=$2 expect=$3 tenths=${4:-30} pid i
  [ -s "$pf" ] || { rm -f "$pf"; return 0; }
  pid=$(head -n1 "$pf" | tr -dc 0-9)
  if pid_matches "$pid" "$expect"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < tenths; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.1; fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pf"
}

# sha256 hex of the DER SubjectPublicKeyInfo of a PEM certificate (TLSA 3 1 1 data)
spki_sha256() {
  openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER \
    | openssl dgst -sha256 -r | cut -d' ' -f1
}
# sha256 hex of the DER certificate (TLSA x 0 1 data)
cert_sha256() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
