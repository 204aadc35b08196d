"""Issue 5, "Must show" — end to end with a real Postfix: the world's sending Postfix
(postfix-out) uses tlsfenced through `smtp_tls_policy_maps = socketmap:unix:…:tlspolicy`.

postfix-out runs `smtp_tls_security_level = dane` with `smtp_dns_support_level = dnssec`, so
Postfix's own DANE already covers dane.test. What only tlsfenced contributes, and what these
tests pin down:
  - sts.test: only the map's `secure match=…` makes Postfix verify the MX certificate
    ("Verified"); alone, Postfix delivers it opportunistically ("Trusted"), see the control test;
  - stsmismatch.test: only the map makes Postfix refuse the wrong certificate; alone it sends;
  - bogustlsa.test: the map's TEMP is what defers (Postfix logs the policy table lookup error);
  - expired.test (bogus MX): deferred — Postfix's own DNSSEC lookup fails before it asks the
    map, so postmap/tlsfence query show the map's TEMP separately.

Run: python3 test_postfix_socketmap.py TLSFENCED TLSFENCE
"""

import sys

sys.dont_write_bytecode = True  # keep the source tree clean

import re
import subprocess

import e2elib
from e2elib import E2ETestCase, maildir_has, tlsfence_cli, token

STS_POLICY = "secure match=mx1.sts.test:.mx.sts.test servername=hostname"

# What tlsfence query must print (tests/world/DOMAINS.md), and so what the socketmap answers.
EXPECTED_ANSWERS = {
    "dane.test": "OK dane-only",
    "partial.test": "OK dane",
    "sts.test": "OK " + STS_POLICY,
    "ststesting.test": "NOTFOUND ",
    "nosuch.test": "NOTFOUND ",
}
TEMP_DOMAIN = "expired.test"


