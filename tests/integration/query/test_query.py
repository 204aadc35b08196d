#!/usr/bin/env python3
"""`tlsfence query` / `explain` against the loopback test world (tests/world/DOMAINS.md).

Resolves in process with real libunbound validation of the knot-signed zones and real
HTTPS fetches from nginx: the whole policy stack, no daemon. Usage: test_query.py TLSFENCE
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

TLSFENCE = None
RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")

STS_SECURE = "OK secure match=mx1.sts.test:.mx.sts.test servername=hostname"

# domain -> expected socketmap text (a prefix for TEMP answers)
EXPECTED = {
    "dane.test": "OK dane-only",
    "partial.test": "OK dane",
    "unusable.test": "OK encrypt",
    "danefail.test": "OK dane-only",
    "expired.test": "TEMP ",
    "bogus.test": "TEMP ",
    "bogustlsa.test": "TEMP ",
    "insecure.test": "NOTFOUND ",
    "insecurehost.test": "NOTFOUND ",
    "nullmx.test": "NOTFOUND ",
    "implicit.test": "OK dane-only",
    "crosszone.test": "OK dane-only",
    "cname.test": "OK dane-only",
    "nosuch.test": "NOTFOUND ",
    "nostarttls.test": "NOTFOUND ",
    "danemxexpired.test": "OK dane-only",
    "sts.test": STS_SECURE,
    "ststesting.test": "NOTFOUND ",
    "stsnone.test": "NOTFOUND ",
    "stsredirect.test": "NOTFOUND ",
    "stshtml.test": "NOTFOUND ",
    "stsbig.test": "NOTFOUND ",
    "stschunked.test": "NOTFOUND ",
    "sts404.test": "NOTFOUND ",
    "stswrongcert.test": "NOTFOUND ",
    "stsexpired.test": "NOTFOUND ",
    "stsmismatch.test": "OK secure match=mx1.stsmismatch.test servername=hostname",
    "stsmxexpired.test": "OK secure match=mx1.stsmxexpired.test servername=hostname",
    "stsbadtxt.test": "NOTFOUND ",
    "stsdane.test": "OK dane-only",
    # next hops that are not domains, and IDNA input
    "[127.0.0.10]": "NOTFOUND ",
    "[mx1.dane.test]:25": "NOTFOUND ",
    "DANE.TEST.": "OK dane-only",
}


def world_config():
    env = {}
    with open(os.path.join(RUN, "world.env")) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.replace("export ", "")] = v.strip("'\"")
    return env["WORLD_TLSFENCE_CONF"]


class QueryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.conf = world_config()

    def tearDown(self):
        self.tmp.cleanup()

    def tlsfence(self, *args, extra=()):
        cmd = [TLSFENCE, "--config", self.conf, "--cache.db=" + os.path.join(self.tmp.name, "cache.db"),
               "--daemon.log-level=warning", *extra, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def test_every_world_domain_in_one_call(self):
        domains = list(EXPECTED)
        r = self.tlsfence("query", *domains)
        lines = r.stdout.split("\n")[:-1]
        self.assertEqual(len(lines), len(domains), r.stdout + r.stderr)
        for domain, line in zip(domains, lines):
            with self.subTest(domain=domain):
                if EXPECTED[domain] == "TEMP ":
                    self.assertTrue(line.startswith("TEMP ") and len(line) > 5, line)
                else:
                    self.assertEqual(line, EXPECTED[domain])
        self.assertEqual(r.returncode, 1, "a TEMP answer among them: exit status 1")

    def test_exit_status_zero_without_temp(self):
        r = self.tlsfence("query", "dane.test", "nosuch.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "OK dane-only\nNOTFOUND \n")

    def test_bogus_temp_names_dnssec(self):
        r = self.tlsfence("query", "expired.test")
        self.assertEqual(r.returncode, 1)
        self.assertIn("DNSSEC", r.stdout)
        self.assertIn("expired", r.stdout)

    def test_black_hole_times_out_within_dns_timeout(self):
        start = time.monotonic()
        r = self.tlsfence("query", "hang.test", extra=["--dns.timeout=2"])
        elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("TEMP "), r.stdout)
        self.assertLess(elapsed, 2 + 2.5)

    def test_ssrf_guard_refuses_loopback_policy_host(self):
        r = self.tlsfence("query", "sts.test", extra=["--mta-sts.allow-private-addresses=no"])
        self.assertEqual(r.stdout, "NOTFOUND \n")
        self.assertEqual(r.returncode, 0)
        e = self.tlsfence("explain", "sts.test", extra=["--mta-sts.allow-private-addresses=no"])
        self.assertIn("sts-policy-fetch-error", e.stdout)

    def test_enforce_testing(self):
        r = self.tlsfence("query", "ststesting.test", extra=["--socketmap.enforce-testing=yes"])
        self.assertEqual(r.stdout, "OK secure match=mx1.sts.test servername=hostname\n")

    def test_webpki_failure_is_typed(self):
        for domain in ("stswrongcert.test", "stsexpired.test"):
            with self.subTest(domain=domain):
                r = self.tlsfence("explain", "--json", domain)
                j = json.loads(r.stdout)
                self.assertEqual(j["answer"], "NOTFOUND ")
                self.assertEqual(j["result_type"], "sts-webpki-invalid", r.stdout)

    def test_explain_json_dane(self):
        r = self.tlsfence("explain", "--json", "partial.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["answer"], "OK dane")
        self.assertEqual(j["source"], "dane")
        self.assertEqual(j["mx_dnssec"], "secure")
        hosts = {h["name"]: h for h in j["dane_hosts"]}
        self.assertTrue(hosts["mx1.partial.test"]["dane"])
        self.assertFalse(hosts["mx2.partial.test"]["dane"])

    def test_explain_text_for_an_admin(self):
        r = self.tlsfence("explain", "bogustlsa.test")
        self.assertEqual(r.returncode, 1)
        self.assertIn("answer:        TEMP", r.stdout)
        self.assertIn("RFC 8460 type: dnssec-invalid", r.stdout)
        self.assertIn("reasons:", r.stdout)

    def test_local_override_wins(self):
        r = self.tlsfence("query", "expired.test", "dane.test",
                          extra=["--local.override=expired.test encrypt", "--local.override=.test may"])
        self.assertEqual(r.stdout, "OK encrypt\nOK may\n")


if __name__ == "__main__":
    TLSFENCE = sys.argv.pop(1)
    unittest.main()
