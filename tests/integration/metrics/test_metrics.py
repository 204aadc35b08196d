#!/usr/bin/env python3
"""[metrics] listen of tlsfenced and tlsfence-rptd against the running test world, scraped by a
real Prometheus (Debian's `prometheus`, on loopback, 1 s scrape interval, its tsdb in the
test's temp dir, stopped at the end):

- known traffic (socketmap queries for world domains with known answers, policy-delegation
  requests, Postfix log lines and libtlsrpt datagrams for the sidecar) and the counts
  Prometheus's HTTP API then returns;
- `promtool check metrics` on both expositions, `promtool check rules` on
  contrib/prometheus/alerts.yml, and every expression of contrib/grafana/tlsfence.json and of
  the alert rules evaluated without error by that Prometheus;
- HTTP: /healthz 200, 404, 400 + close for malformed / oversized / body-carrying requests,
  idle connections over the listener's bound — the doors keep answering meanwhile;
- /healthz 503 with the reason: a door whose socket file was removed, a cache.db whose
  writes fail (another process holds its write lock), tlsrpt.db likewise for the sidecar, a
  resolver whose lookups all time out
  (and 200 again after one answer).

usage: test_metrics.py TLSFENCED TLSFENCE_RPTD [unittest args]
"""
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
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import yaml

TLSFENCED = RPTD = None
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "tlsfence.json")
ALERTS = os.path.join(ROOT, "contrib", "prometheus", "alerts.yml")
DATAGRAMS = os.path.join(ROOT, "tests", "unit", "tlsrpt", "data", "postfix310-datagrams.jsonl")


