#!/usr/bin/env python3
"""tlsfence-rptd / `tlsfence report` against the running test world (tests/world/DOMAINS.md).

usage: test_rptd.py TLSFENCE_RPTD TLSFENCE TLSFENCED

TLSFENCED is started (tests/e2e/e2elib.py) only to fill a cache.db with sts.test's decision,
which the ingestion then attributes outcomes with.
"""
import datetime
import gzip
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

RPTD = TLSFENCE = TLSFENCED = None
HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "world"))


def world_env():
    env = {}
    with open("/tmp/tlsfence-world/world.env") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


W = None


def qid(i):
    return "D%08X" % i


def session(i, domain, stamp="Nov 22 07:09:30"):
    pid = 2000 + i % 13
    return (f"{stamp} sender postfix/smtp[{pid}]: Verified TLS connection established to mx1.{domain}"
            f"[192.0.2.14]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
            f"{stamp} sender postfix/smtp[{pid}]: {qid(i)}: to=<user@{domain}>, relay=mx1.{domain}"
            f"[192.0.2.14]:25, delay=0.06, delays=0.01/0/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")


class Rptd(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rptd-it-")
        self.db = os.path.join(self.dir, "tlsrpt.db")
        self.outbox = os.path.join(self.dir, "outbox")
        self.procs = []
        self.cache_db = os.path.join(self.dir, "cache.db")

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def opts(self, db=None, **extra):
        o = ["--config", W["WORLD_TLSFENCE_CONF"], f"--tlsrpt.db={db or self.db}",
             f"--tlsrpt.outbox={self.outbox}", "--tlsrpt.submitter=sender.test", "--daemon.user=",
             f"--cache.db={self.cache_db}"]
        for k, v in extra.items():
            o.append(f"--tlsrpt.{k.replace('_', '-')}={v}")
        return o

    def cli(self, *args, db=None, check=True, **extra):
        r = subprocess.run([TLSFENCE] + self.opts(db, **extra) + list(args), capture_output=True, text=True,
                           timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def counts(self, db=None, check=True):
        out = {}
        for line in self.cli("report", "list", db=db, check=check).splitlines():
            if line.startswith(" "):
                continue  # a report, rua or attempt line
            f = line.split()
            if len(f) == 6 and f[2] == "success":
                out[(f[0], f[1])] = (int(f[3]), int(f[5]))
        return out

    def start_rptd(self, env=None, **extra):
        p = subprocess.Popen([RPTD] + self.opts(**extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env)
        self.procs.append(p)
        return p

    def deliveries(self, **extra):
        """`tlsfence report list` as {(day, domain): {rua: (state, attempts, next_retry, [attempt lines])}}."""
        out = {}
        key = rua = None
        for line in self.cli("report", "list", **extra).splitlines():
            if not line.startswith(" "):
                f = line.split()
                key = (f[0], f[1])
                out[key] = {}
            elif line.startswith("    rua "):
                # "    rua URI  STATE, N attempt(s), next retry T|-"
                uri, rest = line[len("    rua "):].split("  ", 1)
                state, attempts, nxt = [x.strip() for x in rest.split(",")]
                rua = uri
                out[key][rua] = [state, int(attempts.split()[0]), nxt[len("next retry "):], []]
            elif line.startswith("      "):
                out[key][rua][3].append(line.strip())
        return out

    def wait_total(self, want, seconds=300, db=None):
        deadline = time.time() + seconds
        total = -1
        while time.time() < deadline:
            # the daemon may be creating the file: a read-only open can fail until its schema is there
            total = sum(s + f for s, f in self.counts(db, check=False).values())
            if total >= want:
                return total
            time.sleep(0.5)
        return total

    def test_kill9_mid_ingestion_then_restart_equals_one_pass(self):
        log = os.path.join(self.dir, "mail.log")
        n = 40000
        with open(log, "w") as f:
            for i in range(n):
                f.write(session(i, "bulk%d.test" % (i % 5)))
                if i % 1000 == 0:
                    f.write("garbage line that is no log line\n")
        p = self.start_rptd(postfix_log=log, socket="")
        # Kill as soon as part of the file is committed.
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(self.db) and 0 < sum(s for s, _ in self.counts(check=False).values()) < n:
                break
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        partial = sum(s for s, _ in self.counts().values())
        self.assertLess(partial, n)
        self.start_rptd(postfix_log=log, socket="")
        self.assertEqual(self.wait_total(n), n)
        time.sleep(2)
        clean_db = os.path.join(self.dir, "clean.db")
        self.cli("report", "ingest", "--postfix-log", log, db=clean_db)
        self.assertEqual(self.counts(), self.counts(clean_db))
        self.assertEqual(sum(s for s, _ in self.counts().values()), n)

    def test_rotation_mid_stream(self):
        log = os.path.join(self.dir, "mail.log")
        with open(log, "w") as f:
            f.write("".join(session(i, "rot.test") for i in range(100)))
        self.start_rptd(postfix_log=log, socket="")
        self.assertEqual(self.wait_total(100, 60), 100)
        with open(log, "a") as f:
            f.write("".join(session(i, "rot.test") for i in range(100, 150)))
        os.rename(log, log + ".1")
        with open(log, "w") as f:
            f.write("".join(session(i, "rot.test") for i in range(150, 250)))
        self.assertEqual(self.wait_total(250, 60), 250)
        time.sleep(2.5)  # a few more polls: nothing doubled
        self.assertEqual(sum(s for s, _ in self.counts().values()), 250)

    def test_datagrams_valid_invalid_oversized(self):
        sock_path = os.path.join(self.dir, "tlsrpt.sock")
        self.start_rptd(socket=sock_path, postfix_log="")
        deadline = time.time() + 30
        while not os.path.exists(sock_path) and time.time() < deadline:
            time.sleep(0.1)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        valid = (b'{"dpv":1,"d":"dgram.test","pr":"v=TLSRPTv1; rua=mailto:r@dgram.test",'
                 b'"policies":[{"policy-type":9,"policy-domain":"dgram.test","f":0}]}')
        for payload in [b"not json", b"{}", b"[1,2]", b"{" * 70000, valid, valid]:
            s.sendto(payload, sock_path)
        self.assertEqual(self.wait_total(2, 30), 2)
        self.assertEqual(self.counts()[(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
                                        "dgram.test")], (2, 0))
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        self.assertEqual(con.execute("select count(*) from rejected_input").fetchone()[0], 4)
        self.assertIsNone(self.procs[0].poll())  # still running

    def test_world_traffic_report_and_mail(self):
        out_sh = os.path.join(WORLD_DIR, "postfix-out.sh")
        postlog = W["WORLD_POSTFIX_OUT_LOG"]
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        # tlsfenced decides sts.test once and writes its cache.db (write-behind, flushed on stop).
        sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))
        import e2elib
        e2elib.TLSFENCED = TLSFENCED
        d = e2elib.Tlsfenced().start()
        self.addCleanup(d.cleanup)  # after the test: its cache.db is used until the end
        self.assertTrue(d.socketmap_query("tlspolicy", "sts.test").startswith("OK secure"))
        status, _ = d.stop()
        self.assertEqual(status, 0)
        self.cache_db = d.cache_db
        self.cli("report", "ingest", "--postfix-log", postlog)  # baseline: what earlier tests sent
        before = self.counts().get((day, "sts.test"), (0, 0))
        after_line = subprocess.run([out_sh, "log-lines"], capture_output=True, text=True).stdout.strip()
        r = subprocess.run([out_sh, "send", "rptd@sender.test", "user@sts.test"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([out_sh, "wait-log", r"to=<user@sts\.test>.*status=sent", "60", after_line],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, "no delivery to sts.test in the log")
        time.sleep(1)
        self.cli("report", "ingest", "--postfix-log", postlog)
        after = self.counts()[(day, "sts.test")]
        self.assertEqual(after[0], before[0] + 1)
        # build writes the files, sends nothing
        files = self.cli("report", "build", "--day", day, "--out", os.path.join(self.dir, "built")).split()
        self.assertTrue(any("!sts.test!" in f and f.endswith(".json.gz") for f in files), files)
        # send: the mail travels through postfix-out to reports.test
        maildir = os.path.join(W["WORLD_MAIL"], "reports.test", "new")
        seen = set(os.listdir(maildir)) if os.path.isdir(maildir) else set()
        https_dir = W["WORLD_TLSRPT_HTTPS_DIR"]
        https_seen = set(os.listdir(https_dir))
        sendmail = f"/usr/sbin/sendmail -C {W['WORLD_POSTFIX_OUT']} -i -t"
        # tlsrpt.test is on loopback: refused without [tlsrpt] allow-private-addresses
        out = self.cli("report", "send", "--day", day, check=False, sendmail_command=sendmail)
        self.assertIn("sts.test mailto:tlsrpt@reports.test ok", out)
        self.assertRegex(out, r"sts\.test https://tlsrpt\.test/report fail refused to connect to tlsrpt\.test: "
                              r"address not allowed: 127\.0\.0\.21 \(loopback\)")
        self.assertEqual(set(os.listdir(https_dir)), https_seen, "nothing may reach the refused receiver")
        listed = self.deliveries()[(day, "sts.test")]
        self.assertEqual(listed["mailto:tlsrpt@reports.test"][:2], ["delivered", 1])
        self.assertRegex(listed["mailto:tlsrpt@reports.test"][3][0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ok +accepted by ")
        https = listed["https://tlsrpt.test/report"]
        self.assertEqual(https[:2], ["pending", 1])
        self.assertRegex(https[2], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # next retry planned
        self.assertIn("fail refused to connect to tlsrpt.test: address not allowed: 127.0.0.21 (loopback)",
                      https[3][0])
        # allowed: the https rua is delivered now, the mailto rua is not sent again
        out = self.cli("report", "send", "--day", day, check=False, sendmail_command=sendmail,
                       allow_private_addresses="yes")
        self.assertIn("sts.test mailto:tlsrpt@reports.test already delivered", out)
        self.assertIn("sts.test https://tlsrpt.test/report ok HTTP status 2", out)
        listed = self.deliveries()[(day, "sts.test")]
        self.assertEqual(listed["mailto:tlsrpt@reports.test"][:3], ["delivered", 1, "-"])
        https = listed["https://tlsrpt.test/report"]
        self.assertEqual(https[:3], ["delivered", 2, "-"])
        self.assertIn(" fail refused to connect", https[3][0])
        self.assertRegex(https[3][1], r"Z ok +HTTP status 2\d\d$")
        report_line = [l for l in self.cli("report", "list").splitlines() if l.startswith("  report ")]
        self.assertTrue(any(re.fullmatch(r"  report sender\.test!sts\.test!\d+!\d+!\w+\.json\.gz "
                                          r"\(id " + day + r"_sts\.test@sender\.test\)", l)
                            for l in report_line), report_line)
        new_headers = sorted(n for n in set(os.listdir(https_dir)) - https_seen if n.endswith(".headers"))
        self.assertEqual(len(new_headers), 1, new_headers)
        with open(os.path.join(https_dir, new_headers[0])) as f:
            self.assertIn("Content-Type: application/tlsrpt+gzip", f.read())
        with open(os.path.join(https_dir, new_headers[0][:-len(".headers")] + ".body"), "rb") as f:
            report = json.loads(gzip.decompress(f.read()))
        self.assertEqual(report["policies"][0]["policy"]["policy-domain"], "sts.test")
        self.assertEqual(len(report["policies"]), 1, report)
        policy = report["policies"][0]["policy"]
        self.assertEqual(policy["policy-type"], "sts")
        self.assertIn("mode: enforce", policy["policy-string"])
        self.assertIn("mx: mx1.sts.test", policy["policy-string"])
        self.assertEqual(sorted(policy["mx-host"]), ["*.mx.sts.test", "mx1.sts.test"])
        self.assertEqual(report["policies"][0]["summary"]["total-successful-session-count"], after[0])
        deadline = time.time() + 60
        found = None
        while time.time() < deadline and not found:
            if os.path.isdir(maildir):
                for name in set(os.listdir(maildir)) - seen:
                    with open(os.path.join(maildir, name), errors="replace") as f:
                        text = f.read()
                    if "TLS-Report-Domain: sts.test" in text:
                        found = text
            time.sleep(0.5)
        self.assertIsNotNone(found, "report mail did not reach reports.test")
        self.assertIn('multipart/report; report-type="tlsrpt"', found)
        self.assertIn("application/tlsrpt+gzip", found)

    def test_sidecar_daily_job_records_attempts_and_resumes_retries_after_restart(self):
        """tlsfence-rptd builds yesterday's report at start (delay 0, nothing built yet), delivers
        it (mailto through the world's Postfix; https refused: tlsrpt.test is on loopback), records
        every attempt in tlsrpt.db; restarted with allow-private-addresses = yes it resumes the
        pending https retry from the store (1 min back-off) and does not mail again."""
        yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        day = yesterday.strftime("%Y-%m-%d")
        stamp = f"{yesterday:%b} {yesterday.day:2d} 12:00:00"
        log = os.path.join(self.dir, "mail.log")
        with open(log, "w") as f:
            f.write("".join(session(i, "sts.test", stamp) for i in range(3)))
        self.cli("report", "ingest", "--postfix-log", log)
        self.assertEqual(self.counts()[(day, "sts.test")], (3, 0))
        env = dict(os.environ, TLSFENCE_RPTD_REPORT_DELAY="0")
        sendmail = f"/usr/sbin/sendmail -C {W['WORLD_POSTFIX_OUT']} -i -t"
        p = self.start_rptd(env=env, socket="", postfix_log="", sendmail_command=sendmail)
        deadline = time.time() + 120
        listed = {}
        while time.time() < deadline:
            listed = self.deliveries().get((day, "sts.test"), {})
            if len(listed) == 2 and all(v[1] >= 1 for v in listed.values()):
                break
            time.sleep(0.5)
        self.assertEqual(sorted(listed), ["https://tlsrpt.test/report", "mailto:tlsrpt@reports.test"], listed)
        self.assertEqual(listed["mailto:tlsrpt@reports.test"][:2], ["delivered", 1])
        https = listed["https://tlsrpt.test/report"]
        self.assertEqual(https[0], "pending")
        self.assertIn("address not allowed: 127.0.0.21 (loopback)", https[3][0])
        first = datetime.datetime.strptime(https[3][0].split()[0], "%Y-%m-%dT%H:%M:%SZ")
        retry = datetime.datetime.strptime(https[2], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual((retry - first).total_seconds(), 60)  # back-off: 1 min
        p.terminate()
        self.assertEqual(p.wait(30), 0)
        uploads = set(os.listdir(W["WORLD_TLSRPT_HTTPS_DIR"]))
        self.start_rptd(env=env, socket="", postfix_log="", sendmail_command=sendmail,
                        allow_private_addresses="yes")
        deadline = time.time() + 150
        while time.time() < deadline:
            listed = self.deliveries()[(day, "sts.test")]
            if listed["https://tlsrpt.test/report"][0] != "pending":
                break
            time.sleep(1)
        https = listed["https://tlsrpt.test/report"]
        self.assertEqual(https[0], "delivered", https)
        self.assertRegex(https[3][-1], r"Z ok +HTTP status 2\d\d$")
        retried = datetime.datetime.strptime(https[3][-1].split()[0], "%Y-%m-%dT%H:%M:%SZ")
        self.assertGreaterEqual(retried, retry)  # not before the stored retry time
        self.assertEqual(listed["mailto:tlsrpt@reports.test"][:2], ["delivered", 1])  # not mailed again
        new = [n for n in set(os.listdir(W["WORLD_TLSRPT_HTTPS_DIR"])) - uploads if n.endswith(".body")]
        self.assertEqual(len(new), 1, new)
        with open(os.path.join(W["WORLD_TLSRPT_HTTPS_DIR"], new[0]), "rb") as f:
            report = json.loads(gzip.decompress(f.read()))
        self.assertEqual(report["date-range"]["start-datetime"], day + "T00:00:00Z")
        self.assertEqual(report["policies"][0]["summary"]["total-successful-session-count"], 3)


if __name__ == "__main__":
    RPTD, TLSFENCE, TLSFENCED = sys.argv[1], sys.argv[2], sys.argv[3]
    W = world_env()
    unittest.main(argv=sys.argv[:1], verbosity=2)
