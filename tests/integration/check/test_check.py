#!/usr/bin/env python3
"""`tlsfence check` against the loopback test world (tests/world/DOMAINS.md).

Real knot + libunbound DNSSEC, real nginx MTA-STS hosts with the test CA, the receiving
Postfix on 127.0.0.10-.16:25 (STARTTLS with the TLSA'd key; .15 without STARTTLS; .16 with a
certificate for wrong.test). Usage: test_check.py TLSFENCE
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


def world_env():
    env = {}
    with open(os.path.join(RUN, "world.env")) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.replace("export ", "")] = v.strip("'\"")
    return env


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.env = world_env()
        self.cache_db = os.path.join(self.tmp.name, "cache.db")

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, domain, *extra, json_out=True):
        cmd = [TLSFENCE, "--config", self.env["WORLD_TLSFENCE_CONF"], "--cache.db=" + self.cache_db,
               "--daemon.log-level=warning", *extra, "check"]
        if json_out:
            cmd.append("--json")
        cmd.append(domain)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if not json_out:
            return r, None
        try:
            j = json.loads(r.stdout)
        except ValueError:
            self.fail("not JSON (exit %d): %s %s" % (r.returncode, r.stdout, r.stderr))
        self.assertEqual(j["exit_status"], r.returncode)
        return r, j

    def probes(self, j):
        return [p for h in j["hosts"] for p in h["probes"]]

    def test_dane_tlsa_match_ok(self):
        r, j = self.check("dane.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "ok")
        self.assertTrue(j["verdict"]["text"].startswith("OK: delivery would be verified"), j["verdict"])
        self.assertEqual(j["decision"]["answer"], "OK dane-only")
        self.assertEqual(j["mx"]["dnssec"], "secure")
        hosts = {h["name"]: h for h in j["hosts"]}
        self.assertEqual(set(hosts), {"mx1.dane.test", "mx2.dane.test"})
        self.assertEqual(hosts["mx1.dane.test"]["tlsa"]["records"], ["3 1 1 " + self.env["WORLD_TLSA_GOOD"]])
        self.assertEqual(hosts["mx2.dane.test"]["tlsa"]["records"], ["2 0 1 " + self.env["WORLD_TLSA_CA"]])
        for name, h in hosts.items():
            self.assertEqual(h["requirement"], "dane")
            self.assertEqual(h["tlsa"]["dnssec"], "secure")
            self.assertEqual(len(h["probes"]), 1, name)
            p = h["probes"][0]
            self.assertTrue(p["starttls"], p)
            self.assertTrue(p["tls"], p)
            self.assertTrue(p["dane"]["ok"], p)
            self.assertTrue(p["ok"], p)
        self.assertTrue(hosts["mx1.dane.test"]["probes"][0]["dane"]["match"].startswith("3 1 1 "))
        self.assertTrue(hosts["mx2.dane.test"]["probes"][0]["dane"]["match"].startswith("2 0 1 "))

    def test_dane_text_output(self):
        r, _ = self.check("dane.test", json_out=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("verdict:  OK: delivery would be verified", r.stdout)
        self.assertIn("TLSA 3 1 1 ", r.stdout)
        self.assertIn("MX 10 mx1.dane.test", r.stdout)

    def test_sts_certificate_verified_ok(self):
        r, j = self.check("sts.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "ok", j["verdict"])
        sts = j["mta_sts"]
        self.assertEqual(sts["id"], "world1")
        self.assertEqual(sts["policy"]["mode"], "enforce")
        self.assertEqual(sts["policy"]["mx"], ["mx1.sts.test", "*.mx.sts.test"])
        self.assertEqual(sts["policy"]["max_age"], 86400)
        self.assertTrue(sts["fetch"]["ok"])
        self.assertTrue(j["tlsrpt"]["valid"])
        self.assertEqual([u["uri"] for u in j["tlsrpt"]["rua"]],
                         ["mailto:tlsrpt@reports.test", "https://tlsrpt.test/report"])
        probes = self.probes(j)
        self.assertTrue(probes)
        for p in probes:
            self.assertTrue(p["pkix"]["chain_trusted"], p)
            self.assertTrue(p["pkix"]["name_matches"], p)
            self.assertTrue(p["certificates"][0]["dns_names"], p)
        self.assertEqual(j["hosts"][0]["requirement"], "mta-sts")

    def test_sts_wrong_certificate_fails(self):
        r, j = self.check("stsmismatch.test")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "fail")
        self.assertTrue(j["verdict"]["text"].startswith("FAIL: MX mx1.stsmismatch.test"), j["verdict"])
        self.assertIn("not valid for mx1.stsmismatch.test", j["verdict"]["text"])
        p = self.probes(j)[0]
        self.assertTrue(p["tls"])
        self.assertFalse(p["pkix"]["name_matches"])
        self.assertIn("wrong.test", p["certificates"][0]["dns_names"])

    def test_dane_tlsa_mismatch_fails(self):
        r, j = self.check("danefail.test")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "fail")
        self.assertIn("does not match the TLSA records", j["verdict"]["text"])
        self.assertFalse(self.probes(j)[0]["dane"]["ok"])

    def test_no_starttls_under_policy_fails(self):
        # nostarttls.test has no policy of its own: a local override requires TLS.
        r, j = self.check("nostarttls.test", "--local.override=nostarttls.test encrypt")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "fail")
        self.assertEqual(j["verdict"]["text"],
                         "FAIL: MX mx1.nostarttls.test (127.0.0.15) does not offer STARTTLS "
                         "but the policy requires TLS")
        p = self.probes(j)[0]
        self.assertEqual(p["stage"], "starttls")
        self.assertFalse(p["starttls"])

    def test_no_starttls_without_policy_is_no_policy(self):
        r, j = self.check("nostarttls.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "no-policy")
        self.assertEqual(j["decision"]["answer"], "NOTFOUND ")
        p = self.probes(j)[0]
        self.assertFalse(p["starttls"])
        self.assertTrue(p["banner"])

    def test_no_policy_domain_probes_shown(self):
        r, j = self.check("insecure.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "no-policy")
        self.assertTrue(j["verdict"]["text"].startswith("no policy"))
        self.assertEqual(j["mx"]["dnssec"], "insecure")
        p = self.probes(j)[0]
        self.assertEqual(p["address"], "127.0.0.12")
        self.assertTrue(p["starttls"])
        self.assertTrue(p["tls"])
        self.assertTrue(p["tls_version"].startswith("TLS"))

    def test_implicit_mx_and_cname_dane(self):
        r, j = self.check("implicit.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(j["implicit_mx"])
        self.assertEqual([h["name"] for h in j["hosts"]], ["implicit.test"])
        self.assertTrue(self.probes(j)[0]["dane"]["ok"])
        # mx.cname.test is a CNAME for mx1.dane.test: TLSA at the expanded name (RFC 7672 §2.2.2)
        r, j = self.check("cname.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["hosts"][0]["dane_input"]["base_domain"], "mx1.dane.test")
        self.assertTrue(self.probes(j)[0]["dane"]["ok"])

    def test_null_mx(self):
        r, j = self.check("nullmx.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(j["null_mx"])
        self.assertEqual(j["hosts"], [])
        self.assertIn("null MX", j["verdict"]["text"])

    def test_sts_webpki_failure_shown(self):
        r, j = self.check("stswrongcert.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["mta_sts"]["fetch"]["error"], "webpki")
        self.assertIn("sts-webpki-invalid", j["verdict"]["text"])

    def test_bogus_dnssec_is_temp(self):
        r, j = self.check("bogus.test")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "temp")
        self.assertTrue(j["verdict"]["text"].startswith("TEMP: "), j["verdict"])
        self.assertEqual(j["mx"]["dnssec"], "bogus")
        self.assertEqual(self.probes(j), [])

    def test_black_hole_dns_is_temp_within_bounds(self):
        # MX lookup, then the TXT lookups in parallel: about two DNS timeouts, not one per lookup.
        start = time.monotonic()
        r, j = self.check("hang.test", "--dns.timeout=2")
        elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "temp")
        self.assertLess(elapsed, 2 * 2 + 2.5)

    def test_sts_testing_is_no_policy(self):
        r, j = self.check("ststesting.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(j["verdict"]["status"], "no-policy")
        self.assertEqual(j["mta_sts"]["policy"]["mode"], "testing")

    def test_sts_fetch_failure_reason_shown(self):
        r, j = self.check("sts404.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(j["mta_sts"]["fetch"]["ok"])
        self.assertEqual(j["mta_sts"]["fetch"]["error"], "http-status")
        self.assertIsNone(j["mta_sts"]["policy"])

    def test_cache_db_never_written(self):
        self.check("dane.test")
        self.check("sts.test")
        self.assertFalse(os.path.exists(self.cache_db))

    def test_bad_input_is_usage_error(self):
        for arg in ("127.0.0.1", "[127.0.0.10]", "bad_domain!", "-"):
            with self.subTest(arg=arg):
                r, _ = self.check(arg, json_out=False)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr)


if __name__ == "__main__":
    TLSFENCE = sys.argv.pop(1)
    unittest.main(verbosity=2)
