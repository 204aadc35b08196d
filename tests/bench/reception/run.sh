#!/bin/bash
# Reception benchmark (issue 6), all in one run on this machine (figures: ../README.md):
#
# Part 1, mail through a real sending Postfix. A private Postfix instance ("postfix-bench", a
# copy of the test world's postfix-out config with its own queue, log and port 127.0.0.1:2530,
# in the world's DNS view; its processes in a cpuacct cgroup of their own) delivers to the
# world's receiving Postfix (postfix-in, 127.0.0.10–.16:25). The same message set of N
# messages (DANE, MTA-STS and no-policy domains; some from the forced-TLS sender, some with
# `TLS-Required: No`) is injected over SMTP into its smtpd by smtp_inject (C++, one epoll
# thread, C connections, M messages per SMTP session), five ways, in interleaved rounds:
#   a  no doors                 smtpd_recipient_restrictions = permit_mynetworks, reject
#   b  policy delegation        check_policy_service unix:…/policy.sock in front of that
#   c  milter                   smtpd_milters = unix:…/milter.sock + milter_header_checks
#   d  both
#   e  milter, libmilter engine as c, served by a second tlsfenced with [milter] engine = libmilter
#   f  null milter (the floor)  as c, served by null_milter.cc: same steps negotiated, every RCPT
#                               "continue", every message accepted at DATA, no lookup, no rule —
#                               what Postfix spends on having any milter; c − f is the door's own
# One tlsfenced (built from this tree, default native milter engine) serves b, c and d, the
# second one e; pre-rounds (variants d and e) warm their caches (and Postfix's, unbound's)
# first, so the rounds measure the doors, not DNS.
# Measured per run: messages/s accepted by smtpd (first connection → last 250 after DATA),
# messages/s delivered end to end (→ the last "status=sent" in postfix-bench's log), CPU time
# of the whole Postfix instance (cgroup) and of tlsfenced per message; overhead of b, c, d vs a.
#
# Part 2, the policy door alone: policy_loadgen (C++, one epoll thread) sends Postfix 3.7-style
# RCPT attribute blocks (a mix of recipients of the same domains; forced-TLS sender → FILTER)
# to the same warm tlsfenced at 1, 16, 64 connections, checking every reply.
#
# usage: tests/bench/reception/run.sh [-b BUILD_DIR] [-n MESSAGES] [-r ROUNDS] [-c CONNS]
#                                     [-m PER_SESSION] [-d SECONDS] [-P "1 16 64"] [-M] [-L]
#   -b  build dir (default build/reception; configured RelWithDebInfo if missing)
#   -n  messages per run (default 2000)      -r  rounds of a,b,c,d (default 3, median shown)
#   -c  SMTP connections of the injector (default 8)   -m  messages per SMTP session (20)
#   -d  seconds per policy load point (default 4)      -P  policy connection counts
#   -M  mail part only                                 -L  policy load part only
#   env: KEEP=1 keeps the work directory (logs, configs); PERF=SECONDS records `perf record -g`
#        of tlsfenced for that long during the first variant-d run of round 1 ($WORK/perf.data)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD="$ROOT/build/reception"
N=2000
ROUNDS=3
CONNS=8
PER_SESSION=20
DURATION=4
POLICY_CONNS="1 16 64"
DO_MAIL=1
DO_POLICY=1
while getopts "b:n:r:c:m:d:P:ML" opt; do
  case $opt in
    b) BUILD=$OPTARG ;;
    n) N=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    m) PER_SESSION=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    P) POLICY_CONNS=$OPTARG ;;
    M) DO_POLICY=0 ;;
    L) DO_MAIL=0 ;;
    *) sed -n '2,31p' "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (the test world, a Postfix instance)" >&2; exit 2; }

if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target bench_reception >/dev/null
BIN="$BUILD/tests/bench/reception"
TLSFENCED_BIN="$BUILD/src/app/tlsfenced"

