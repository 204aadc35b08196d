#!/usr/bin/env python3
"""Fleet mode over TLS: [fleet] postgresql's sslmode honoured by real tlsfenced processes.

Usage: test_fleet_tls.py TLSFENCED TLSFENCE   (the loopback test world and tests/world/pg.sh up)

The world's PostgreSQL gets TLS for the test (`pg.sh tls on`: a certificate for pg.fleet.test
and 127.0.0.30 from the world's CA, ssl = on by a reload) and loses it again afterwards.

- sslmode=verify-full, sslrootcert = the world's CA, host pg.fleet.test: connected over TLS
  (pg_stat_ssl), and a policy host A fetched is answered by host B from the database;
- sslmode=verify-full with the system's CA bundle (the wrong root) or with a host name the
  certificate does not carry: no connection, a clear error logged once (connection string
  redacted), the door answering as a single host, /healthz 503 "fleet database unreachable";
- sslmode=require against the server without TLS: refused the same way, named.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_fleet  # noqa: E402
from test_fleet import FLEET, PASSWORD, RUN, WORLD, ask, env_file, healthz, sql  # noqa: E402

SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def pg_tls(state):
    r = subprocess.run([os.path.join(WORLD, "pg.sh"), "tls", state], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("pg.sh tls %s: %s" % (state, r.stdout + r.stderr))


class FleetTlsTest(unittest.TestCase):
    def setUp(self):
        test_fleet.FleetTest.setUp(self)
        self.plain = self.conninfo  # host=ADDR …, no TLS options

    tearDown = test_fleet.FleetTest.tearDown
    host = test_fleet.FleetTest.host
    wait_for = test_fleet.FleetTest.wait_for

    @classmethod
    def setUpClass(cls):
        cls.ca = env_file(os.path.join(RUN, "world.env"), "WORLD_CA")
        cls.addr = env_file(os.path.join(RUN, "pg", "pg.env"), "PG_ADDR")

    def conninfo_for(self, host_name, sslmode, root=None):
        """The test's connection string with `host` a name (its address in hostaddr) and TLS set."""
        c = self.plain.replace("host=%s " % self.addr, "host=%s hostaddr=%s " % (host_name, self.addr))
        c += " sslmode=" + sslmode
        if root:
            c += " sslrootcert=" + root
        return c

    def refused(self, cases):
        """Hosts started with each (name, conninfo, error): none connects; each logs `error` once
        (checked after two retries), answers as a single host, and /healthz says so."""
        hosts = []
        for name, conninfo, error in cases:
            self.conninfo = conninfo
            metrics = os.path.join(self.tmp, name + "-metrics.sock")
            hosts.append((self.host(name, "--metrics.listen=unix:" + metrics, wait_connected=False), metrics, error))
        for h, _, _ in hosts:
            try:
                self.wait_for(h.name + " gave up", lambda: "fleet database unreachable" in h.text())
            except AssertionError:
                raise AssertionError(h.name + " did not log 'fleet database unreachable': " + h.text()[-3000:])
        time.sleep(1.8)  # retries after 0.5 s and 1 s (back-off), each failing again
        for h, metrics, error in hosts:
            self.assertEqual(ask(h.sock, "dane.test"), "OK dane-only")  # answered as a single host
            status, body = healthz(metrics)
            self.assertEqual(status, 503, body)
            self.assertIn("fleet database unreachable", body)
            line = [l for l in h.text().splitlines() if "fleet database unreachable" in l]
            self.assertEqual(len(line), 1, h.text())  # once, not once per retry
            self.assertIn(error, line[0])
            self.assertIn("password=***", line[0])
            self.assertNotIn(PASSWORD, h.text())
            self.assertNotIn("fleet database connected", h.text())

    def test_verify_full(self):
        pg_tls("on")
        try:
            self.conninfo = self.conninfo_for("pg.fleet.test", "verify-full", self.ca)
            a, b = self.host("mx-a"), self.host("mx-b")
            self.assertEqual(sql(self.db, "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                                          "WHERE usename = 'tlsfence' AND datname = current_database() AND NOT ssl"), "0")
            self.assertGreaterEqual(int(sql(self.db, "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity "
                                                     "USING (pid) WHERE usename = 'tlsfence' AND datname = current_database() AND ssl")), 2)
            self.assertEqual(ask(a.sock, "fleet.test"), FLEET)
            self.wait_for("A's decision stored", lambda: sql(self.db, "SELECT host FROM "
                          "tlsfence.tlsfence_policy_decisions WHERE domain = 'fleet.test'") == "mx-a")
            self.assertEqual(ask(b.sock, "fleet.test"), FLEET)
            self.assertIn("policy from the fleet domain=fleet.test", b.text())
            # The wrong root CA, the wrong host name: refused, named.
            self.refused([("mx-wrong-ca", self.conninfo_for("pg.fleet.test", "verify-full", SYSTEM_CAS),
                           "SSL error: certificate verify failed"),
                          ("mx-wrong-name", self.conninfo_for("db.fleet.test", "verify-full", self.ca),
                           'server certificate for \\"pg.fleet.test\\" (and 1 other name) does not match host name '
                           '\\"db.fleet.test\\"')])
        finally:
            pg_tls("off")

    def test_require_without_tls(self):
        pg_tls("off")
        self.refused([("mx-a", self.conninfo_for("pg.fleet.test", "require"),
                       "server does not support SSL, but SSL was required")])


if __name__ == "__main__":
    test_fleet.TLSFENCED, test_fleet.TLSFENCE = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
