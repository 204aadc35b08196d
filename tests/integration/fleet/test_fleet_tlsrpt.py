#!/usr/bin/env python3
"""TLS-RPT for a fleet: several tlsfence-rptd and `tlsfence report` on one real PostgreSQL 15.

Usage: test_fleet_tlsrpt.py TLSFENCE_RPTD TLSFENCE   (the loopback test world and tests/world/pg.sh up)

Each test gets a fresh database (the README's least-privilege role, as test_fleet.py) and hosts
with their own tlsrpt.db and [fleet] host names. Outcomes are Postfix log lines of yesterday for
sts.test, whose _smtp._tls record names mailto:tlsrpt@reports.test and https://tlsrpt.test/report.
Mail goes to a recording sendmail-command (one file per message); https reports to the world's
receiver (WORLD_TLSRPT_HTTPS_DIR, one .body per POST), told apart by a submitter unique per test.

- three hosts' outcomes -> one report with the summed counts, built by one host, each rua once;
  `report list` shows the fleet's state with per-host counts; `report build --all` the same sum;
- two hosts running `tlsfence report send --day D` at the same moment (three days in turn):
  each rua once;
- the delivering host killed (kill -9, its sendmail too) mid-delivery: another host takes the
  delivery over once its lease expired, and delivers it once;
- PostgreSQL stopped while a sidecar follows a log (and is itself killed -9 and restarted while
  it is down): /healthz says so, the outcomes wait in tlsrpt.db and are uploaded when it is
  back, none lost, none doubled;
- a corrupt row and a row of a newer format are named and left out, never a crash.
"""
import datetime
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_fleet import RUN, WORLD, create_fleet_database, drop_fleet_database, env_file, healthz, sql  # noqa: E402

RPTD = TLSFENCE = None
YESTERDAY = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
DAY = YESTERDAY.strftime("%Y-%m-%d")
STAMP = f"{YESTERDAY:%b} {YESTERDAY.day:2d} 12:00:00"
MAILTO, HTTPS = "mailto:tlsrpt@reports.test", "https://tlsrpt.test/report"


def day_back(n):
    """(YYYY-MM-DD, syslog stamp at noon) of n days ago (UTC)."""
    d = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=n)
    return d.strftime("%Y-%m-%d"), f"{d:%b} {d.day:2d} 12:00:00"


def sessions(first, n, domain="sts.test", stamp=STAMP):
    """n successful Postfix TLS sessions to `domain`, queue ids from `first` on."""
    out = []
    for i in range(first, first + n):
        pid = 3000 + i % 17
        out.append(f"{stamp} sender postfix/smtp[{pid}]: Verified TLS connection established to mx1.{domain}"
                   f"[192.0.2.14]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
                   f"{stamp} sender postfix/smtp[{pid}]: F{i:08X}: to=<user@{domain}>, relay=mx1.{domain}"
                   f"[192.0.2.14]:25, delay=0.06, delays=0.01/0/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")
    return "".join(out)


