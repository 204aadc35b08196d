#!/usr/bin/env python3
"""The shared cache across restarts, the CLI and a corrupt file (issue 5, "Cache tests").

Usage: test_cache.py TLSFENCED TLSFENCE   (the loopback test world must be up)

- A restarted tlsfenced answers from cache.db at once: the second daemon runs with the SSRF
  guard on (`allow-private-addresses = no`), so it could not fetch the MTA-STS policy of the
  world's loopback web server — its answer can only come from the file.
- `tlsfence cache list/flush/refresh` read and change the same file, and reach a running
  tlsfenced's memory (through cache.db's control table).
- A corrupt cache.db is renamed aside and recreated; the daemon still answers.
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")
TLSFENCED = TLSFENCE = None
STS = "OK secure match=mx1.sts.test:.mx.sts.test servername=hostname"


def world_conf():
    with open(os.path.join(RUN, "world.env")) as f:
        for line in f:
            if line.startswith("WORLD_TLSFENCE_CONF="):
                return line.split("=", 1)[1].strip().strip("'\"")
    raise unittest.SkipTest("no test world")


def ask(sock_path, key):
    q = ("tlspolicy " + key).encode()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(sock_path)
        s.sendall(b"%d:%s," % (len(q), q))
        data = b""
        while not data.endswith(b","):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b":", 1)[1][:-1].decode()


class CacheTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cache-test-")
        self.db = os.path.join(self.tmp, "cache.db")
        self.sock = os.path.join(self.tmp, "sm.sock")
        self.conf = world_conf()
        self.procs = []

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()

    def common(self, db=None):
        return ["--config", self.conf, "--cache.db=" + (db or self.db)]

    def daemon(self, *extra):
        log_path = os.path.join(self.tmp, "daemon-%d.log" % len(self.procs))
        log = open(log_path, "wb")
        p = subprocess.Popen([TLSFENCED, *self.common(), "--socketmap.listen=unix:" + self.sock,
                              "--policy.listen=", "--milter.listen=", "--daemon.log-level=info", *extra],
                             stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((p, log))
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            self.assertIsNone(p.poll(), open(log_path).read())
            self.assertLess(time.monotonic(), deadline, "no socket")
            time.sleep(0.05)
        return p, log_path

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)

    def cli(self, *args, db=None):
        return subprocess.run([TLSFENCE, *self.common(db), "--daemon.log-level=warning", *args],
                              capture_output=True, text=True, timeout=60)

    def test_restart_answers_from_cache_db(self):
        p, _ = self.daemon()
        self.assertEqual(ask(self.sock, "sts.test"), STS)
        self.assertEqual(ask(self.sock, "dane.test"), "OK dane-only")
        self.stop(p)
        # The SSRF guard would refuse the world's web server: only cache.db can answer.
        p, log = self.daemon("--mta-sts.allow-private-addresses=no")
        self.assertRegex(open(log).read(), r"cache loaded db=\S+ entries=[1-9]")
        self.assertEqual(ask(self.sock, "sts.test"), STS)
        self.assertEqual(ask(self.sock, "dane.test"), "OK dane-only")
        self.stop(p)
        # Control: without the file the same daemon cannot produce that answer.
        fresh = self.cli("--mta-sts.allow-private-addresses=no", "query", "sts.test",
                         db=os.path.join(self.tmp, "other.db"))
        self.assertEqual(fresh.stdout, "NOTFOUND \n")

    def test_cli_list_flush_refresh(self):
        p, _ = self.daemon()
        self.assertEqual(ask(self.sock, "sts.test"), STS)
        self.stop(p)  # write-behind flushed on stop
        listed = self.cli("cache", "list")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("sts.test\t" + STS + "\tsource=sts\tfresh until ", listed.stdout)
        self.assertIn("sts.test\tMTA-STS id=world1 mode=enforce", listed.stdout)
        # query reads the same file: the cached answer even with fetching impossible.
        q = self.cli("--mta-sts.allow-private-addresses=no", "query", "sts.test")
        self.assertEqual(q.stdout, STS + "\n")
        flushed = self.cli("cache", "flush", "sts.test")
        self.assertEqual(flushed.returncode, 0, flushed.stderr)
        self.assertNotIn("sts.test", self.cli("cache", "list").stdout)
        self.assertEqual(self.cli("cache", "list", "sts.test").returncode, 1)
        q = self.cli("--mta-sts.allow-private-addresses=no", "query", "sts.test")
        self.assertEqual(q.stdout, "NOTFOUND \n")
        refreshed = self.cli("cache", "refresh", "sts.test")
        self.assertEqual(refreshed.stdout, "sts.test\t" + STS + "\n", refreshed.stderr)
        self.assertIn("sts.test\t" + STS, self.cli("cache", "list").stdout)
        self.assertEqual(self.cli("cache", "flush", "no_t a domain").returncode, 2)

    def test_flush_and_refresh_reach_the_running_daemon(self):
        p, _ = self.daemon()
        self.assertEqual(ask(self.sock, "sts.test"), STS)
        self.stop(p)
        # This daemon cannot fetch (SSRF guard): its sts.test answer lives only in its memory,
        # loaded from cache.db at start.
        p, log = self.daemon("--mta-sts.allow-private-addresses=no")
        self.assertEqual(ask(self.sock, "sts.test"), STS)
        self.assertEqual(ask(self.sock, "dane.test"), "OK dane-only")
        decided = open(log).read().count("policy decided domain=dane.test")
        refreshed = self.cli("cache", "refresh", "dane.test")
        self.assertEqual(refreshed.returncode, 0, refreshed.stderr)
        self.assertEqual(refreshed.stdout, "dane.test\tOK dane-only\n")
        # resolved again by the daemon itself (its log), not by the CLI
        self.assertEqual(open(log).read().count("policy decided domain=dane.test"), decided + 1)
        self.assertIn("cache control: refresh dane.test done", open(log).read())
        # refresh never weakens: the daemon cannot fetch sts.test's policy, it keeps the stored one
        refreshed = self.cli("cache", "refresh", "sts.test")
        self.assertEqual(refreshed.stdout, "sts.test\t" + STS + "\n", refreshed.stderr)
        self.assertEqual(ask(self.sock, "sts.test"), STS)

        flushed = self.cli("cache", "flush", "sts.test")
        self.assertEqual(flushed.returncode, 0, flushed.stderr)
        self.assertIn("running tlsfenced: flushed 1 decision(s) from tlsfenced's memory", flushed.stdout)
        # Gone from memory too: the daemon must resolve again, and cannot fetch the policy.
        self.assertEqual(ask(self.sock, "sts.test"), "NOTFOUND ")
        self.assertEqual(ask(self.sock, "dane.test"), "OK dane-only")
        flushed = self.cli("cache", "flush")
        self.assertIn("running tlsfenced: flushed", flushed.stdout, flushed.stderr)
        self.stop(p)
        # With no daemon running the CLI says so and still edits the file.
        flushed = self.cli("cache", "flush")
        self.assertEqual(flushed.returncode, 0, flushed.stderr)
        self.assertIn("no tlsfenced is running on", flushed.stdout)

    def test_corrupt_cache_db_is_recovered(self):
        with open(self.db, "wb") as f:
            f.write(b"this is not an SQLite database" * 100)
        p, log = self.daemon()
        self.assertEqual(ask(self.sock, "dane.test"), "OK dane-only")
        self.stop(p)
        self.assertTrue(glob.glob(self.db + ".corrupt-*"), os.listdir(self.tmp))
        self.assertIn("corrupt", open(log).read())
        listed = self.cli("cache", "list")
        self.assertIn("dane.test\tOK dane-only", listed.stdout, listed.stderr)


if __name__ == "__main__":
    TLSFENCED = sys.argv.pop(1)
    TLSFENCE = sys.argv.pop(1)
    unittest.main()
