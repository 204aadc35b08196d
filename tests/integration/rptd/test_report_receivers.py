#!/usr/bin/env python3
"""TLS-RPT that receivers can use, against the running test world (tests/world/DOMAINS.md):

- reports only for domains with exactly one valid _smtp._tls record (sts.test, reports.test; not
  rpttwo.test with two records, rptbad.test with a malformed one, dane.test with none), looked up
  once per (day, domain) and kept in tlsrpt.db; a temporary failure (bogus.test: DNSSEC bogus,
  SERVFAIL) is said and not cached as "no record"; `report build --all` writes every domain; the
  sidecar's daily job filters the same way;
- report mail sent through the world's real Postfix (postfix-out) to reports.test (DANE): parsed by
  Python's email package (policy.default) as RFC 8460 §5.3 asks, DKIM-verified by python3-dkim
  against tlsrpt._domainkey.sender.test (s=tlsrpt) in the world's DNS, and failing once tampered;
- no report loop: postfix-out's log ingested afterwards counts no session for the report mail,
  while a normal mail to the same domain is counted.

usage: test_report_receivers.py TLSFENCE_RPTD TLSFENCE
"""
import datetime
import email
import email.policy
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import dkim
import dns.resolver

RPTD = TLSFENCE = None
HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "world"))
W = None


def world_env():
    env = {}
    with open("/tmp/tlsfence-world/world.env") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def session(i, domain, stamp):
    pid = 3000 + i
    qid = "E%08X" % i
    return (f"{stamp} sender postfix/smtp[{pid}]: Verified TLS connection established to mx1.{domain}"
            f"[192.0.2.14]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
            f"{stamp} sender postfix/smtp[{pid}]: {qid}: to=<user@{domain}>, relay=mx1.{domain}"
            f"[192.0.2.14]:25, delay=0.06, delays=0.01/0/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")