# ---------------------------------------------------------------- the test world
source "$ROOT/tests/world/lib.sh"   # RUN, addresses, tcp_open, die
world_up() {
  [ -f "$RUN/world.env" ] && tcp_open "$MX_A" 25 && tcp_open "$MX_E" 25 && tcp_open "$WEB" 443 \
    && kdig @"$RESOLVER" +dnssec +timeout=1 dane.test MX 2>/dev/null | grep -q 'Flags: qr rd ra ad'
}
if world_up; then
  WORLD_NOTE="test world already up (left as it was)"
else
  # up.sh restarts a running world: only when it is not (fully) up.
  "$ROOT/tests/world/up.sh" >/dev/null
  world_up || die "the test world did not come up"
  WORLD_NOTE="test world started by this run (left up)"
fi
# shellcheck disable=SC1091
source "$RUN/world.env"

WORK=$(mktemp -d /tmp/tlsfence-bench-reception.XXXXXX)
chmod 755 "$WORK"   # Postfix's processes (user postfix) reach the door sockets in here
PORT=2530
PB=$WORK/postfix          # postfix-bench: etc, spool, data
E=$PB/etc
PBLOG=$WORK/postfix-bench.log
CG=/sys/fs/cgroup/cpuacct/tlsfence-bench-reception.$$
TAG="reception-bench-$$-$(date +%s)"
TF_PID=""
TF2_PID=""
NULL_PID=""

cleanup() {
  set +e
  if [ -f "$E/main.cf" ] && [ -s "$PB/spool/pid/master.pid" ]; then
    postsuper -c "$E" -d ALL >/dev/null 2>&1
    postfix -c "$E" stop >/dev/null 2>&1
  fi
  for p in $TF_PID $TF2_PID $NULL_PID; do
    kill "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  # the delivered copies of this run's messages (marked X-Tlsfence-Bench: TAG)
  for d in "${DOMAINS[@]}"; do
    [ -d "$WORLD_MAIL/$d" ] && grep -rlZ "^X-Tlsfence-Bench: $TAG" "$WORLD_MAIL/$d" 2>/dev/null \
      | xargs -0 -r rm -f
  done
  if [ -d "$CG" ]; then
    for _ in $(seq 50); do [ -s "$CG/cgroup.procs" ] || break; sleep 0.2; done
    rmdir "$CG" 2>/dev/null
  fi
  if [ -n "${KEEP:-}" ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # through cleanup: Postfix, tlsfenced, cgroup, delivered copies

# ---------------------------------------------------------------- the message set
# DANE: dane.test, cname.test, implicit.test, crosszone.test; MTA-STS: sts.test (enforce),
# ststesting.test (testing); no policy: insecure.test, nostarttls.test (MX without STARTTLS).
DOMAINS=(dane.test sts.test insecure.test cname.test nostarttls.test implicit.test ststesting.test crosszone.test)
FORCED=clinic@sender.test
# Every 10th message comes from the forced-TLS sender (never to nostarttls.test: that one
# would be deferred, as it should), every 25th carries TLS-Required: No (half of those come
# from the forced-TLS sender: the milter must then leave them unmarked, the policy door, which
# sees no headers, still filters them).
awk -v n="$N" -v forced="$FORCED" -v domains="${DOMAINS[*]}" 'BEGIN {
    nd = split(domains, d, " ")
    for (i = 0; i < n; i++) {
      dom = d[i % nd + 1]
      from = (i % 10 == 3 && dom != "nostarttls.test") ? forced : sprintf("user%d@sender.test", i % 50)
      printf "%s bench%d@%s%s\n", from, i % 100, dom, (i % 25 == 13) ? " tls-required-no" : ""
    }
  }' >"$WORK/messages.txt"
# Policy requests: the same recipients; expected action per line.
awk -v forced="$FORCED" -v domains="${DOMAINS[*]}" 'BEGIN {
    nd = split(domains, d, " ")
    for (i = 0; i < 400; i++) {
      dom = d[i % nd + 1]
      f = (i % 10 == 3)
      printf "%s\t%s\tbench%d@%s\t%s\t%s\n", f ? "FILTER tlsfence-encrypt:" : "DUNNO",
        f ? forced : sprintf("user%d@sender.test", i % 50), i % 100, dom,
        (i % 3 == 0) ? "192.0.2." (i % 200 + 1) : "127.0.0.1", (i % 4 == 0) ? sprintf("user%d", i % 50) : "-"
    }
  }' >"$WORK/policy-requests.txt"

