#!/usr/bin/env bash
# capture-sendmail-world.sh — regenerate sendmail-world.log from the test world's real
# Sendmail (tests/world/sendmail.sh: Debian's Sendmail 8.17, CA = the world's test CA). Needs
# root and a running world (tests/world/up.sh); the Sendmail packages are downloaded once.
#
#   tests/unit/tlsrpt/data/capture-sendmail-world.sh > tests/unit/tlsrpt/data/sendmail-world.log
#
# FEATURE(`sts') needs a socketmap: a stand-in answers NOTFOUND for every domain, so Sendmail
# uses opportunistic STARTTLS everywhere and logs its `STARTTLS=client, relay=…, verify=…`
# line for every MX that offers STARTTLS (verify=OK: chain to the test CA; Sendmail does not
# check the host name, so stsmismatch.test is OK too; verify=FAIL for stsmxexpired.test, whose
# MX certificate chains to the test CA but expired in 2020, and Sendmail delivers anyway), and
# nothing TLS for nostarttls.test.
# The syslog lines of the capture are kept, in order, unchanged; Sendmail is stopped after.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORLD=$(cd "$HERE/../../../world" && pwd)
RUN=${TLSFENCE_WORLD_RUN:-/tmp/tlsfence-world}
[ -f "$RUN/world.env" ] || { echo "no test world in $RUN (run tests/world/up.sh)" >&2; exit 1; }
source "$RUN/world.env"
SMS="$WORLD/sendmail.sh"
LOG=$WORLD_LOG/sendmail.log
PORT=${CAPTURE_SOCKETMAP_PORT:-37999}
python3 - "$PORT" <<'PY' &
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(8); srv.settimeout(120)
def serve(c):
    buf = b""
    while True:
        d = c.recv(4096)
        if not d: return
        buf += d
        while b":" in buf:
            n, rest = buf.split(b":", 1)
            if len(rest) < int(n) + 1: break
            buf = rest[int(n) + 1:]
            c.sendall(b"9:NOTFOUND ,")
try:
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
except socket.timeout:
    pass
PY
SOCKETMAP_PID=$!
cleanup() { "$SMS" stop >/dev/null 2>&1 || true; kill "$SOCKETMAP_PID" 2>/dev/null || true; }
trap cleanup EXIT
"$SMS" cf "inet:127.0.0.1:$PORT" >&2
# $RUN/sendmail outlives up.sh: messages other tests left queued would be retried (and logged)
# when the daemon starts; the capture is of its own messages only.
find "$RUN/sendmail/mqueue" -maxdepth 1 -type f -delete
# Sendmail queues instead of delivering, and refuses connections, above a load average of
# 8/12 per CPU by default: a busy 2-core test machine is far above that.
printf 'O QueueLA=10000\nO RefuseLA=10000\nO DelayLA=0\n' >> "$RUN/sendmail/sendmail.cf"
"$SMS" run >&2
after=$(wc -l < "$LOG" 2>/dev/null || echo 0)
domains=(dane.test sts.test stsmismatch.test stsmxexpired.test insecure.test nostarttls.test)
for d in "${domains[@]}"; do "$SMS" send capture@sender.test "user@$d" >/dev/null; done
end=$((SECONDS + 90))
for d in "${domains[@]}"; do
  until tail -n +"$((after + 1))" "$LOG" | grep -qE "to=<user@$d>.*stat=(Sent|Deferred)"; do
    [ $SECONDS -lt $end ] || { echo "no delivery line for $d" >&2; break; }
    sleep 0.5
  done
done
sleep 1
echo "# Real syslog of the test world's Sendmail ($(strings "$RUN/sendmail-pkg/root/usr/libexec/sendmail/sendmail" 2>/dev/null | grep -m1 -E '^8\.[0-9]+\.[0-9]+' || echo 8.17)),"
echo "# captured $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/unit/tlsrpt/data/capture-sendmail-world.sh (see its"
echo "# header). Lines unchanged, in order."
tail -n +"$((after + 1))" "$LOG"
