#!/usr/bin/env python3
"""Fleet mode: several tlsfenced sharing the test world's real PostgreSQL 15 ([fleet] postgresql).

Usage: test_fleet.py TLSFENCED TLSFENCE   (the loopback test world and tests/world/pg.sh must be up)

Each test gets a fresh database set up as README "Running a fleet" says (a login role with no
rights beyond its own schema) and two or three daemons with their own state directories and
[fleet] host names. Policy fetches of fleet.test are counted in the world's
log/nginx-fleet.log (one line per HTTPS request the web server received).

- shared policy: host B answers a policy host A fetched, while its URL answers 404; and from the
  stored MTA-STS policy alone (RFC 8461 §5.1) once the stored decision is stale.
- coalescing: 3 hosts x 300 concurrent cold requests for one domain -> one HTTPS fetch and one
  DNS query per name and type for the fleet, counted at knotd (dns_queries.py: every host's
  libunbound asks knotd directly, each with its own cache).
- fleet-wide flush: `tlsfence cache flush` on one host drops the others' memory (NOTIFY).
- PostgreSQL stopped mid-load and started again: every request answered, none waiting longer
  than [dns] timeout, one log line per state change, the hosts reconnect and write again; and
  PostgreSQL hanging (SIGSTOP): a cold lookup gives up on it within its deadline.
- bad input from the database: a corrupt row and a newer row format are named and ignored; a
  newer schema version makes the host a single host with a clear error; db status.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

from dns_queries import DnsQueries

RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")
WORLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "world")
PSQL = "/usr/lib/postgresql/15/bin/psql"
TLSFENCED = TLSFENCE = None
FLEET = "OK secure match=mx1.sts.test servername=hostname"
PASSWORD = "s3cret-fleet-pw"
POLICY = os.path.join(RUN, "www", "mta-sts.fleet.test", ".well-known", "mta-sts.txt")
FETCH_LOG = os.path.join(RUN, "log", "nginx-fleet.log")
DNS_TIMEOUT = 3  # the world's tlsfence.conf


def env_file(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip().strip("'\"")
    except FileNotFoundError:
        pass
    raise unittest.SkipTest("no %s in %s" % (key, path))


def fetches():
    try:
        with open(FETCH_LOG) as f:
            return sum(1 for line in f if line.startswith("mta-sts.fleet.test "))
    except FileNotFoundError:
        return 0


def ask(sock_path, key, timeout=20):
    q = ("tlspolicy " + key).encode()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(b"%d:%s," % (len(q), q))
        data = b""
        while not data.endswith(b","):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b":", 1)[1][:-1].decode()


def healthz(sock_path, path="/healthz"):
    """GET /healthz (or `path`) over the unix socket of [metrics] listen: (status, body)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def sql(db, statement, user="postgres"):
    sock = env_file(os.path.join(RUN, "pg", "pg.env"), "PG_SOCK")
    port = env_file(os.path.join(RUN, "pg", "pg.env"), "PG_PORT")
    r = subprocess.run([PSQL, "-h", sock, "-p", port, "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1",
                        "-Atq", "-c", statement], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))
    if r.returncode != 0:
        raise AssertionError("psql %s: %s" % (statement, r.stderr))
    return r.stdout.strip()


def create_fleet_database():
    """A fresh database set up as README "Running a fleet" says: a login role, a database it
    cannot create objects in except its own schema. Returns (name, connection string)."""
    pg_addr = env_file(os.path.join(RUN, "pg", "pg.env"), "PG_ADDR")
    pg_port = env_file(os.path.join(RUN, "pg", "pg.env"), "PG_PORT")
    db = "fleet_" + uuid.uuid4().hex[:12]
    sql("postgres", "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tlsfence') THEN "
                    "CREATE ROLE tlsfence LOGIN PASSWORD '%s'; END IF; END$$" % PASSWORD)
    sql("postgres", "CREATE DATABASE %s" % db)
    sql("postgres", "REVOKE ALL ON DATABASE %s FROM PUBLIC" % db)
    sql("postgres", "GRANT CONNECT ON DATABASE %s TO tlsfence" % db)
    sql(db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    sql(db, "CREATE SCHEMA tlsfence AUTHORIZATION tlsfence")
    sql("postgres", "ALTER ROLE tlsfence IN DATABASE %s SET search_path = tlsfence" % db)
    return db, "host=%s port=%s dbname=%s user=tlsfence password=%s" % (pg_addr, pg_port, db, PASSWORD)


def drop_fleet_database(db):
    sql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)