def world_txt(name, timeout=5):
    """dnsfunc for python3-dkim: the TXT record from the world's knot (authoritative for test.)."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = 5353
    r.lifetime = timeout
    name = name.decode() if isinstance(name, bytes) else name
    answer = r.resolve(name, "TXT")
    return b"".join(b"".join(rr.strings) for rr in answer)


class ReportReceivers(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rptd-recv-")
        self.db = os.path.join(self.dir, "tlsrpt.db")
        self.outbox = os.path.join(self.dir, "outbox")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def opts(self, db=None, **extra):
        o = ["--config", W["WORLD_TLSFENCE_CONF"], f"--tlsrpt.db={db or self.db}",
             f"--tlsrpt.outbox={self.outbox}", "--tlsrpt.submitter=sender.test", "--daemon.user=",
             f"--cache.db={os.path.join(self.dir, 'cache.db')}", "--tlsrpt.organization-name=World Org",
             "--tlsrpt.contact-info=mailto:ops@sender.test"]
        for k, v in extra.items():
            o.append(f"--tlsrpt.{k.replace('_', '-')}={v}")
        return o

    def cli(self, *args, db=None, want=0, **extra):
        r = subprocess.run([TLSFENCE] + self.opts(db, **extra) + list(args), capture_output=True, text=True,
                           timeout=120)
        if want is not None:
            self.assertEqual(r.returncode, want, r.stdout + r.stderr)
        return r

    def ingest(self, domains, when):
        stamp = f"{when:%b} {when.day:2d} 12:00:00"
        log = os.path.join(self.dir, "synthetic.log")
        with open(log, "w") as f:
            f.write("".join(session(i, d, stamp) for i, d in enumerate(domains)))
        self.cli("report", "ingest", "--postfix-log", log)

    def lookups(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return {d: (s, det, c) for d, s, det, c in
                    con.execute("select domain, state, detail, checked from record_lookup")}
        finally:
            con.close()

    def test_build_only_for_one_valid_record_once_per_day_and_all_writes_every_domain(self):
        yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        day = yesterday.strftime("%Y-%m-%d")
        self.ingest(["sts.test", "reports.test", "rpttwo.test", "rptbad.test", "dane.test", "bogus.test"],
                    yesterday)
        built = os.path.join(self.dir, "built")
        r = self.cli("report", "build", "--day", day, "--out", built, want=1)  # 1: bogus.test pending
        files = sorted(os.listdir(built))
        self.assertEqual(len(files), 2, files)
        self.assertTrue(any("!sts.test!" in f for f in files), files)
        self.assertTrue(any("!reports.test!" in f for f in files), files)
        self.assertEqual(sorted(r.stdout.split()), sorted(os.path.join(built, f) for f in files))
        self.assertIn("skipped 3 domains without exactly one valid _smtp._tls record (", r.stderr)
        self.assertIn("more than one TLSRPTv1 record: 1", r.stderr)
        self.assertIn("malformed TLSRPTv1 record: no mailto: or https: URI in rua: 1", r.stderr)
        self.assertIn("no TLSRPTv1 record: 1", r.stderr)
        self.assertRegex(r.stderr, r"bogus\.test: record lookup failed temporarily \(TXT lookup DNSSEC bogus")
        first = self.lookups()
        self.assertEqual({d: s for d, (s, _, _) in first.items()},
                         {"sts.test": "valid", "reports.test": "valid", "rpttwo.test": "none",
                          "rptbad.test": "none", "dane.test": "none", "bogus.test": "temporary"})
        self.assertIn("v=TLSRPTv1; rua=mailto:tlsrpt@reports.test", first["sts.test"][1])
        # a rebuild (a second later) uses the stored answers; only the pending one is asked again
        time.sleep(1.1)
        shutil.rmtree(built)
        r = self.cli("report", "build", "--day", day, "--out", built, want=1)
        self.assertEqual(len(os.listdir(built)), 2)
        again = self.lookups()
        for d in ["sts.test", "reports.test", "rpttwo.test", "rptbad.test", "dane.test"]:
            self.assertEqual(again[d], first[d], d)
        self.assertGreater(again["bogus.test"][2], first["bogus.test"][2])
        # --all: every domain with outcomes, nothing looked up
        everything = os.path.join(self.dir, "all")
        r = self.cli("report", "build", "--day", day, "--out", everything, "--all")
        self.assertEqual(len(os.listdir(everything)), 6, os.listdir(everything))
        self.assertEqual(r.stderr, "")

    def test_sidecar_daily_job_skips_domains_without_a_record(self):
        yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        self.ingest(["sts.test", "rpttwo.test", "dane.test"], yesterday)
        log = os.path.join(self.dir, "rptd.log")
        with open(log, "w") as err:
            p = subprocess.Popen([RPTD] + self.opts(socket="", postfix_log="", deliver="no") +
                                 ["--daemon.log=stderr"], stdout=subprocess.DEVNULL, stderr=err,
                                 env=dict(os.environ, TLSFENCE_RPTD_REPORT_DELAY="0"))
        self.procs.append(p)
        deadline = time.time() + 60
        text = ""
        while time.time() < deadline and "daily reports built" not in text:
            time.sleep(0.3)
            with open(log) as f:
                text = f.read()
        self.assertIn("daily reports built", text)
        self.assertRegex(text, r"1 report of 3 domains, skipped 2 domains without exactly one valid _smtp\._tls "
                               r"record \((more than one TLSRPTv1 record: 1, no TLSRPTv1 record: 1|"
                               r"no TLSRPTv1 record: 1, more than one TLSRPTv1 record: 1)\)")
        files = os.listdir(self.outbox)
        self.assertEqual(len(files), 1, files)
        self.assertIn("!sts.test!", files[0])

    def test_bad_dkim_settings_stop_the_sidecar_at_start_with_a_config_error(self):
        garbage = os.path.join(self.dir, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a key\n")
        for extra, want in [({"dkim_key": os.path.join(self.dir, "missing.pem"), "dkim_selector": "tlsrpt"},
                             "config error: tlsrpt.dkim-key: cannot read "),
                            ({"dkim_key": W["WORLD_DKIM_KEY"]}, "config error: tlsrpt.dkim-selector: empty"),
                            ({"dkim_key": garbage, "dkim_selector": "tlsrpt"},
                             f"config error: tlsrpt.dkim-key: {garbage}: not a PEM private key")]:
            r = subprocess.run([RPTD] + self.opts(socket="", postfix_log="", **extra), capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(want, r.stderr)

    def test_report_mail_through_postfix_parsed_dkim_verified_and_not_counted_again(self):
        out_sh = os.path.join(WORLD_DIR, "postfix-out.sh")
        postlog = W["WORLD_POSTFIX_OUT_LOG"]
        now = datetime.datetime.now(datetime.timezone.utc)
        yesterday = now - datetime.timedelta(days=1)
        day = yesterday.strftime("%Y-%m-%d")
        today = now.strftime("%Y-%m-%d")
        self.ingest(["reports.test"], yesterday)
        seen_db = os.path.join(self.dir, "seen.db")  # what postfix-out's real log shows
        self.cli("report", "ingest", "--postfix-log", postlog, db=seen_db)
        before = self.counts(seen_db).get((today, "reports.test"), (0, 0))
        maildir = os.path.join(W["WORLD_MAIL"], "reports.test", "new")
        seen = set(os.listdir(maildir)) if os.path.isdir(maildir) else set()
        after_line = subprocess.run([out_sh, "log-lines"], capture_output=True, text=True).stdout.strip()
        sendmail = f"/usr/sbin/sendmail -C {W['WORLD_POSTFIX_OUT']} -i -t"
        r = self.cli("report", "send", "--day", day, sendmail_command=sendmail, dkim_key=W["WORLD_DKIM_KEY"],
                     dkim_selector=W["WORLD_DKIM_SELECTOR"])
        self.assertIn("reports.test mailto:tlsrpt@reports.test ok", r.stdout)
        r = subprocess.run([out_sh, "wait-log", r"to=<tlsrpt@reports\.test>.*status=sent", "60", after_line],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, "the report mail was not delivered by postfix-out")
        raw = None
        deadline = time.time() + 30
        while time.time() < deadline and raw is None:
            for name in set(os.listdir(maildir)) - seen if os.path.isdir(maildir) else []:
                with open(os.path.join(maildir, name), "rb") as f:
                    data = f.read()
                if b"TLS-Report-Domain: reports.test" in data:
                    raw = data
            time.sleep(0.3)
        self.assertIsNotNone(raw, "report mail did not reach reports.test")
        self.check_mime(raw, day)
        # DKIM (python3-dkim, RFC 8460 profile: the key record must say s=tlsrpt)
        self.assertTrue(dkim.verify(raw, dnsfunc=world_txt, tlsrpt="strict"), "signature does not verify")
        tampered = raw.replace(b"Report Domain: reports.test", b"Report Domain: reports.tesT", 1)
        self.assertNotEqual(tampered, raw)
        self.assertFalse(dkim.verify(tampered, dnsfunc=world_txt, tlsrpt="strict"))
        body_tampered = raw.replace(b"This is an aggregate TLS report", b"This is an aggregate TLS rep0rt", 1)
        self.assertNotEqual(body_tampered, raw)
        self.assertFalse(dkim.verify(body_tampered, dnsfunc=world_txt, tlsrpt="strict"))
        # no report loop: the session that delivered the report mail is not counted ...
        r = self.cli("report", "ingest", "--postfix-log", postlog, db=seen_db)
        self.assertRegex(r.stdout, r"own-reports [1-9]")
        self.assertEqual(self.counts(seen_db).get((today, "reports.test"), (0, 0)), before)
        # ... a normal mail's session to the same domain is
        after_line = subprocess.run([out_sh, "log-lines"], capture_output=True, text=True).stdout.strip()
        r = subprocess.run([out_sh, "send", "loop@sender.test", "user@reports.test"], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([out_sh, "wait-log", r"to=<user@reports\.test>.*status=sent", "60", after_line],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, "no delivery to reports.test in the log")
        self.cli("report", "ingest", "--postfix-log", postlog, db=seen_db)
        self.assertEqual(self.counts(seen_db)[(today, "reports.test")], (before[0] + 1, before[1]))

    def check_mime(self, raw, day):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        self.assertEqual(msg["TLS-Report-Domain"], "reports.test")
        self.assertEqual(msg["TLS-Report-Submitter"], "sender.test")
        self.assertEqual(msg["TLS-Required"], "No")
        report_id = f"{day}_reports.test@sender.test"
        self.assertEqual(str(msg["Subject"]),
                         f"Report Domain: reports.test Submitter: sender.test Report-ID: <{report_id}>")
        self.assertEqual(str(msg["From"]), "tlsrpt-noreply@sender.test")
        self.assertEqual(str(msg["To"]), "tlsrpt@reports.test")
        self.assertIsNotNone(msg["Date"].datetime)
        self.assertRegex(str(msg["Message-ID"]), r"^<tlsfence-report\.[0-9a-f]+\.\d+@sender\.test>$")
        self.assertEqual(str(msg["Return-Path"]), "<tlsrpt-noreply@sender.test>")  # the envelope sender
        self.assertIn("DKIM-Signature", msg)
        self.assertIn("d=sender.test;", re.sub(r"\s", "", str(msg["DKIM-Signature"])))
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "application/tlsrpt+gzip"])
        self.assertIn("reports.test", parts[0].get_content())
        gz = parts[1]
        self.assertEqual(gz["Content-Transfer-Encoding"], "base64")
        self.assertEqual(gz.get_content_disposition(), "attachment")
        begin = int(datetime.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp())
        self.assertRegex(gz.get_filename(), rf"^sender\.test!reports\.test!{begin}!{begin + 86399}![A-Za-z0-9]+\.json\.gz$")
        report = json.loads(gzip.decompress(gz.get_content()))
        self.assertEqual(report["organization-name"], "World Org")
        self.assertEqual(report["contact-info"], "mailto:ops@sender.test")
        self.assertEqual(report["report-id"], report_id)
        self.assertEqual(report["date-range"], {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"})
        self.assertEqual(len(report["policies"]), 1)
        pol = report["policies"][0]
        self.assertEqual(pol["policy"]["policy-domain"], "reports.test")
        self.assertIn(pol["policy"]["policy-type"], ["tlsa", "sts", "no-policy-found"])
        self.assertEqual(pol["summary"], {"total-successful-session-count": 1, "total-failure-session-count": 0})

    def counts(self, db):
        out = {}
        r = self.cli("report", "list", db=db)
        for line in r.stdout.splitlines():
            f = line.split()
            if not line.startswith(" ") and len(f) == 6 and f[2] == "success":
                out[(f[0], f[1])] = (int(f[3]), int(f[5]))
        return out


if __name__ == "__main__":
    RPTD, TLSFENCE = sys.argv[1], sys.argv[2]
    W = world_env()
    unittest.main(argv=sys.argv[:1], verbosity=2)
