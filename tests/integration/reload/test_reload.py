#!/usr/bin/env python3
"""SIGHUP reload reaches the policy service and the doors (tlsfenced against the test world).

tlsfenced runs on a copy of the world's config; the test rewrites that copy and sends SIGHUP:
 - a new [local] override answers at once over the socketmap (nosuch.test: NOTFOUND → OK encrypt);
 - a bad override rule refuses the whole reload, the log names the rule, the old answers stay;
 - [socketmap] enforce-testing = yes makes ststesting.test's cached NOTFOUND an MTA-STS answer;
 - a new [reception] forced-tls-sender reaches the policy-delegation door (DUNNO → FILTER)
   and the milter door (no header → `X-TLSfence: forced-tls`, checked with miltertest).
Usage: test_reload.py TLSFENCED [unittest args]
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

TLSFENCED = None
RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")


def world_config():
    env = {}
    with open(os.path.join(RUN, "world.env")) as f:
        for line in f:
            m = re.match(r"^(WORLD_[A-Z_]+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    return env["WORLD_TLSFENCE_CONF"]


def netstring(data):
    return b"%d:%s," % (len(data), data)


def read_netstring(sock):
    buf = b""
    while b":" not in buf:
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError("socketmap closed the connection")
        buf += chunk
    length = int(buf[:-1])
    body = b""
    while len(body) < length + 1:
        chunk = sock.recv(length + 1 - len(body))
        if not chunk:
            raise AssertionError("socketmap closed the connection")
        body += chunk
    assert body.endswith(b","), body
    return body[:-1].decode()


class Reload(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tlsfence-reload.")
        with open(world_config()) as f:
            self.base = f.read()
        self.conf = os.path.join(self.tmp, "tlsfence.conf")
        self.write_config("")
        self.sm = os.path.join(self.tmp, "sm.sock")
        self.policy = os.path.join(self.tmp, "policy.sock")
        self.milter = os.path.join(self.tmp, "milter.sock")
        self.log_path = os.path.join(self.tmp, "tlsfenced.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [TLSFENCED, "--config", self.conf, "--cache.db=" + os.path.join(self.tmp, "cache.db"),
             "--socketmap.listen=unix:" + self.sm, "--policy.listen=unix:" + self.policy,
             "--milter.listen=unix:" + self.milter],
            stdout=subprocess.DEVNULL, stderr=self.log)
        self.wait_log(r"listening door=policy", 60)
        self.wait_log(r"listening door=milter", 60)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_config(self, extra):
        # Rewritten in place (same inode), as an operator's editor might; then SIGHUP.
        with open(self.conf, "w") as f:
            f.write(self.base + "\n" + extra)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=30.0, after=0, required=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            m = re.search(pattern, text[after:])
            if m:
                return m
            if self.proc.poll() is not None:
                self.fail("tlsfenced exited (%s):\n%s" % (self.proc.returncode, text))
            time.sleep(0.05)
        if required:
            self.fail("timeout waiting for %r:\n%s" % (pattern, self.text()[-4000:]))
        return None

    def hup(self, extra, expect):
        """Rewrite the config, SIGHUP, wait for the daemon's verdict; returns the new log text."""
        self.write_config(extra)
        n = len(self.text())
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(expect, 30, after=n)
        return self.text()[n:]

    def ask(self, domain):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(self.sm)
            s.sendall(netstring(b"tlspolicy " + domain.encode()))
            return read_netstring(s)

    def policy_action(self, sender, recipient):
        request = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
                   "client_address=192.0.2.7\nsender=%s\nrecipient=%s\nqueue_id=\n\n" % (sender, recipient))
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(self.policy)
            s.sendall(request.encode())
            reply = b""
            while not reply.endswith(b"\n\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        m = re.match(r"action=(.*)\n\n$", reply.decode())
        self.assertIsNotNone(m, reply)
        return m.group(1)

    def milter_marks(self, forced):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forced_sender.lua")
        env = dict(os.environ, MILTER_SOCKET="unix:" + self.milter, FORCED="yes" if forced else "no")
        r = subprocess.run(["miltertest", "-s", script], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_override_bad_rule_and_enforce_testing(self):
        self.assertEqual(self.ask("nosuch.test"), "NOTFOUND ")
        self.assertEqual(self.ask("ststesting.test"), "NOTFOUND ")  # now cached as NOTFOUND

        good = "[local]\noverride = nosuch.test encrypt\n"
        self.hup(good, r"configuration reloaded")
        self.assertEqual(self.ask("nosuch.test"), "OK encrypt")
        self.assertEqual(self.ask("ststesting.test"), "NOTFOUND ")

        # A rule the config schema lets through but the override parser refuses (attribute
        # without '='): the whole reload is refused before anything changes.
        bad = "[local]\noverride = nosuch.test none\noverride = other.test secure oops\n"
        after = self.hup(bad, r"configuration reload refused")
        self.assertIn("other.test secure oops", after)
        self.assertNotIn("configuration reloaded", after)
        self.assertEqual(self.ask("nosuch.test"), "OK encrypt")

        # A rule the schema itself refuses (unknown level): the same, naming the rule.
        bad = "[local]\noverride = nosuch.test none\noverride = other.test sometimes\n"
        after = self.hup(bad, r"configuration reload refused")
        self.assertIn("other.test sometimes", after)
        self.assertEqual(self.ask("nosuch.test"), "OK encrypt")

        # enforce-testing on: the cached testing-mode NOTFOUND gives way at once.
        self.hup(good + "[socketmap]\nenforce-testing = yes\n", r"configuration reloaded")
        self.assertEqual(self.ask("ststesting.test"), "OK secure match=mx1.sts.test servername=hostname")
        self.assertEqual(self.ask("nosuch.test"), "OK encrypt")
        # … and off again.
        self.hup(good, r"configuration reloaded")
        self.assertEqual(self.ask("ststesting.test"), "NOTFOUND ")

        # Override removed: the domain's own (cached) answer comes back.
        self.hup("", r"configuration reloaded")
        self.assertEqual(self.ask("nosuch.test"), "NOTFOUND ")

    def test_reception_rules_reach_the_policy_and_milter_doors(self):
        if shutil.which("miltertest") is None:
            self.skipTest("miltertest is not installed (contrib/install-deps.sh)")
        self.assertEqual(self.policy_action("a@forced.example", "b@nosuch.test"), "DUNNO")
        self.milter_marks(False)
        self.hup("[reception]\nforced-tls-sender = forced.example\nforced-tls-transport = tlsfence-verify\n",
                 r"configuration reloaded")
        self.assertEqual(self.policy_action("a@forced.example", "b@nosuch.test"), "FILTER tlsfence-verify:")
        self.assertEqual(self.policy_action("a@other.example", "b@nosuch.test"), "DUNNO")
        self.milter_marks(True)
        # A bad forced-TLS rule is refused and the old rules stay.
        after = self.hup("[reception]\nforced-tls-sender = forced.example\nforced-tls-client-network = 10.0.0.1/8\n",
                         r"configuration reload refused")
        self.assertIn("10.0.0.1/8", after)
        self.assertEqual(self.policy_action("a@forced.example", "b@nosuch.test"), "FILTER tlsfence-verify:")
        self.milter_marks(True)
        # Rules removed: both doors let the message through unmarked again.
        self.hup("", r"configuration reloaded")
        self.assertEqual(self.policy_action("a@forced.example", "b@nosuch.test"), "DUNNO")
        self.milter_marks(False)


if __name__ == "__main__":
    TLSFENCED = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