# ---------------------------------------------------------------- tlsfenced
start_tlsfenced() { # start_tlsfenced NAME SOCKET_TO_WAIT_FOR ARGS… — sets STARTED_PID
  "$TLSFENCED_BIN" --config "$WORLD_TLSFENCE_CONF" "--cache.db=$WORK/$1-cache.db" \
    "--tlsrpt.db=$WORK/$1-tlsrpt.db" "--tlsrpt.socket=" "--tlsrpt.outbox=$WORK/$1-reports" \
    "--daemon.user=" "--daemon.log-level=info" \
    "--reception.forced-tls-sender=$FORCED" "--reception.on-dnssec-bogus=defer" "${@:3}" \
    </dev/null >"$WORK/$1.log" 2>&1 &
  STARTED_PID=$!
  disown
  for _ in $(seq 200); do
    [ -S "$2" ] && break
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$WORK/$1.log" >&2; die "$1 exited"; }
    sleep 0.1
  done
  [ -S "$2" ] || die "$1's doors did not come up (see $WORK/$1.log)"
}
start_tlsfenced tlsfenced "$WORK/milter.sock" "--socketmap.listen=unix:$WORK/sm.sock" \
  "--policy.listen=unix:$WORK/policy.sock" "--milter.listen=unix:$WORK/milter.sock"
TF_PID=$STARTED_PID
[ -S "$WORK/policy.sock" ] || die "tlsfenced's policy door did not come up"
start_tlsfenced tlsfenced-libmilter "$WORK/milter-libmilter.sock" "--socketmap.listen=" "--policy.listen=" \
  "--milter.listen=unix:$WORK/milter-libmilter.sock" "--milter.engine=libmilter"