class Host:
    def __init__(self, test, name):
        self.test, self.name = test, name
        self.dir = os.path.join(test.tmp, name)
        os.makedirs(os.path.join(self.dir, "mail"))
        self.mail_log = os.path.join(self.dir, "mail.log")
        open(self.mail_log, "w").close()
        self.metrics = os.path.join(self.dir, "metrics.sock")
        self.log_path = os.path.join(self.dir, "rptd.log")
        self.proc = None
        self.pids = []  # of every sidecar this host ran
        self.queue_id = 0

    def opts(self, sendmail=None):
        return ["--config", self.test.conf, "--tlsrpt.db=" + os.path.join(self.dir, "tlsrpt.db"),
                "--tlsrpt.outbox=" + os.path.join(self.dir, "outbox"), "--tlsrpt.submitter=" + self.test.submitter,
                "--cache.db=" + os.path.join(self.dir, "cache.db"), "--daemon.user=",
                "--tlsrpt.allow-private-addresses=yes",
                "--tlsrpt.sendmail-command=" + (sendmail or self.test.sendmail),
                "--fleet.postgresql=" + self.test.conninfo, "--fleet.host=" + self.name]

    def cli(self, *args, check=True):
        r = subprocess.run([TLSFENCE, *self.opts(), "--daemon.log-level=warning", *args],
                           capture_output=True, text=True, timeout=120)
        if check:
            self.test.assertEqual(r.returncode, 0, "%s: %s %s" % (self.name, r.stdout, r.stderr))
        return r

    def ingest(self, n, stamp=STAMP):
        path = os.path.join(self.dir, "ingest-%d.log" % self.queue_id)
        with open(path, "w") as f:
            f.write(sessions(self.queue_id + zlib.crc32(self.name.encode()) % 1000 * 100000, n, stamp=stamp))
        self.queue_id += n
        return self.cli("report", "ingest", "--postfix-log", path)

    def append(self, n):
        with open(self.mail_log, "a") as f:
            f.write(sessions(self.queue_id + zlib.crc32(self.name.encode()) % 1000 * 100000, n))
        self.queue_id += n

    def start(self, sendmail=None, follow=False, **env):
        self.log = open(self.log_path, "ab")
        e = dict(os.environ, TLSFENCE_RPTD_REPORT_DELAY="0", **env)
        self.proc = subprocess.Popen(
            [RPTD, *self.opts(sendmail), "--tlsrpt.socket=", "--tlsrpt.postfix-log=" + (self.mail_log if follow else ""),
             "--metrics.listen=unix:" + self.metrics, "--daemon.log-level=info"],
            stdout=self.log, stderr=subprocess.STDOUT, env=e, start_new_session=True)
        self.pids.append(self.proc.pid)
        self.test.wait_for(self.name + " metrics socket", lambda: os.path.exists(self.metrics) or self.proc.poll())
        self.test.assertIsNone(self.proc.poll(), self.text())
        return self

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)  # the sidecar and the sendmail it runs
        self.proc.wait()
        self.log.close()
        os.unlink(self.metrics)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.test.assertEqual(self.proc.wait(timeout=30), 0, self.text()[-3000:])
            self.log.close()

    def text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class FleetTlsrptTest(unittest.TestCase):
    def setUp(self):
        self.conf = env_file(os.path.join(RUN, "world.env"), "WORLD_TLSFENCE_CONF")
        self.https_dir = env_file(os.path.join(RUN, "world.env"), "WORLD_TLSRPT_HTTPS_DIR")
        self.tmp = tempfile.mkdtemp(prefix="fleet-tlsrpt-")
        self.db, self.conninfo = create_fleet_database()
        self.submitter = "fleet-%s.test" % uuid.uuid4().hex[:8]  # makes this test's report-id unique
        self.mails = os.path.join(self.tmp, "mails")
        os.makedirs(self.mails)
        self.sendmail = self.script("sendmail", 'f=$(mktemp %s/mail-XXXXXX.tmp) && cat > "$f" && mv "$f" "${f%%.tmp}.eml"'
                                    % self.mails)
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.stop()
            self.assertNotIn("s3cret-fleet-pw", h.text(), h.name + " logged the password")
            # A sanitizer report of the sidecar itself fails the test. libunbound's resolver
            # process (forked, see test_fleet.py) reports the other threads' memory at its exit
            # under its own pid: a false positive of forking a threaded process, not counted.
            for pid in h.pids:
                self.assertNotIn("==%d==ERROR" % pid, h.text(), h.name + ": " + h.text()[-3000:])
        subprocess.run([os.path.join(WORLD, "pg.sh"), "start"], capture_output=True, timeout=60)
        drop_fleet_database(self.db)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def script(self, name, body):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("#!/bin/bash\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def host(self, name):
        h = Host(self, name)
        self.hosts.append(h)
        return h

    def wait_for(self, what, cond, secs=30):
        deadline = time.monotonic() + secs
        while True:
            got = cond()
            if got:
                return got
            self.assertLess(time.monotonic(), deadline, "timed out waiting for " + what)
            time.sleep(0.2)

    def mail_count(self):
        return len([n for n in os.listdir(self.mails) if n.endswith(".eml")])

    def https_reports(self):
        """The JSON of every report of this test's submitter the world's https receiver got."""
        out = []
        for n in os.listdir(self.https_dir):
            if not n.endswith(".body"):
                continue
            try:
                with open(os.path.join(self.https_dir, n), "rb") as f:
                    report = json.loads(gzip.decompress(f.read()))
            except (OSError, ValueError, EOFError):
                continue
            if report.get("report-id", "").endswith("@" + self.submitter):
                out.append(report)
        return out

    def listed(self, host):
        """`tlsfence report list` of the fleet: {rua: (state, attempts, delivered_by)} for sts.test."""
        out, in_domain = {}, False
        for line in host.cli("report", "list").stdout.splitlines():
            if not line.startswith(" "):
                in_domain = line.startswith(DAY + " sts.test ")
            elif in_domain and line.startswith("    rua "):
                uri, rest = line[len("    rua "):].split("  ", 1)
                parts = [p.strip() for p in rest.split(",")]
                by = [p[len("delivered by "):] for p in parts if p.startswith("delivered by ")]
                out[uri] = (parts[0], int(parts[1].split()[0]), by[0] if by else "")
        return out

    def delivered(self, host):
        got = self.listed(host)
        return got if [v[0] for v in got.values()] == ["delivered", "delivered"] else None

    def pg_sessions(self, host=None):
        where = " AND host = '%s'" % host if host else ""
        v = sql(self.db, "SELECT coalesce(sum(sessions), 0) FROM tlsfence.tlsfence_tlsrpt_outcomes WHERE "
                         "domain = 'sts.test'" + where)
        return int(v)

    def gauge(self, host, name):
        status, body = healthz(host.metrics, "/metrics")
        self.assertEqual(status, 200)
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        self.fail("%s not in %s's /metrics" % (name, host.name))

    def test_three_hosts_one_report_with_summed_counts_each_rua_once(self):
        hosts = [self.host(n) for n in ("mta-a", "mta-b", "mta-c")]
        for h, n in zip(hosts, (2, 3, 4)):
            self.assertIn("uploaded 1 (day, domain) aggregates", h.ingest(n).stdout)
        self.assertEqual(sql(self.db, "SELECT host || '=' || sessions FROM tlsfence.tlsfence_tlsrpt_outcomes "
                                      "ORDER BY host").split(), ["mta-a=2", "mta-b=3", "mta-c=4"])
        for h in hosts:  # the three daily jobs start at once (delay 0) and race for the day
            h.start()
        got = self.wait_for("both rua delivered", lambda: self.delivered(hosts[0]), 60)
        time.sleep(4)  # the other sidecars had several rounds to deliver again: they must not
        self.assertEqual(self.mail_count(), 1)
        reports = self.https_reports()
        self.assertEqual(len(reports), 1, reports)
        summary = reports[0]["policies"][0]["summary"]
        self.assertEqual(summary["total-successful-session-count"], 9)
        self.assertEqual(summary["total-failure-session-count"], 0)
        self.assertEqual(reports[0]["date-range"]["start-datetime"], DAY + "T00:00:00Z")
        self.assertEqual(got[MAILTO][1], 1)
        self.assertEqual(got[HTTPS][1], 1)
        builders = sql(self.db, "SELECT builder FROM tlsfence.tlsfence_tlsrpt_days").split()
        self.assertEqual(len(builders), 1)
        self.assertEqual({got[MAILTO][2], got[HTTPS][2]}, set(builders))  # the builder delivered
        with open([os.path.join(self.mails, n) for n in os.listdir(self.mails)][0]) as f:
            mail = f.read()
        self.assertIn("TLS-Report-Domain: sts.test", mail)
        others = [h for h in hosts if h.name != builders[0]]
        for h in others:
            self.wait_for(h.name + " saw the day built by " + builders[0],
                          lambda h=h: "built for the fleet by " + builders[0] in h.text() or
                          "being built by " + builders[0] in h.text(), 20)
        # The fleet's deliveries as each report job last read them (at most a minute old): the
        # builder read them after delivering.
        builder = [h for h in hosts if h.name == builders[0]][0]
        self.wait_for("the builder's gauges", lambda: self.gauge(builder, "tlsfence_rptd_deliveries_pending") == 0)
        listing = hosts[2].cli("report", "list").stdout
        self.assertIn("%s sts.test success 9 failure 0 (3 hosts)\n" % DAY, listing)
        for name, n in (("mta-a", 2), ("mta-b", 3), ("mta-c", 4)):
            self.assertIn("  host %s success %d failure 0\n" % (name, n), listing)
        self.assertIn("built by " + builders[0], listing)
        out = os.path.join(self.tmp, "built")
        files = hosts[1].cli("report", "build", "--day", DAY, "--all", "--out", out).stdout.split()
        self.assertEqual(len(files), 1, files)
        with gzip.open(files[0]) as f:
            built = json.load(f)
        self.assertEqual(built["policies"][0]["summary"]["total-successful-session-count"], 9)
        self.assertEqual(built["report-id"], reports[0]["report-id"])  # one report-id for the fleet

    def test_two_hosts_sending_the_same_day_at_once_deliver_each_rua_once(self):
        """The race three times (three days, so three fresh builds), then a repeat of one."""
        a, b = self.host("mta-a"), self.host("mta-b")
        cmd = lambda h, day: subprocess.Popen([TLSFENCE, *h.opts(), "--daemon.log-level=warning", "report", "send",
                                               "--day", day], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True)
        for n in (1, 2, 3):
            day, stamp = day_back(n)
            a.ingest(1, stamp)
            b.ingest(2, stamp)
            procs = [cmd(a, day), cmd(b, day)]
            outs = [p.communicate(timeout=120) for p in procs]
            for p, (out, err) in zip(procs, outs):
                self.assertEqual(p.returncode, 0, out + err)
            both = outs[0][0] + outs[1][0]
            self.assertEqual(both.count("sts.test %s ok " % MAILTO), 1, both)
            self.assertEqual(both.count("sts.test %s ok " % HTTPS), 1, both)
            self.assertEqual(self.mail_count(), n)
            reports = [r for r in self.https_reports() if r["date-range"]["start-datetime"] == day + "T00:00:00Z"]
            self.assertEqual(len(reports), 1, reports)
            self.assertEqual(reports[0]["policies"][0]["summary"]["total-successful-session-count"], 3)
        again = b.cli("report", "send", "--day", DAY).stdout
        self.assertIn("%s already delivered" % MAILTO, again)
        self.assertIn("%s already delivered" % HTTPS, again)
        self.assertEqual(self.mail_count(), 3)
        self.assertEqual(len(self.https_reports()), 3)

    def test_delivering_host_killed_is_taken_over_after_its_lease(self):
        a, b = self.host("mta-a"), self.host("mta-b")
        a.ingest(3)
        started = os.path.join(self.tmp, "slow-started")
        slow = self.script("slow-sendmail", "touch %s; sleep 60; exec %s" % (started, self.sendmail))
        a.start(sendmail=slow, TLSFENCE_FLEET_LEASE="4")
        self.wait_for("mta-a's sendmail started", lambda: os.path.exists(started), 60)
        a.kill9()  # mid-delivery of the mailto rua (https, first in order, was delivered)
        self.assertEqual(self.mail_count(), 0)
        self.assertEqual(sql(self.db, "SELECT lease_host FROM tlsfence.tlsfence_tlsrpt_deliveries WHERE rua = '%s'"
                             % MAILTO), "mta-a")
        b.start(TLSFENCE_FLEET_LEASE="4")
        got = self.wait_for("mta-b delivered the mailto rua", lambda: self.delivered(b), 60)
        self.assertEqual(got[MAILTO], ("delivered", 1, "mta-b"))
        self.assertEqual(got[HTTPS], ("delivered", 1, "mta-a"))
        time.sleep(3)
        self.assertEqual(self.mail_count(), 1)
        self.assertEqual(len(self.https_reports()), 1)
        self.assertIn("built for the fleet by mta-a", b.text())

    def test_postgresql_down_outcomes_kept_then_uploaded_none_lost_none_doubled(self):
        a = self.host("mta-a")
        a.start(follow=True)
        a.append(3)
        self.wait_for("3 sessions uploaded", lambda: self.pg_sessions() == 3)
        subprocess.run([os.path.join(WORLD, "pg.sh"), "stop"], check=True, capture_output=True, timeout=60)
        a.append(4)
        self.wait_for("/healthz 503", lambda: healthz(a.metrics)[0] == 503)
        self.assertIn("fleet database unreachable", healthz(a.metrics)[1])
        self.wait_for("the 4 waiting in tlsrpt.db",
                      lambda: self.gauge(a, "tlsfence_rptd_fleet_uploads_pending") >= 1, 10)
        a.kill9()
        a.start(follow=True)  # starts while PostgreSQL is down
        a.append(2)
        time.sleep(3)
        subprocess.run([os.path.join(WORLD, "pg.sh"), "start"], check=True, capture_output=True, timeout=60)
        self.wait_for("9 sessions uploaded", lambda: self.pg_sessions() == 9, 60)
        self.wait_for("/healthz 200", lambda: healthz(a.metrics)[0] == 200, 30)
        time.sleep(5)  # several more upload rounds: nothing doubled
        self.assertEqual(self.pg_sessions(), 9)
        self.assertEqual(self.gauge(a, "tlsfence_rptd_fleet_uploads_pending"), 0)
        self.assertEqual(int(sql(self.db, "SELECT pending FROM tlsfence.tlsfence_tlsrpt_uploads WHERE host = 'mta-a'")),
                         0)
        log = a.text()
        self.assertEqual(log.count("fleet upload failed"), 0, log)  # the link's own state lines say it
        self.assertLessEqual(log.count("fleet database unreachable"), 2, log)

    def test_corrupt_and_newer_rows_named_and_left_out(self):
        a, b, c = self.host("mta-a"), self.host("mta-b"), self.host("mta-c")
        a.ingest(2)
        b.ingest(3)
        c.ingest(4)
        sql(self.db, "UPDATE tlsfence.tlsfence_tlsrpt_outcomes SET aggregate = '{broken' WHERE host = 'mta-b'")
        sql(self.db, "UPDATE tlsfence.tlsfence_tlsrpt_outcomes SET format = 2 WHERE host = 'mta-c'")
        r = a.cli("report", "build", "--day", DAY, "--all", "--out", os.path.join(self.tmp, "out"))
        self.assertIn("fleet outcomes of host mta-b, day %s, domain sts.test do not decode (not JSON): left out"
                      % DAY, r.stderr)
        self.assertIn("host mta-c, day %s, domain sts.test: row format 2 is newer than this program's 1" % DAY,
                      r.stderr)
        with gzip.open(r.stdout.split()[0]) as f:
            self.assertEqual(json.load(f)["policies"][0]["summary"]["total-successful-session-count"], 2)


if __name__ == "__main__":
    RPTD, TLSFENCE = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
