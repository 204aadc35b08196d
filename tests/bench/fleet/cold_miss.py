#!/usr/bin/env python3
"""Fleet benchmark, part 2: latency of a cold miss answered from PostgreSQL (see ../README.md).

Usage: cold_miss.py TLSFENCED TLSFENCE CONNINFO WORKDIR [ROUNDS]   (the test world must be up;
run by tests/bench/fleet/run.sh)

Two real tlsfenced (hosts A and B) on one PostgreSQL, in the test world. Each round:
`tlsfence cache flush` (every stored row and both hosts' memory, fleet-wide); A asks every domain
of DOMAINS once (a full resolve: DNS through knotd, HTTPS fetches from nginx; A's libunbound
keeps its own DNS cache across rounds, as a running host does); once A's rows are in the
database, B asks each domain once (B's memory is cold: the answer is one PostgreSQL read) and
then again (a memory hit). Every request on one kept-open unix socket connection per host,
timed from its send to its reply; every answer checked against A's. B's log must say "policy
from the fleet" once per domain and round: a B miss that resolved by itself is an error.
Prints p50/p90/p99/max per kind.
"""
import os
import signal
import socket
import subprocess
import sys
import time

DOMAINS = ["dane.test", "partial.test", "unusable.test", "danefail.test", "insecure.test", "insecurehost.test",
           "nullmx.test", "implicit.test", "crosszone.test", "cname.test", "nosuch.test", "nostarttls.test",
           "sts.test", "ststesting.test", "stsnone.test", "stsmismatch.test", "stsdane.test", "fleet.test",
           "reports.test"]
PSQL = "/usr/lib/postgresql/15/bin/psql"


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""

    def ask(self, domain):
        """(reply, seconds) of one `tlspolicy DOMAIN` request."""
        q = ("tlspolicy " + domain).encode()
        t0 = time.perf_counter()
        self.s.sendall(b"%d:%s," % (len(q), q))
        while True:
            head, colon, rest = self.buf.partition(b":")
            if colon and len(rest) > int(head):
                took = time.perf_counter() - t0
                n = int(head)
                reply, self.buf = rest[:n].decode(), rest[n + 1:]
                return reply, took
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            self.buf += chunk


def start(tlsfenced, conf, conninfo, work, name):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    sock, log = os.path.join(d, "sm.sock"), os.path.join(d, "tlsfenced.log")
    args = ["--config", conf, "--cache.db=" + os.path.join(d, "cache.db"), "--fleet.postgresql=" + conninfo,
            "--fleet.host=" + name]
    p = subprocess.Popen([tlsfenced, *args, "--socketmap.listen=unix:" + sock, "--policy.listen=",
                          "--milter.listen=", "--daemon.log-level=info"], stdout=open(log, "ab"),
                         stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock) or "fleet database connected" not in open(log, errors="replace").read():
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit("%s did not start: see %s" % (name, log))
        time.sleep(0.05)
    return p, sock, log, args


def stored(conninfo):
    """The domains with a decision row in the fleet database."""
    sql = "SELECT domain FROM tlsfence.tlsfence_policy_decisions"
    out = subprocess.run([PSQL, conninfo, "-Atqc", sql], capture_output=True, text=True).stdout
    return set(out.split())


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    tlsfenced, tlsfence, conninfo, work = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    conf = os.path.join(os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world"), "tlsfence", "tlsfence.conf")
    a, a_sock, a_log, a_args = start(tlsfenced, conf, conninfo, work, "bench-a")
    b, b_sock, b_log, _ = start(tlsfenced, conf, conninfo, work, "bench-b")
    times = {"full resolve (host A)": [], "from PostgreSQL (host B, memory cold)": [], "memory hit (host B)": []}
    try:
        ca, cb = Conn(a_sock), Conn(b_sock)
        for r in range(rounds):
            flush = subprocess.run([tlsfence, *a_args, "--daemon.log-level=warning", "cache", "flush"],
                                   capture_output=True, text=True, timeout=60)
            if flush.returncode != 0:
                sys.exit("cache flush: " + flush.stderr)
            deadline = time.monotonic() + 10
            while sum(open(log).read().count("fleet: cache control op=flush") for log in (a_log, b_log)) < 2 * (r + 1):
                if time.monotonic() > deadline:
                    sys.exit("the flush did not reach both hosts")
                time.sleep(0.02)
            expected = {}
            for d in DOMAINS:
                expected[d], took = ca.ask(d)
                times["full resolve (host A)"].append(took)
            deadline = time.monotonic() + 20
            while (missing := set(DOMAINS) - stored(conninfo)):
                if time.monotonic() > deadline:
                    lines = [l for l in open(a_log).read().splitlines() if any(d in l for d in missing)]
                    sys.exit("round %d: A's decisions not stored: %s; A's log about them:\n%s"
                             % (r, " ".join(sorted(missing)), "\n".join(lines[-20:])))
                time.sleep(0.05)
            from_fleet = open(b_log).read().count("policy from the fleet")
            for key in ("from PostgreSQL (host B, memory cold)", "memory hit (host B)"):
                for d in DOMAINS:
                    reply, took = cb.ask(d)
                    if reply != expected[d]:
                        sys.exit("B answered %r for %s, A %r" % (reply, d, expected[d]))
                    times[key].append(took)
            got = open(b_log).read().count("policy from the fleet") - from_fleet
            if got != len(DOMAINS):
                sys.exit("round %d: B answered %d of %d from the fleet (see %s)" % (r, got, len(DOMAINS), b_log))
    finally:
        for p in (a, b):
            p.send_signal(signal.SIGTERM)
            p.wait(30)
    print("cold miss from PostgreSQL: %d domains x %d rounds, one kept-open unix socket connection per host"
          % (len(DOMAINS), rounds))
    print("%-40s %7s %9s %9s %9s %9s" % ("", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms"))
    for k, xs in times.items():
        print("%-40s %7d %9.3f %9.3f %9.3f %9.3f" % (k, len(xs), 1e3 * pct(xs, 50), 1e3 * pct(xs, 90),
                                                     1e3 * pct(xs, 99), 1e3 * max(xs)))


if __name__ == "__main__":
    main()