TF2_PID=$STARTED_PID
"$BIN/bench_reception_null_milter" "$WORK/milter-null.sock" </dev/null >"$WORK/null-milter.log" 2>&1 &
NULL_PID=$!
disown
for _ in $(seq 100); do [ -S "$WORK/milter-null.sock" ] && break; sleep 0.1; done
[ -S "$WORK/milter-null.sock" ] || die "the null milter did not come up (see $WORK/null-milter.log)"
for s in policy milter milter-libmilter milter-null; do chgrp postfix "$WORK/$s.sock"; chmod g+rw "$WORK/$s.sock"; done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK=$(getconf CLK_TCK)
rss_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------- postfix-bench
run_mail() {
  mkdir -p "$E" "$PB/spool" "$PB/data"
  chown postfix "$PB/data"
  cp "$WORLD_POSTFIX_OUT/main.cf" "$WORLD_POSTFIX_OUT/master.cf" "$E/"
  install -o postfix -g postfix -m 0644 /dev/null "$PBLOG"
  # The world's postfix-out as shipped (tests may have changed the live one: drop their keys),
  # on its own queue, log and port.
  postconf -c "$E" -X smtpd_recipient_restrictions smtpd_milters non_smtpd_milters milter_header_checks \
    smtp_tls_policy_maps milter_default_action 2>/dev/null || true
  postconf -c "$E" -e "queue_directory=$PB/spool" "data_directory=$PB/data" "maillog_file=$PBLOG" \
    "maillog_file_prefixes=/var, /dev/stdout, $WORK" "syslog_name=postfix-bench" \
    "smtpd_recipient_restrictions=permit_mynetworks, reject"
  sed -i "s/^$SENDER:$SENDER_PORT inet/$SENDER:$PORT inet/" "$E/master.cf"
  grep -q "^$SENDER:$PORT inet" "$E/master.cf" || die "could not move postfix-bench to port $PORT"
  printf '/^X-TLSfence: forced-tls/ FILTER tlsfence-encrypt:\n' >"$WORK/milter_header_checks"
  chmod 644 "$WORK/milter_header_checks"
  touch -d '-1 min' "$E/main.cf" "$E/master.cf"
  mkdir "$CG"
  # In the world's DNS view (as postfix-out), every process of the instance in cgroup $CG.
  unshare --mount --propagation private -- sh -c \
    'echo $$ > "$2/cgroup.procs" && mount --bind "$0" /etc/resolv.conf && exec postfix -c "$1" start' \
    "$WORLD_RESOLV_CONF" "$E" "$CG" >"$WORK/postfix-bench.start.log" 2>&1 \
    || { cat "$WORK/postfix-bench.start.log" >&2; die "postfix-bench did not start"; }
  for _ in $(seq 150); do tcp_open "$SENDER" "$PORT" && break; sleep 0.1; done
  tcp_open "$SENDER" "$PORT" || die "postfix-bench does not listen on $SENDER:$PORT"

  variant() { # variant a|b|c|d|e|f — configure postfix-bench, reload
    local rr="permit_mynetworks, reject" milters="" checks=""
    case $1 in
      b | d) rr="check_policy_service unix:$WORK/policy.sock, $rr" ;;
    esac
    case $1 in
      c | d) milters="unix:$WORK/milter.sock"; checks="regexp:$WORK/milter_header_checks" ;;
      e) milters="unix:$WORK/milter-libmilter.sock"; checks="regexp:$WORK/milter_header_checks" ;;
      f) milters="unix:$WORK/milter-null.sock"; checks="regexp:$WORK/milter_header_checks" ;;
    esac
    postconf -c "$E" -e "smtpd_recipient_restrictions=$rr" "smtpd_milters=$milters" \
      "milter_header_checks=$checks" "milter_default_action=tempfail"
    touch -d '-1 min' "$E/main.cf"
    postfix -c "$E" reload >/dev/null 2>&1
    sleep 1
  }
  queue_empty() {
    [ -z "$(find "$PB/spool"/{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | head -1)" ]
  }
  one_run() { # one_run VARIANT ROUND — prints the injector's line + cpu figures
    local v=$1 r=$2 line pf0 pf1 tf0 tf1 tf=$TF_PID
    [ "$v" = e ] && tf=$TF2_PID
    [ "$v" = f ] && tf=$NULL_PID
    variant "$v"
    for _ in $(seq 300); do queue_empty && break; sleep 0.2; done
    pf0=$(cat "$CG/cpuacct.usage")
    tf0=$(cpu_ticks "$tf")
    if [ -n "${PERF:-}" ] && [ "$v" = d ] && [ "$r" = 1 ]; then
      perf record -g -o "$WORK/perf.data" -p "$TF_PID" -- sleep "$PERF" >/dev/null 2>&1 &
    fi
    line=$("$BIN/bench_reception_inject" --tcp "$SENDER:$PORT" -f "$WORK/messages.txt" -c "$CONNS" \
      -m "$PER_SESSION" -t "$TAG" -l "$PBLOG" -w 300) || {
      echo "run.sh: variant $v round $r: $line" >&2
      tail -n 20 "$PBLOG" >&2
    }
    pf1=$(cat "$CG/cpuacct.usage")
    tf1=$(cpu_ticks "$tf")
    echo "variant=$v round=$r $line pf_cpu_us=$(((pf1 - pf0) / 1000)) tf_cpu_us=$(((tf1 - tf0) * 1000000 / TCK))" \
      | tee -a "$WORK/mail-raw.txt"
  }

  echo "pre-rounds (variants d and e, warm both tlsfenced's caches, unbound, Postfix):" >&2
  one_run d 0 >&2
  one_run e 0 >&2
  : >"$WORK/mail-raw.txt"
  local order=(a b c d e f)
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < 6; k++)); do
      one_run "${order[(k + r - 1) % 6]}" "$r" >&2
    done
  done
}