class PostfixSocketmap(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.postfix.reset()
        self.daemon = self.start_daemon()
        self.map = f"socketmap:{self.daemon.socketmap}:tlspolicy"
        self.postfix.set(smtp_tls_policy_maps=self.map)
        self.addCleanup(self.postfix.reset)

    def send(self, domain, label):
        subject = token(label)
        offset = self.postfix.log_offset()
        status, transcript, qid = self.postfix.send("probe@sender.test", f"user@{domain}", subject)
        self.assertEqual(status, 0, f"postfix-out should accept the message:\n{transcript}")
        self.assertIsNotNone(qid, transcript)
        return subject, offset, qid

    def deliver(self, domain, label):
        subject, offset, qid = self.send(domain, label)
        status, line, lines = self.postfix.delivery(qid, f"user@{domain}", offset)
        self.assertIsNotNone(status, f"no delivery status for {qid} to user@{domain} in the log")
        return subject, status, line, lines

    def test_dane_domain_delivered_verified(self):
        subject, status, line, lines = self.deliver("dane.test", "dane")
        self.assertEqual(status, "sent", line)
        self.assertTrue(
            any("Verified TLS connection established to mx1.dane.test[" in l for l in lines),
            "\n".join(lines),
        )
        self.assertTrue(e2elib.wait_until(lambda: maildir_has("dane.test", subject), 10))

    def test_sts_domain_delivered_verified_by_map(self):
        subject, status, line, lines = self.deliver("sts.test", "sts")
        self.assertEqual(status, "sent", line)
        self.assertTrue(
            any("Verified TLS connection established to mx1.sts.test[" in l for l in lines),
            "Postfix should verify mx1.sts.test against the test CA (policy secure):\n"
            + "\n".join(lines),
        )
        self.assertTrue(e2elib.wait_until(lambda: maildir_has("sts.test", subject), 10))
        # The policy that made it so came from tlsfenced.
        self.assertEqual(self.daemon.socketmap_query("tlspolicy", "sts.test"), "OK " + STS_POLICY)

    def test_sts_certificate_mismatch_deferred_not_sent(self):
        subject, status, line, lines = self.deliver("stsmismatch.test", "stsmismatch")
        self.assertEqual(status, "deferred", line)
        text = "\n".join(lines)
        self.assertRegex(text, r"server certificate verification failed for mx1\.stsmismatch\.test\[")
        self.assertIn("Server certificate not verified", line)
        self.assertFalse(any("status=sent" in l for l in lines), text)
        self.assertIsNone(maildir_has("stsmismatch.test", subject))

    def test_bogus_dnssec_domain_deferred(self):
        subject, status, line, _ = self.deliver("expired.test", "expired")
        self.assertEqual(status, "deferred", line)
        self.assertIsNone(maildir_has("expired.test", subject))

    def test_bogus_tlsa_deferred_by_map_temp(self):
        # MX and address records of bogustlsa.test are secure, so Postfix gets as far as asking
        # the map; tlsfenced answers TEMP (TLSA bogus), and that is what defers the mail.
        subject, status, line, lines = self.deliver("bogustlsa.test", "bogustlsa")
        self.assertEqual(status, "deferred", line)
        text = "\n".join(lines)
        self.assertIn(f"{self.map} socketmap server temporary error", text)
        self.assertIn('smtp_tls_policy_maps, next-hop destination "bogustlsa.test": '
                      "policy table lookup error", text)
        self.assertIsNone(maildir_has("bogustlsa.test", subject))

    def test_no_policy_delivered_opportunistically(self):
        subject, status, line, lines = self.deliver("nostarttls.test", "nostarttls")
        self.assertEqual(status, "sent", line)
        self.assertIn("relay=mx1.nostarttls.test[", line)
        self.assertFalse(any("TLS connection established" in l for l in lines), "\n".join(lines))
        self.assertTrue(e2elib.wait_until(lambda: maildir_has("nostarttls.test", subject), 10))

    def test_postmap_returns_what_tlsfence_query_prints(self):
        config_dir = self.postfix.config_dir
        for domain, expected in EXPECTED_ANSWERS.items():
            with self.subTest(domain=domain):
                pm = subprocess.run(
                    ["postmap", "-c", config_dir, "-q", domain, self.map],
                    capture_output=True, text=True, timeout=60,
                )
                q = tlsfence_cli(self.daemon, "query", domain)
                self.assertEqual(q.returncode, 0, q.stderr)
                self.assertEqual(q.stdout, expected + "\n", q.stderr)
                if expected.startswith("OK "):
                    self.assertEqual(pm.returncode, 0, pm.stderr)
                    self.assertEqual(pm.stdout, expected[len("OK "):] + "\n")
                else:  # NOTFOUND: postmap prints nothing and exits 1, without an error
                    self.assertEqual((pm.returncode, pm.stdout), (1, ""), pm.stderr)
                    self.assertNotIn("error", pm.stderr)

    def test_postmap_fails_on_temp_like_tlsfence_query(self):
        q = tlsfence_cli(self.daemon, "query", TEMP_DOMAIN)
        self.assertEqual(q.returncode, 1, f"tlsfence query {TEMP_DOMAIN}: {q.stdout}{q.stderr}")
        self.assertRegex(q.stdout, r"^TEMP \S.*\n$")
        self.assertEqual(self.daemon.socketmap_query("tlspolicy", TEMP_DOMAIN), q.stdout.rstrip("\n"))
        pm = subprocess.run(
            ["postmap", "-c", self.postfix.config_dir, "-q", TEMP_DOMAIN, self.map],
            capture_output=True, text=True, timeout=60,
        )
        self.assertNotEqual(pm.returncode, 0)
        self.assertEqual(pm.stdout, "")
        self.assertRegex(pm.stderr, r"socketmap server temporary error|query error")

    def test_daemon_stops_cleanly_on_sigterm(self):
        self.assertEqual(self.daemon.socketmap_query("tlspolicy", "dane.test"), "OK dane-only")
        self.stop_daemon(self.daemon)


class ControlPostfixAlone(E2ETestCase):
    """Control: without tlsfenced's map, postfix-out does NOT verify sts.test and DOES send to
    stsmismatch.test — so the verdicts above are tlsfenced's, not Postfix's own DANE."""

    def setUp(self):
        super().setUp()
        self.postfix.reset()
        self.assertEqual(self.postfix.postconf("smtp_tls_policy_maps"), "")

    def test_control_without_map_sts_not_verified_and_mismatch_sent(self):
        results = {}
        for domain in ("sts.test", "stsmismatch.test"):
            offset = self.postfix.log_offset()
            status, transcript, qid = self.postfix.send(
                "probe@sender.test", f"user@{domain}", token("control"))
            self.assertEqual(status, 0, transcript)
            results[domain] = self.postfix.delivery(qid, f"user@{domain}", offset)
        status, line, lines = results["sts.test"]
        self.assertEqual(status, "sent", line)
        self.assertFalse(any(re.search(r"Verified TLS connection", l) for l in lines), "\n".join(lines))
        status, line, _ = results["stsmismatch.test"]
        self.assertEqual(status, "sent", line)


if __name__ == "__main__":
    e2elib.main()