class Host:
    def __init__(self, test, name):
        self.name = name
        self.dir = os.path.join(test.tmp, name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "sm.sock")
        self.log_path = os.path.join(self.dir, "tlsfenced.log")
        self.args = ["--config", test.conf, "--cache.db=" + os.path.join(self.dir, "cache.db"),
                     "--fleet.postgresql=" + test.conninfo, "--fleet.host=" + name]
        self.proc = None

    def start(self, *extra, wait_connected=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([TLSFENCED, *self.args, "--socketmap.listen=unix:" + self.sock,
                                      "--policy.listen=", "--milter.listen=", "--daemon.log-level=info",
                                      *extra], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock) or (wait_connected and "fleet database connected" not in self.text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("%s did not start: %s" % (self.name, self.text()))
            time.sleep(0.05)
        return self

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; the exit status, or None when it had to be killed after 30 s."""
        if not self.proc:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode

    def cli(self, *args):
        return subprocess.run([TLSFENCE, *self.args, "--daemon.log-level=warning", *args],
                              capture_output=True, text=True, timeout=60)


class FleetTest(unittest.TestCase):
    def setUp(self):
        self.conf = env_file(os.path.join(RUN, "world.env"), "WORLD_TLSFENCE_CONF")
        self.tmp = tempfile.mkdtemp(prefix="fleet-test-")
        self.db, self.conninfo = create_fleet_database()
        self.hosts = []
        self.policy_saved = None

    def tearDown(self):
        status = {h.name: h.stop() for h in self.hosts}
        if self.policy_saved:
            os.replace(self.policy_saved, POLICY)
        for h in self.hosts:
            self.assertNotIn(PASSWORD, h.text(), "password logged by " + h.name)
            # A sanitizer report of the daemon itself fails the test. libunbound's resolver
            # process (ub_ctx_async(ctx, 0) forks one) reports under its own pid, at its exit,
            # the memory held only by the daemon's other threads (the fleet worker's queue) as
            # leaked: a false positive of forking a threaded process, not counted here.
            own = "==%d==ERROR" % h.proc.pid
            self.assertNotIn(own, h.text(), h.name + ": " + h.text()[-3000:])
            if status[h.name] is None:
                # Seen once in the ASan build: no exit within 30 s after "stopped". Reported.
                print("WARNING: %s had to be killed after SIGTERM" % h.name, file=sys.stderr)
            else:
                self.assertEqual(status[h.name], 0, h.name + ": " + h.text()[-3000:])
        subprocess.run([os.path.join(WORLD, "pg.sh"), "start"], capture_output=True, timeout=60)
        drop_fleet_database(self.db)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def host(self, name, *extra, wait_connected=True):
        h = Host(self, name)
        self.hosts.append(h)
        return h.start(*extra, wait_connected=wait_connected)

    def remove_policy(self):
        self.policy_saved = POLICY + ".fleet-test"
        os.replace(POLICY, self.policy_saved)

    def wait_for(self, what, cond, secs=10):
        deadline = time.monotonic() + secs
        while not cond():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.05)

    def stored(self, table="tlsfence_policy_decisions", where="domain = 'fleet.test'"):
        return sql(self.db, "SELECT host FROM tlsfence.%s WHERE %s" % (table, where))

    def test_shared_policy_answered_without_fetching(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        before = fetches()
        self.assertEqual(ask(a.sock, "fleet.test"), FLEET)
        self.assertEqual(fetches(), before + 1)
        self.wait_for("A's decision stored", lambda: self.stored() == "mx-a")
        self.assertEqual(self.stored("tlsfence_sts_policies"), "mx-a")
        self.remove_policy()  # the URL now answers 404
        # `tlsfence query` on B answers what B's daemon will: the fleet's row (read, not written).
        q = b.cli("query", "fleet.test")
        self.assertEqual(q.stdout, FLEET + "\n", q.stderr)
        self.assertEqual(sql(self.db, "SELECT count(*) FROM tlsfence.tlsfence_hosts"), "2")  # no CLI row
        self.assertEqual(ask(b.sock, "fleet.test"), FLEET)
        self.assertIn("policy from the fleet domain=fleet.test verdict=policy source=sts", b.text())
        self.assertIn("written_by=mx-a", b.text())
        self.assertEqual(fetches(), before + 1)
        # RFC 8461 §5.1 fleet-wide: a stale stored decision, a stored policy within max_age. A
        # third host re-checks the TXT id (unchanged) and uses the stored policy: no fetch.
        sql(self.db, "UPDATE tlsfence.tlsfence_policy_decisions SET expires_at = 0")
        c = self.host("mx-c")
        self.assertEqual(ask(c.sock, "fleet.test"), FLEET)
        self.assertEqual(fetches(), before + 1)
        self.assertIn("policy decided domain=fleet.test verdict=policy source=sts", c.text())

    def test_cold_domain_resolved_once_for_the_fleet(self):
        # dns.timeout 8 s: the others wait up to 4 s for the resolving host, ample even for the
        # ASan build on a loaded machine (the world's 3 s would give 1.5 s).
        timeout = 8
        hosts = [self.host("mx-%d" % i, "--dns.timeout=%d" % timeout) for i in range(3)]
        before = fetches()
        answers, slow, errors = [], [], []
        go = threading.Event()

        def one(h):
            go.wait()
            t0 = time.monotonic()
            try:
                answers.append(ask(h.sock, "fleet.test"))
            except OSError as e:
                errors.append(str(e))
            if time.monotonic() - t0 > timeout:
                slow.append(time.monotonic() - t0)

        threads = [threading.Thread(target=one, args=(h,)) for h in hosts for _ in range(300)]
        for t in threads:
            t.start()
        with DnsQueries() as dns:
            go.set()
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(answers, [FLEET] * 900)
        self.assertEqual(slow, [])
        self.assertEqual(fetches(), before + 1, "one HTTPS fetch for the fleet")
        # One set of DNS queries for the fleet: what one host resolving alone asks (the TXT and
        # MX of fleet.test, the A/AAAA of mta-sts.fleet.test and of mx1.sts.test, the DNSKEY of
        # test. to validate them), each name and type once, not once per host.
        asked = sorted(dns.counts.items())
        self.assertIn((("_mta-sts.fleet.test.", "TXT"), 1), asked)
        self.assertIn((("fleet.test.", "MX"), 1), asked)
        self.assertEqual([q for q in asked if q[1] != 1], [], "asked more than once: %s" % asked)
        resolved = sum(h.text().count("policy decided domain=fleet.test") for h in hosts)
        from_fleet = sum(h.text().count("policy from the fleet domain=fleet.test") for h in hosts)
        self.assertEqual(resolved, 1)
        self.assertEqual(from_fleet, 2)

    def test_flush_reaches_every_host(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        self.assertEqual(ask(a.sock, "fleet.test"), FLEET)
        self.assertEqual(ask(b.sock, "fleet.test"), FLEET)  # from the fleet, now in B's memory
        before = fetches()
        self.assertEqual(ask(b.sock, "fleet.test"), FLEET)  # a memory hit
        self.assertEqual(fetches(), before)
        flushed = a.cli("cache", "flush", "fleet.test")
        self.assertEqual(flushed.returncode, 0, flushed.stderr)
        self.assertIn("flushed fleet.test from the fleet database", flushed.stdout)
        for h in (a, b):
            self.wait_for(h.name + " got the flush",
                          lambda: "fleet: cache control op=flush domain=fleet.test from=mx-a" in h.text())
        self.assertEqual(self.stored(), "")
        self.assertEqual(self.stored("tlsfence_sts_policies"), "")
        # B's memory no longer has it: it resolves (and fetches) again.
        self.assertEqual(ask(b.sock, "fleet.test"), FLEET)
        self.assertEqual(fetches(), before + 1)
        # refresh on A (its tlsfenced does it): B drops its copy and reads A's refreshed row.
        refreshed = a.cli("cache", "refresh", "fleet.test")
        self.assertEqual(refreshed.stdout, "fleet.test\t" + FLEET + "\n", refreshed.stderr)
        self.wait_for("B got the refresh",
                      lambda: "fleet: cache control op=refreshed domain=fleet.test from=mx-a" in b.text())
        self.assertNotIn("op=refreshed", a.text())  # its own refresh
        from_fleet = b.text().count("policy from the fleet domain=fleet.test")
        self.assertEqual(ask(b.sock, "fleet.test"), FLEET)
        self.assertEqual(b.text().count("policy from the fleet domain=fleet.test"), from_fleet + 1)
        status = a.cli("db", "status")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("schema\t2 (current)", status.stdout)
        self.assertRegex(status.stdout, r"host\tmx-a\ttlsfenced\tversion=\S+\tpid=%d\tlast_seen=" % a.proc.pid)
        self.assertIn("host\tmx-b\ttlsfenced", status.stdout)
        self.assertIn("password=***", status.stdout)
        self.assertNotIn(PASSWORD, status.stdout + status.stderr)

    def test_postgresql_stopped_mid_load(self):
        metrics = os.path.join(self.tmp, "mx-a-metrics.sock")
        a, b = self.host("mx-a", "--metrics.listen=unix:" + metrics), self.host("mx-b")
        self.assertEqual(healthz(metrics), (200, "ok\n"))
        domains = ["fleet.test", "sts.test", "dane.test", "nullmx.test", "insecure.test"]
        stop = threading.Event()
        results, errors = [], []

        def load(h):
            i = 0
            while not stop.is_set():
                d = domains[i % len(domains)]
                i += 1
                t0 = time.monotonic()
                try:
                    r = ask(h.sock, d)
                    results.append((d, r, time.monotonic() - t0))
                except OSError as e:
                    errors.append((h.name, d, str(e)))
                time.sleep(0.01)

        threads = [threading.Thread(target=load, args=(h,)) for h in (a, b) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1)
        subprocess.run([os.path.join(WORLD, "pg.sh"), "stop"], check=True, capture_output=True, timeout=60)
        for h in (a, b):
            self.wait_for(h.name + " noticed", lambda: "fleet database connection lost" in h.text())
        # /healthz says so (every door still answers).
        status, body = healthz(metrics)
        self.assertEqual(status, 503, body)
        self.assertIn("fleet database unreachable", body)
        # Cold domains while the database is down: resolved by the host itself.
        self.assertEqual(ask(a.sock, "partial.test"), "OK dane")
        time.sleep(1)
        subprocess.run([os.path.join(WORLD, "pg.sh"), "start"], check=True, capture_output=True, timeout=60)
        for h in (a, b):
            self.wait_for(h.name + " reconnected", lambda: h.text().count("fleet database connected") == 2, 40)
        self.assertEqual(healthz(metrics), (200, "ok\n"))
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        expected = {"fleet.test": FLEET, "sts.test": "OK secure match=mx1.sts.test:.mx.sts.test servername=hostname",
                    "dane.test": "OK dane-only", "nullmx.test": "NOTFOUND ", "insecure.test": "NOTFOUND "}
        self.assertGreater(len(results), 100)
        for d, r, took in results:
            self.assertEqual(r, expected[d], d)
            self.assertLess(took, DNS_TIMEOUT, d)
        for h in (a, b):
            self.assertEqual(h.text().count("fleet database connection lost"), 1, h.name)
            self.assertEqual(h.text().count("fleet database unreachable"), 0, h.name)
            self.assertEqual(h.text().count("fleet database connected"), 2, h.name)
        # Writing again after the reconnect: a domain first asked now is stored.
        self.assertEqual(ask(b.sock, "cname.test"), "OK dane-only")
        self.wait_for("cname.test stored", lambda: self.stored(where="domain = 'cname.test'") == "mx-b")

    def postgres_pids(self):
        with open(os.path.join(RUN, "pg", "data", "postmaster.pid")) as f:
            master = int(f.readline())
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
        return [master] + [int(p) for p in kids.split()]

    def test_postgresql_hanging(self):
        a = self.host("mx-a")
        self.assertEqual(ask(a.sock, "dane.test"), "OK dane-only")
        pids = self.postgres_pids()
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        try:
            # A cold domain while the database accepts nothing: the fleet read gives up after its
            # deadline (a quarter of dns.timeout), the host resolves alone.
            t0 = time.monotonic()
            self.assertEqual(ask(a.sock, "partial.test"), "OK dane")
            self.assertLess(time.monotonic() - t0, DNS_TIMEOUT)
            self.wait_for("noticed", lambda: "fleet database connection lost" in a.text())
            for d in ("cname.test", "implicit.test", "crosszone.test"):  # down: not asked at all
                t0 = time.monotonic()
                self.assertEqual(ask(a.sock, d), "OK dane-only")
                self.assertLess(time.monotonic() - t0, 1.5, d)
        finally:
            for p in pids:
                os.kill(p, signal.SIGCONT)
        self.wait_for("reconnected", lambda: a.text().count("fleet database connected") == 2, 40)
        self.assertEqual(a.text().count("fleet database connection lost"), 1)

    def test_bad_rows_and_newer_schema(self):
        a = self.host("mx-a")
        self.assertEqual(ask(a.sock, "fleet.test"), FLEET)
        self.wait_for("stored", lambda: self.stored() == "mx-a")
        sql(self.db, "UPDATE tlsfence.tlsfence_policy_decisions SET decision = '{\"domain\": 7'")
        b = self.host("mx-b")
        self.assertEqual(ask(b.sock, "fleet.test"), FLEET)  # resolved itself
        self.assertIn("fleet: stored decision is corrupt; ignored, resolving instead domain=fleet.test", b.text())
        sql(self.db, "UPDATE tlsfence.tlsfence_policy_decisions SET format = 99")
        c = self.host("mx-c")
        self.assertEqual(ask(c.sock, "fleet.test"), FLEET)
        self.assertIn("fleet: stored decision has a newer row format; ignored, resolving instead "
                      "domain=fleet.test format=99", c.text())
        # A database migrated by a newer tlsfence: refused with a clear error, single host.
        sql(self.db, "UPDATE tlsfence.tlsfence_schema SET version = 42")
        d = self.host("mx-d", wait_connected=False)
        self.wait_for("refused", lambda: "fleet database refused" in d.text())
        self.assertIn("schema version 42, newer than this program's 2", d.text())
        self.assertEqual(ask(d.sock, "dane.test"), "OK dane-only")
        status = d.cli("db", "status")
        self.assertEqual(status.returncode, 2)
        self.assertIn("incompatible", status.stderr)

    def test_bad_connection_string_is_a_config_error(self):
        r = subprocess.run([TLSFENCED, "--config", self.conf, "--fleet.postgresql=host=x password='" + PASSWORD],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("fleet.postgresql: not a libpq connection string", r.stderr)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)


if __name__ == "__main__":
    TLSFENCED, TLSFENCE = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