report_mail() {
  local rss hwm
  rss=$(rss_kib "$TF_PID" VmRSS)
  hwm=$(rss_kib "$TF_PID" VmHWM)
  echo
  echo "Mail through postfix-bench: $N messages per run, $CONNS SMTP connections, $PER_SESSION messages per session, median of $ROUNDS rounds (order rotated per round)"
  awk -v N="$N" '
    function med(arr, n,    i, j, t) {   # median of arr[1..n] (sorted in place)
      for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
      return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    }
    {
      delete kv
      for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
      v = kv["variant"]; r = kv["round"]; rounds[r] = 1
      inj[v, r] = kv["inject_mps"]; e2e[v, r] = kv["e2e_mps"]
      p50[v, r] = kv["p50_ms"]; p99[v, r] = kv["p99_ms"]
      pf[v, r] = kv["pf_cpu_us"] / N; tf[v, r] = kv["tf_cpu_us"] / N
      bad[v] += kv["rejected"] + (kv["accepted"] - kv["sent"])
      if (kv["injector_cpu_us"] != "") { ninj++; injcpu[ninj] = kv["injector_cpu_us"] / N; injshare[ninj] = 100 * kv["injector_cpu_us"] / 1e6 / kv["e2e_s"] }
    }
    END {
      name["a"] = "a  no doors"; name["b"] = "b  policy (check_policy_service)"
      name["c"] = "c  milter (smtpd_milters)"; name["d"] = "d  policy + milter"
      name["e"] = "e  milter, libmilter engine"; name["f"] = "f  null milter (floor)"
      printf "%-34s | %9s %9s %9s | %9s | %11s %11s %11s | %9s %9s %9s | %s\n", "variant", "accept", "p50", "p99", "delivered", "postfix cpu", "tlsfenced", "total cpu", "accept", "delivered", "cpu", "not"
      printf "%-34s | %9s %9s %9s | %9s | %11s %11s %11s | %9s %9s %9s | %s\n", "", "msg/s", "ms", "ms", "msg/s", "us/msg", "us/msg", "us/msg", "overhead", "overhead", "overhead", "delivered"
      printf "-----------------------------------+-------------------------------+-----------+-------------------------------------+-------------------------------+----------\n"
      n = 0; for (r in rounds) n++
      split("a b c d e f", vs, " ")
      for (k = 1; k <= 6; k++) {
        v = vs[k]; m = 0
        for (r in rounds) {
          m++
          a1[m] = inj[v, r]; a2[m] = e2e[v, r]; a3[m] = p50[v, r]; a4[m] = p99[v, r]
          a5[m] = pf[v, r]; a6[m] = tf[v, r]; a7[m] = pf[v, r] + tf[v, r]
          # paired with variant a of the same round
          o1[m] = 100 * (1 - inj[v, r] / inj["a", r]); o2[m] = 100 * (1 - e2e[v, r] / e2e["a", r])
          o3[m] = 100 * ((pf[v, r] + tf[v, r]) / (pf["a", r] + tf["a", r]) - 1)
        }
        if (v == "a") ov = sprintf("%9s %9s %9s", "-", "-", "-")
        else ov = sprintf("%8.1f%% %8.1f%% %8.1f%%", med(o1, m), med(o2, m), med(o3, m))
        printf "%-34s | %9.0f %9.1f %9.1f | %9.0f | %11.0f %11.0f %11.0f | %s | %d\n", name[v], med(a1, m), med(a3, m), med(a4, m), med(a2, m), med(a5, m), med(a6, m), med(a7, m), ov, bad[v]
      }
      if (("f", 1) in inj) {   # the doors above the floor: c, e vs f of the same round
        split("c e", ms, " ")
        for (q = 1; q <= 2; q++) {
          v = ms[q]; m = 0
          for (r in rounds) { m++; f1[m] = 100 * (1 - inj[v, r] / inj["f", r]); f3[m] = 100 * ((pf[v, r] + tf[v, r]) / (pf["f", r] + tf["f", r]) - 1); fa[m] = 100 * (1 - inj["f", r] / inj["a", r]); fc[m] = 100 * ((pf["f", r] + tf["f", r]) / (pf["a", r] + tf["a", r]) - 1) }
          printf "%s vs f (the door above a null milter): accept %+.1f %%, total cpu %+.1f %% (median of rounds)\n", v, med(f1, m), med(f3, m)
        }
        printf "f vs a (any milter at all, Postfix side): accept %+.1f %%, total cpu %+.1f %%\n", med(fa, m), med(fc, m)
      }
      if (ninj > 0) { c1 = med(injcpu, ninj); c2 = med(injshare, ninj)
        printf "injector (smtp_inject, C++, one epoll thread): %.0f us CPU per message, %.1f %% of one CPU (median of all runs)\n", c1, c2 }
    }' "$WORK/mail-raw.txt"
  echo "overhead: per round vs variant a of the same round, median; positive = slower / more CPU. Target <= 5 %."
  echo "tlsfenced column: the CPU of the process serving the variant (e: the second tlsfenced, f: the null milter)"
  echo "tlsfenced: RSS ${rss} KiB, peak ${hwm} KiB (after the mail rounds)"
  # The doors really worked: every forced-TLS message filtered by the policy door in b and d,
  # marked by the milter (and filtered by milter_header_checks) in c and d unless it carries
  # TLS-Required: No (then waived), and the same by the libmilter engine in e. Runs: the
  # pre-rounds (d, e) + ROUNDS of each variant.
  local forced waived pruns mruns pol mil wai
  forced=$(grep -c "^$FORCED " "$WORK/messages.txt" || true)
  waived=$(grep -c "^$FORCED .* tls-required-no$" "$WORK/messages.txt" || true)
  pruns=$((ROUNDS * 2 + 1))
  mruns=$((ROUNDS * 3 + 2))
  pol=$(grep -c 'NOQUEUE: filter: RCPT from .*Recipient address triggers FILTER tlsfence-encrypt:' "$PBLOG" || true)
  mil=$(grep -c 'milter-header-filter: header X-TLSfence: forced-tls' "$PBLOG" || true)
  wai=$(cat "$WORK/tlsfenced.log" "$WORK/tlsfenced-libmilter.log" | grep -c 'milter forced tls waived' || true)
  echo "doors at work (all runs): policy FILTER $pol (expected $((forced * pruns))), milter-marked and filtered $mil (expected $(((forced - waived) * mruns))), TLS-Required: No waived $wai (expected $((waived * mruns)))"
}