def world_env():
    path = os.path.join(RUN, "world.env")
    if not os.path.exists(path):
        raise unittest.SkipTest(f"no test world: {path} is missing (run tests/world/up.sh)")
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                env[k] = v.strip("'\"")
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def connectable(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(port, path, method="GET", timeout=10):
    """(status, headers dict, body text)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def raw_http(port, data, timeout=5):
    """Sends bytes, returns everything the server sent until it closed (and whether it closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode(errors="replace"), True
                out += chunk
        except socket.timeout:
            return out.decode(errors="replace"), False


def netstring(s):
    b = s.encode()
    return b"%d:%s," % (len(b), b)


def socketmap_ask(path, keys):
    """One connection, one request per key; the answers' texts."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(path)
        out = []
        buf = b""
        for key in keys:
            s.sendall(netstring(key))
            while True:
                m = re.match(rb"(\d+):", buf)
                if m and len(buf) >= m.end() + int(m.group(1)) + 1:
                    n = int(m.group(1))
                    out.append(buf[m.end():m.end() + n].decode())
                    buf = buf[m.end() + n + 1:]
                    break
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError("socketmap closed the connection")
                buf += chunk
        return out


def policy_ask(path, blocks):
    """One connection; each block a dict of attributes; the action texts."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(path)
        f = s.makefile("rwb")
        actions = []
        for attrs in blocks:
            text = "".join(f"{k}={v}\n" for k, v in attrs.items()) + "\n"
            f.write(text.encode())
            f.flush()
            lines = []
            while True:
                line = f.readline().decode().rstrip("\n")
                if line == "":
                    break
                lines.append(line)
            actions.append(lines[0][len("action="):])
        return actions


def rcpt(recipient, sender="someone@sender.test"):
    return {"request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
            "client_address": "192.0.2.1", "client_name": "client.example", "helo_name": "client.example",
            "sender": sender, "recipient": recipient, "queue_id": "", "instance": "1.2.3", "size": "100"}


def postfix_session(i, domain):
    stamp = time.strftime("%b %e %H:%M:%S")
    pid = 3000 + i
    qid = "E%08X" % i
    return (f"{stamp} sender postfix/smtp[{pid}]: Verified TLS connection established to mx1.{domain}"
            f"[192.0.2.14]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
            f"{stamp} sender postfix/smtp[{pid}]: {qid}: to=<user@{domain}>, relay=mx1.{domain}"
            f"[192.0.2.14]:25, delay=0.06, delays=0.01/0/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")


class Proc:
    def __init__(self, argv, log_path, env=None):
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; the exit status (a sanitizer report at exit makes it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class World:
    """The daemons under test and their Prometheus, shared by the test classes."""

    def __init__(self):
        self.w = world_env()
        base = self.w.get("WORLD_TLSFENCE_DIR", os.path.join(RUN, "tlsfence"))
        os.makedirs(base, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="metrics-", dir=base)
        os.chmod(self.dir, 0o755)
        self.procs = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def tlsfenced(self, name, *extra):
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        port = free_port()
        args = [TLSFENCED, "--config", self.w["WORLD_TLSFENCE_CONF"], "--daemon.user=",
                f"--socketmap.listen=unix:{d}/sm.sock", f"--policy.listen=unix:{d}/policy.sock",
                "--milter.listen=", f"--cache.db={d}/cache.db", f"--metrics.listen=inet:127.0.0.1:{port}",
                "--reception.on-dnssec-bogus=defer", "--reception.forced-tls-sender=clinic@sender.test", *extra]
        p = Proc(args, f"{d}/tlsfenced.log")
        self.procs.append(p)
        if not wait_until(lambda: not p.alive() or (connectable(port) and os.path.exists(f"{d}/sm.sock")), 20):
            raise AssertionError("tlsfenced did not come up:\n" + p.text())
        if not p.alive():
            raise AssertionError("tlsfenced exited:\n" + p.text())
        return p, port, d

    def rptd(self, name):
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        port = free_port()
        open(f"{d}/mail.log", "w").close()
        args = [RPTD, "--config", self.w["WORLD_TLSFENCE_CONF"], "--daemon.user=", f"--tlsrpt.db={d}/tlsrpt.db",
                f"--tlsrpt.socket={d}/tlsrpt.sock", f"--tlsrpt.postfix-log={d}/mail.log",
                f"--tlsrpt.outbox={d}/outbox", "--tlsrpt.deliver=no", "--tlsrpt.submitter=sender.test",
                f"--cache.db={d}/cache.db", f"--metrics.listen=inet:127.0.0.1:{port}"]
        env = dict(os.environ, TLSFENCE_RPTD_REPORT_DELAY="80000")
        p = Proc(args, f"{d}/rptd.log", env)
        self.procs.append(p)
        if not wait_until(lambda: not p.alive() or (connectable(port) and os.path.exists(f"{d}/tlsrpt.sock")), 20):
            raise AssertionError("tlsfence-rptd did not come up:\n" + p.text())
        return p, port, d

    def prometheus(self, targets):
        self.prom_port = free_port()
        conf = self.path("prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "rule_files:\n  - %s\n"
                    "scrape_configs:\n" % ALERTS)
            for job, port in targets.items():
                f.write(f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        tsdb = self.path("tsdb")
        p = Proc(["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={tsdb}",
                  f"--web.listen-address=127.0.0.1:{self.prom_port}", "--storage.tsdb.retention.time=1h"],
                 self.path("prometheus.log"))
        self.procs.append(p)
        ok = wait_until(lambda: not p.alive() or http_get_ok(self.prom_port, "/-/ready"), 60, 0.3)
        if not ok or not p.alive():
            raise AssertionError("prometheus did not come up:\n" + p.text())

    def query(self, expr):
        q = urllib.parse.urlencode({"query": expr})
        status, _, body = http_get(self.prom_port, "/api/v1/query?" + q)
        return status, json.loads(body)

    def value(self, expr):
        status, data = self.query(expr)
        if status != 200 or data["status"] != "success" or not data["data"]["result"]:
            return None
        return float(data["data"]["result"][0]["value"][1])

    def close(self):
        """Stops everything (tlsfenced and tlsfence-rptd while Prometheus still holds its
        keep-alive connections to them); a daemon that did not exit 0 fails the test."""
        failed = []
        for p in self.procs:
            rc = p.stop()
            if rc != 0 and os.path.basename(p.argv[0]) != "prometheus":
                failed.append(f"{p.argv[0]} exited {rc}:\n{p.text()[-4000:]}")
        for p in self.procs:
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if failed:
            raise AssertionError("\n".join(failed))


def http_get_ok(port, path):
    try:
        return http_get(port, path)[0] == 200
    except OSError:
        return False


W = None


class ScrapedByPrometheus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global W
        W = World()
        try:
            cls.fenced, cls.fport, cls.fdir = W.tlsfenced("fenced")
            cls.rptd, cls.rport, cls.rdir = W.rptd("rptd")
            W.prometheus({"tlsfenced": cls.fport, "tlsfence-rptd": cls.rport})
        except Exception:
            W.close()
            raise

    @classmethod
    def tearDownClass(cls):
        W.close()

    def wait_value(self, expr, expected, timeout=20):
        got = []
        ok = wait_until(lambda: got.append(W.value(expr)) or got[-1] == expected, timeout, 0.3)
        self.assertTrue(ok, f"{expr}: expected {expected}, Prometheus says {got[-1]}")

    def test_a_counts_the_test_caused(self):
        sm = os.path.join(self.fdir, "sm.sock")
        answers = socketmap_ask(sm, ["tlspolicy dane.test", "tlspolicy dane.test", "tlspolicy dane.test",
                                     "tlspolicy sts.test", "tlspolicy insecure.test", "tlspolicy insecure.test",
                                     "tlspolicy nosuch.test", "tlspolicy bogus.test", "garbage"])
        self.assertEqual(answers[0], "OK dane-only")
        self.assertTrue(answers[3].startswith("OK secure match=mx1.sts.test:.mx.sts.test"), answers[3])
        self.assertEqual(answers[4:7], ["NOTFOUND ", "NOTFOUND ", "NOTFOUND "])
        self.assertTrue(answers[7].startswith("TEMP "), answers[7])
        self.assertTrue(answers[8].startswith("PERM "), answers[8])
        actions = policy_ask(os.path.join(self.fdir, "policy.sock"),
                             [rcpt("a@dane.test"), rcpt("b@insecure.test"), rcpt("c@bogus.test"),
                              rcpt("d@dane.test", sender="clinic@sender.test")])
        self.assertEqual(actions[0], "DUNNO")
        self.assertEqual(actions[1], "DUNNO")
        self.assertTrue(actions[2].startswith("DEFER_IF_PERMIT 4.7.5"), actions[2])
        self.assertEqual(actions[3], "FILTER tlsfence-encrypt:")

        with open(os.path.join(self.rdir, "mail.log"), "a") as f:
            for i in range(3):
                f.write(postfix_session(i, "dane.test"))
        with open(DATAGRAMS) as f:
            datagrams = [json.loads(line) for line in f if line.strip()]
        sts_ok = next(d for d in datagrams if '"d": "sts.test"' in d and '"f":0' in d)
        nostarttls = next(d for d in datagrams if '"d": "nostarttls.test"' in d)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            for d in (sts_ok, nostarttls, "this is not a datagram"):
                s.sendto(d.encode(), os.path.join(self.rdir, "tlsrpt.sock"))

        job_f = 'job="tlsfenced"'
        self.wait_value(f'tlsfence_socketmap_requests_total{{{job_f},answer="OK"}}', 4)
        self.wait_value(f'tlsfence_socketmap_requests_total{{{job_f},answer="NOTFOUND"}}', 3)
        self.wait_value(f'tlsfence_socketmap_requests_total{{{job_f},answer="TEMP"}}', 1)
        self.wait_value(f'tlsfence_socketmap_requests_total{{{job_f},answer="PERM"}}', 1)
        self.wait_value(f'tlsfence_policy_requests_total{{{job_f},action="DUNNO"}}', 2)
        self.wait_value(f'tlsfence_policy_requests_total{{{job_f},action="FILTER"}}', 1)
        self.wait_value(f'tlsfence_policy_requests_total{{{job_f},action="DEFER"}}', 1)
        self.wait_value(f'tlsfence_policy_requests_total{{{job_f},action="REJECT"}}', 0)
        # 9 socketmap answers + 4 policy answers, each timed once.
        self.wait_value(f'tlsfence_request_duration_seconds_count{{{job_f},door="socketmap"}}', 9)
        self.wait_value(f'tlsfence_request_duration_seconds_count{{{job_f},door="policy"}}', 4)
        # dane.test, sts.test, insecure.test, nosuch.test, bogus.test (+ the policy door's, all the same).
        self.wait_value(f'tlsfence_cache_entries{{{job_f}}}', 5)
        self.assertGreaterEqual(W.value(f'tlsfence_cache_lookups_total{{{job_f},result="hit"}}'), 4)
        self.assertGreaterEqual(W.value(f'tlsfence_dns_lookups_total{{{job_f},outcome="bogus"}}'), 1)
        self.assertGreaterEqual(W.value(f'tlsfence_dns_lookups_total{{{job_f},outcome="secure"}}'), 3)
        self.assertGreaterEqual(W.value(f'tlsfence_dns_lookups_total{{{job_f},outcome="insecure"}}'), 1)
        self.assertEqual(W.value(f'tlsfence_mta_sts_fetches_total{{{job_f},outcome="ok"}}'), 1)
        self.assertEqual(W.value(f'sum(tlsfence_resolutions_total{{{job_f},source="dane",verdict="policy"}})'), 1)
        self.assertEqual(
            W.value(f'sum(tlsfence_resolutions_total{{{job_f},verdict="temp-fail",result_type="dnssec-invalid"}})'),
            1)
        self.assertEqual(W.value(f'tlsfence_store_write_errors_total{{{job_f}}}'), 0)
        self.assertEqual(W.value(f'tlsfence_healthy{{{job_f}}}'), 1)
        self.assertEqual(W.value(f'tlsfence_build_info{{{job_f},program="tlsfenced"}}'), 1)

        job_r = 'job="tlsfence-rptd"'
        self.wait_value(f'tlsfence_rptd_lines_read_total{{{job_r},source="postfix-log"}}', 6)
        self.wait_value(f'tlsfence_rptd_outcomes_total{{{job_r},result="success"}}', 4)
        self.wait_value(f'tlsfence_rptd_outcomes_total{{{job_r},result="failure"}}', 1)
        self.wait_value(f'tlsfence_rptd_failures_total{{{job_r},result_type="starttls-not-supported"}}', 1)
        self.wait_value(f'tlsfence_rptd_datagrams_total{{{job_r},result="accepted"}}', 2)
        self.wait_value(f'tlsfence_rptd_datagrams_total{{{job_r},result="rejected"}}', 1)
        self.assertEqual(W.value(f'tlsfence_rptd_pending_retries{{{job_r}}}'), 0)
        self.assertEqual(W.value(f'tlsfence_build_info{{{job_r},program="tlsfence-rptd"}}'), 1)
        self.assertEqual(W.value('sum(up)'), 2)

    def test_b_promtool_finds_no_problem(self):
        for port in (self.fport, self.rport):
            status, headers, body = http_get(port, "/metrics")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout.strip() + r.stderr.strip(), "")
        r = subprocess.run(["promtool", "check", "rules", ALERTS], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_c_every_dashboard_and_alert_expression_evaluates(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exprs = []

        def walk(panels):
            for p in panels:
                for t in p.get("targets", []):
                    if t.get("expr"):
                        exprs.append((p.get("title", "?"), t["expr"]))
                walk(p.get("panels", []))

        walk(dash["panels"])
        self.assertGreaterEqual(len(exprs), 10)
        with open(ALERTS) as f:
            rules = yaml.safe_load(f)
        for g in rules["groups"]:
            for r in g["rules"]:
                exprs.append(("alert " + r["alert"], r["expr"]))
        subst = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${__rate_interval}": "1m",
                 "$instance": ".*", "${instance}": ".*", "$job": ".*"}
        series = set()
        for title, expr in exprs:
            for k, v in subst.items():
                expr = expr.replace(k, v)
            self.assertNotIn("$", expr, f"{title}: unsubstituted variable in {expr}")
            status, data = W.query(expr)
            self.assertEqual((status, data.get("status")), (200, "success"), f"{title}: {expr}: {data}")
            series.update(re.findall(r"\b(tlsfence_[a-z_]+)", expr))
        # Every metric the dashboard and the rules name exists in Prometheus (no typo).
        known = set()
        for job in ("tlsfenced", "tlsfence-rptd"):
            status, data = W.query('count by (__name__) ({job="%s"})' % job)
            known.update(r["metric"]["__name__"] for r in data["data"]["result"])
        for name in series:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertTrue(name in known or base + "_bucket" in known, f"{name} is not exported")
        # The alert rules were loaded and evaluated by Prometheus itself, without error.
        status, body = http_get(W.prom_port, "/api/v1/rules")[0::2]
        loaded = json.loads(body)["data"]["groups"]
        self.assertTrue(loaded)
        self.assertTrue(wait_until(lambda: all(r.get("lastEvaluation", "").startswith("2") and
                                               r.get("health") == "ok"
                                               for g in json.loads(http_get(W.prom_port, "/api/v1/rules")[2])
                                               ["data"]["groups"] for r in g["rules"]), 10, 0.5),
                        http_get(W.prom_port, "/api/v1/rules")[2])

    def test_d_http_errors_and_the_doors_keep_answering(self):
        port = self.fport
        self.assertEqual(http_get(port, "/healthz")[0::2], (200, "ok\n"))
        self.assertEqual(http_get(self.rport, "/healthz")[0::2], (200, "ok\n"))
        self.assertEqual(http_get(port, "/nothing")[0], 404)
        status, headers, body = http_get(port, "/metrics", method="HEAD")
        self.assertEqual((status, body), (200, ""))
        for data in (b"GARBAGE\r\n\r\n", b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
                     b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"):
            text, closed = raw_http(port, data)
            self.assertTrue(text.startswith("HTTP/1.1 400 "), text[:200])
            self.assertTrue(closed, "connection left open after 400")
        # More idle connections than the listener takes (32): the extra ones are closed at
        # once, the doors never notice.
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        try:
            t0 = time.monotonic()
            self.assertEqual(socketmap_ask(os.path.join(self.fdir, "sm.sock"), ["tlspolicy dane.test"]),
                             ["OK dane-only"])
            self.assertLess(time.monotonic() - t0, 2)
        finally:
            for s in idle:
                s.close()
        self.assertTrue(wait_until(lambda: http_get_ok(port, "/healthz"), 5))


class HealthFailures(unittest.TestCase):
    """/healthz 503 with the reason; each case on its own daemon."""

    @classmethod
    def setUpClass(cls):
        cls.world = World()

    @classmethod
    def tearDownClass(cls):
        cls.world.close()

    def test_door_whose_socket_file_is_gone(self):
        p, port, d = self.world.tlsfenced("gone")
        self.assertEqual(http_get(port, "/healthz")[0::2], (200, "ok\n"))
        os.unlink(f"{d}/sm.sock")
        status, _, body = http_get(port, "/healthz")
        self.assertEqual(status, 503)
        self.assertIn(f"unhealthy: door socketmap not listening on unix:{d}/sm.sock: socket file", body)
        self.assertIn("tlsfence_healthy 0\n", http_get(port, "/metrics")[2])
        self.assertEqual(policy_ask(f"{d}/policy.sock", [rcpt("a@insecure.test")]), ["DUNNO"])

    def test_resolver_whose_lookups_all_fail(self):
        p, port, d = self.world.tlsfenced("resolver", "--dns.timeout=1")
        self.assertTrue(wait_until(lambda: http_get_ok(port, "/healthz"), 5))
        # hang.test is delegated to a server that never answers: every lookup below it times out.
        answers = []
        threads = [threading.Thread(target=lambda i=i: answers.extend(
            socketmap_ask(f"{d}/sm.sock", [f"tlspolicy d{i}.hang.test"]))) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(answers), 12)
        self.assertTrue(all(a.startswith("TEMP ") for a in answers), answers)
        status, _, body = http_get(port, "/healthz")
        self.assertEqual(status, 503, body)
        self.assertRegex(body, r"unhealthy: resolver unusable: the last \d+ DNS lookups failed")
        self.assertRegex(http_get(port, "/metrics")[2], r'tlsfence_dns_lookups_total\{outcome="timeout"\} (1[0-9]|[2-9][0-9])')
        # One answer ends it.
        self.assertEqual(socketmap_ask(f"{d}/sm.sock", ["tlspolicy dane.test"]), ["OK dane-only"])
        self.assertEqual(http_get(port, "/healthz")[0::2], (200, "ok\n"))

    def test_outcome_store_whose_writes_fail(self):
        p, port, d = self.world.rptd("rptdlocked")
        self.assertEqual(http_get(port, "/healthz")[0::2], (200, "ok\n"))
        with open(DATAGRAMS) as f:
            datagram = next(d for d in (json.loads(line) for line in f if line.strip())
                            if '"d": "sts.test"' in d and '"f":0' in d)
        lock = sqlite3.connect(f"{d}/tlsrpt.db", timeout=1, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(datagram.encode(), f"{d}/tlsrpt.sock")
            # tlsrpt.db's busy timeout is 10 s: then the write fails and the sidecar says so. While
            # SQLite waits, the sidecar's one thread answers nothing (a probe times out).
            def unhealthy():
                try:
                    return http_get(port, "/healthz", timeout=2)[0] == 503
                except OSError:
                    return False
            self.assertTrue(wait_until(unhealthy, 25, 0.5), p.text())
            self.assertIn("unhealthy: outcome store unwritable: ", http_get(port, "/healthz")[2])
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(datagram.encode(), f"{d}/tlsrpt.sock")
        self.assertTrue(wait_until(lambda: http_get_ok(port, "/healthz"), 10, 0.3))

    def test_cache_store_whose_writes_fail(self):
        p, port, d = self.world.tlsfenced("locked")
        socketmap_ask(f"{d}/sm.sock", ["tlspolicy insecure.test"])  # cache.db exists, WAL mode
        self.assertTrue(wait_until(lambda: http_get_ok(port, "/healthz"), 5))
        lock = sqlite3.connect(f"{d}/cache.db", timeout=1, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            self.assertEqual(socketmap_ask(f"{d}/sm.sock", ["tlspolicy dane.test"]), ["OK dane-only"])
            # cache.db's busy timeout is 5 s: then the write fails and the daemon says so.
            self.assertTrue(wait_until(lambda: http_get(port, "/healthz")[0] == 503, 15, 0.3))
            status, _, body = http_get(port, "/healthz")
            self.assertIn("unhealthy: cache store unwritable: cannot ", body)
            self.assertRegex(http_get(port, "/metrics")[2], r"\ntlsfence_store_write_errors_total [1-9]")
            # Answers still come, from memory.
            self.assertEqual(socketmap_ask(f"{d}/sm.sock", ["tlspolicy dane.test"]), ["OK dane-only"])
        finally:
            lock.execute("ROLLBACK")
            lock.close()


def main():
    global TLSFENCED, RPTD
    TLSFENCED, RPTD = (os.path.abspath(p) for p in sys.argv[1:3])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


if __name__ == "__main__":
    main()