# ---------------------------------------------------------------- policy door load
run_policy() {
  # Pin like the socketmap benchmark: load generator on CPU 0, tlsfenced on CPU 1.
  local pin_gen=""
  if [ -z "${NO_PIN:-}" ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    taskset -a -pc 1 "$TF_PID" >/dev/null
    pin_gen="taskset -c 0"
  fi
  # warm: every recipient domain once (no-op when the mail part ran)
  "$BIN/bench_reception_policy_loadgen" --unix "$WORK/policy.sock" -f "$WORK/policy-requests.txt" -c 4 -d 1 -w 1 \
    >/dev/null || true
  echo
  echo "Policy door (check_policy_service protocol, unix socket, warm cache): ${DURATION}s per point, ${pin_gen:-no pinning}${pin_gen:+ (tlsfenced: taskset -c 1)}"
  printf "%5s | %9s %9s %9s | %11s | %s\n" conns "req/s" "p50 us" "p99 us" "cpu us/req" errors
  printf -- "------+-------------------------------+-------------+-------\n"
  local c line t0 t1
  for c in $POLICY_CONNS; do
    t0=$(cpu_ticks "$TF_PID")
    line=$($pin_gen "$BIN/bench_reception_policy_loadgen" --unix "$WORK/policy.sock" -f "$WORK/policy-requests.txt" \
      -c "$c" -d "$DURATION" -w 1 || true)
    t1=$(cpu_ticks "$TF_PID")
    echo "$line cpu_ticks=$((t1 - t0))" >>"$WORK/policy-raw.txt"
    awk -v ticks=$((t1 - t0)) -v tck="$TCK" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        cpu = (v["total"] > 0) ? sprintf("%.1f", 1e6 * ticks / tck / v["total"]) : "-"
        printf "%5d | %9d %9d %9d | %11s | %s\n", v["conns"], v["rps"], v["p50_us"], v["p99_us"], cpu, v["errors"] }' <<<"$line"
  done
  echo "tlsfenced: RSS $(rss_kib "$TF_PID" VmRSS) KiB, peak $(rss_kib "$TF_PID" VmHWM) KiB (after the policy load)"
}

echo "reception benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, tlsfenced $TLSFENCED_BIN; $WORLD_NOTE"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$DO_MAIL" = 1 ]; then
  run_mail
  report_mail
  echo "load average after the mail part: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
if [ "$DO_POLICY" = 1 ]; then
  run_policy
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
