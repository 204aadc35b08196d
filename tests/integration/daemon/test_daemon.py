#!/usr/bin/env python3
"""tlsfenced, tlsfence-rptd and tlsfence as programs: --help/--version, config errors (exit 2,
naming the key), listeners (unix + inet, stale socket replaced), privilege drop, SIGHUP reload
(good and refused), SIGTERM within 1 s. No test world needed: temp dirs and free ports only.

Usage: test_daemon.py TLSFENCED TLSFENCE_RPTD TLSFENCE [unittest args]
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

TLSFENCED, RPTD, CLI = (os.path.abspath(p) for p in sys.argv[1:4])
PROGRAMS = {"tlsfenced": TLSFENCED, "tlsfence-rptd": RPTD, "tlsfence": CLI}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Running:
    """A daemon started in the background, its stderr in a file we can wait on."""

    def __init__(self, argv, tmp, env=None):
        self.log_path = os.path.join(tmp, "stderr-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log, env=env)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for(self, pattern, timeout=10.0, after=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if re.search(pattern, text[after:]):
                return text
            if self.proc.poll() is not None:
                raise AssertionError("exited (%s) before %r:\n%s" % (self.proc.returncode, pattern, self.text()))
            time.sleep(0.02)
        raise AssertionError("timeout waiting for %r:\n%s" % (pattern, self.text()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tlsfence-daemon.")
        os.chmod(self.tmp, 0o755)
        self.running = []

    def tearDown(self):
        for r in self.running:
            r.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text, mode="w"):
        path = os.path.join(self.tmp, name)
        with open(path, mode) as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def read(self, path):
        with open(path) as f:
            return f.read()

    def run_prog(self, program, *args):
        return subprocess.run([PROGRAMS[program], *args], capture_output=True, text=True, timeout=30,
                              errors="replace")

    def start(self, program, *args, env=None):
        r = Running([PROGRAMS[program], *args], self.tmp, env)
        self.running.append(r)
        return r

    def base_config(self, extra=""):
        return ("[daemon]\nuser =\nlog = stderr\nlog-level = info\n"
                "[socketmap]\nlisten = unix:%s/run/socketmap.sock\n"
                "[policy]\nlisten = inet:127.0.0.1:%d\n"
                "[milter]\nlisten =\n"
                "[tlsrpt]\nsocket =\ndb = %s/tlsrpt.db\noutbox = %s/reports\n%s") % (
                    self.tmp, free_port(), self.tmp, self.tmp, extra)

    def term_and_time(self, r):
        t0 = time.monotonic()
        r.proc.send_signal(signal.SIGTERM)
        rc = r.proc.wait(timeout=5)
        return rc, time.monotonic() - t0


class HelpVersion(Base):
    def test_help_lists_options(self):
        for name in PROGRAMS:
            with self.subTest(program=name):
                r = self.run_prog(name, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage: " + name, r.stdout)
                for opt in ("--config", "--dns.timeout", "--socketmap.listen", "--tlsrpt.sendmail-command"):
                    self.assertIn(opt, r.stdout)
        self.assertIn("report build --day YYYY-MM-DD", self.run_prog("tlsfence", "--help").stdout)

    def test_version(self):
        for name in PROGRAMS:
            with self.subTest(program=name):
                r = self.run_prog(name, "--version")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stdout, r"^%s \d+\.\d+\.\d+\n$" % re.escape(name))


class ConfigErrors(Base):
    def check(self, args, *needles):
        for name in PROGRAMS:
            with self.subTest(program=name, args=args):
                r = self.run_prog(name, *args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(name + ": config error: ", r.stderr)
                for n in needles:
                    self.assertIn(n, r.stderr)

    def test_unknown_key_in_file(self):
        path = self.write("c.conf", "[dns]\n# comment\ntimeot = 5\n")
        self.check(["--config", path], path + ":3:", '"dns.timeot"')

    def test_bad_number_and_range_in_file(self):
        path = self.write("c.conf", "[dns]\ntimeout = ten\n")
        self.check(["--config", path], path + ":2:", "dns.timeout", "not a whole number")
        path = self.write("d.conf", "[mta-sts]\n\nhttps-port = 70000\n")
        self.check(["--config", path], path + ":3:", "mta-sts.https-port", "out of range")

    def test_bad_enum_and_listen(self):
        path = self.write("c.conf", "[daemon]\nlog = file\n")
        self.check(["--config", path], path + ":2:", "daemon.log")
        path = self.write("d.conf", "[policy]\nlisten = inet:127.0.0.1\n")
        self.check(["--config", path], path + ":2:", "policy.listen")

    def test_command_line(self):
        self.check(["--config", "/dev/null", "--dns.timeout=0"], "command line", "dns.timeout")
        self.check(["--config", "/dev/null", "--dns.nosuch=1"], "--dns.nosuch")

    def test_missing_file(self):
        missing = os.path.join(self.tmp, "nope.conf")
        self.check(["--config", missing], "--config", missing)

    def test_garbage_file(self):
        path = self.write("g.conf", os.urandom(20000), mode="wb")
        self.check(["--config", path], path + ":")
        path = self.write("h.conf", "\x00\x01\x02 = \xff\n")
        self.check(["--config", path], path + ":1")

    def test_cli_usage_errors_exit_2(self):
        for args in (["frobnicate"], [], ["query"], ["explain", "a", "b"], ["report", "build", "--day", "x"]):
            with self.subTest(args=args):
                r = self.run_prog("tlsfence", "--config", "/dev/null", *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("tlsfence: ", r.stderr)


class Daemon(Base):
    def assert_policy_door_answers(self, port, host="127.0.0.1"):
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"request=smtpd_access_policy\nprotocol_state=CONNECT\n\n")
            reply = b""
            while not reply.endswith(b"\n\n"):
                chunk = s.recv(1000)
                if not chunk:
                    break
                reply += chunk
            self.assertEqual(reply, b"action=DUNNO\n\n")

    def test_listens_reloads_and_stops(self):
        conf = self.write("t.conf", self.base_config())
        port = int(re.search(r"inet:127\.0\.0\.1:(\d+)", self.read(conf)).group(1))
        r = self.start("tlsfenced", "--config", conf)
        r.wait_for(r"info: started ")
        sock_path = os.path.join(self.tmp, "run", "socketmap.sock")
        self.assertEqual(os.stat(sock_path).st_mode & 0o777, 0o660)
        # Both listeners accept and their doors answer: the socketmap door answers Postfix's
        # parent-domain probe without a lookup, the policy door a non-RCPT request with DUNNO.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(sock_path)
            s.sendall(b"22:tlspolicy .example.org,")
            self.assertEqual(s.recv(100), b"9:NOTFOUND ,")
        self.assert_policy_door_answers(port)

        # A good reload.
        n = len(r.text())
        r.proc.send_signal(signal.SIGHUP)
        r.wait_for(r"info: configuration reloaded file=" + re.escape(conf), after=n)
        # A broken reload is refused, naming the key; the daemon keeps serving.
        self.write("t.conf", self.base_config("[dns]\ntimeout = 0\n"))
        n = len(r.text())
        r.proc.send_signal(signal.SIGHUP)
        text = r.wait_for(r"configuration reload refused", after=n)
        self.assertRegex(text[n:], re.escape(conf) + r":\d+: dns\.timeout")
        self.assertIsNone(r.proc.poll())
        self.assert_policy_door_answers(port)

        rc, took = self.term_and_time(r)
        self.assertEqual(rc, 0, r.text())
        self.assertLess(took, 1.0)
        self.assertIn("info: stopped", r.text())
        self.assertFalse(os.path.exists(sock_path), "socket file left behind")

    def test_sd_notify(self):
        path = os.path.join(self.tmp, "notify.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(path)
            notify.settimeout(5)
            env = dict(os.environ, NOTIFY_SOCKET=path)
            r = self.start("tlsfenced", "--config", self.write("t.conf", self.base_config()), env=env)
            self.assertIn(b"READY=1", notify.recv(4096))
            r.proc.send_signal(signal.SIGHUP)
            self.assertIn(b"RELOADING=1", notify.recv(4096))
            self.assertIn(b"READY=1", notify.recv(4096))
            r.proc.send_signal(signal.SIGTERM)
            self.assertIn(b"STOPPING=1", notify.recv(4096))
            self.assertEqual(r.proc.wait(timeout=2), 0)

    def test_sigint_stops(self):
        r = self.start("tlsfenced", "--config", self.write("t.conf", self.base_config()))
        r.wait_for(r"info: started ")
        r.proc.send_signal(signal.SIGINT)
        self.assertEqual(r.proc.wait(timeout=2), 0)

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback")
    def test_ipv6_listener(self):
        port = free_port()
        r = self.start("tlsfenced", "--config", self.write("t.conf", self.base_config()),
                       "--policy.listen=inet:[::1]:%d" % port)
        r.wait_for(r"info: started ")
        self.assert_policy_door_answers(port, host="::1")

    def test_stale_socket_replaced(self):
        os.mkdir(os.path.join(self.tmp, "run"))
        sock_path = os.path.join(self.tmp, "run", "socketmap.sock")
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(sock_path)
        stale.close()  # the file stays, nobody listens
        r = self.start("tlsfenced", "--config", self.write("t.conf", self.base_config()))
        r.wait_for(r"info: started ")
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)

    def test_non_socket_file_not_replaced(self):
        os.mkdir(os.path.join(self.tmp, "run"))
        path = self.write("run/socketmap.sock", "precious")
        r = self.run_prog("tlsfenced", "--config", self.write("t.conf", self.base_config()))
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not a socket", r.stderr)
        self.assertEqual(self.read(path), "precious")

    def test_busy_port_is_fatal(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            r = self.run_prog("tlsfenced", "--config", self.write("t.conf", self.base_config()),
                              "--policy.listen=inet:127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("fatal start-up error", r.stderr)
        self.assertIn("inet:127.0.0.1:%d" % port, r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_drops_privileges_to_nobody(self):
        nobody = pwd.getpwnam("nobody")
        r = self.start("tlsfenced", "--config", self.write("t.conf", self.base_config()), "--daemon.user=nobody")
        r.wait_for(r"info: started ")
        self.assertIn("privileges dropped user=nobody", r.text())
        with open("/proc/%d/status" % r.proc.pid) as f:
            status = f.read()
        uids = re.search(r"(?m)^Uid:\s+(.*)$", status).group(1).split()
        gids = re.search(r"(?m)^Gid:\s+(.*)$", status).group(1).split()
        groups = re.search(r"(?m)^Groups:\s*(.*)$", status).group(1).split()
        self.assertEqual(uids, [str(nobody.pw_uid)] * 4)
        self.assertEqual(gids, [str(nobody.pw_gid)] * 4)
        self.assertNotIn("0", groups)
        # The socket belongs to the daemon's user and group, so the MTA's group can be given access.
        st = os.stat(os.path.join(self.tmp, "run", "socketmap.sock"))
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        rc, took = self.term_and_time(r)
        self.assertEqual(rc, 0, r.text())
        self.assertLess(took, 1.0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_unknown_or_root_user_is_fatal(self):
        conf = self.write("t.conf", self.base_config())
        r = self.run_prog("tlsfenced", "--config", conf, "--daemon.user=no-such-user-tlsfence")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user", r.stderr)
        r = self.run_prog("tlsfenced", "--config", conf, "--daemon.user=root")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is root", r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_non_root_cannot_switch_user(self):
        # Start as nobody with daemon.user=daemon: it must refuse rather than run as nobody.
        conf = self.write("t.conf", self.base_config().replace(self.tmp + "/run", self.tmp + "/run2"))
        os.mkdir(os.path.join(self.tmp, "run2"))
        os.chmod(os.path.join(self.tmp, "run2"), 0o777)
        nobody = pwd.getpwnam("nobody")

        def demote():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        r = subprocess.run([TLSFENCED, "--config", conf, "--daemon.user=daemon"], capture_output=True, text=True,
                           preexec_fn=demote, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("not root", r.stderr)


class Rptd(Base):
    def test_runs_reloads_and_stops(self):
        conf = self.write("t.conf", self.base_config())
        r = self.start("tlsfence-rptd", "--config", conf)
        r.wait_for(r"tlsfence-rptd\[\d+\] info: started ")
        n = len(r.text())
        r.proc.send_signal(signal.SIGHUP)
        r.wait_for(r"configuration reloaded", after=n)
        self.write("t.conf", self.base_config("[tlsrpt]\ndeliver = perhaps\n"))
        n = len(r.text())
        r.proc.send_signal(signal.SIGHUP)
        text = r.wait_for(r"configuration reload refused", after=n)
        self.assertIn("tlsrpt.deliver", text[n:])
        rc, took = self.term_and_time(r)
        self.assertEqual(rc, 0, r.text())
        self.assertLess(took, 1.0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_drops_privileges(self):
        # The sidecar opens tlsrpt.db after the drop, in its state directory — which belongs to
        # the daemon user, as systemd's StateDirectory= makes it.
        state = os.path.join(self.tmp, "state")
        os.mkdir(state)
        nobody = pwd.getpwnam("nobody")
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.tmp, 0o755)
        r = self.start("tlsfence-rptd", "--config", self.write("t.conf", self.base_config()), "--daemon.user=nobody",
                       "--tlsrpt.db=" + os.path.join(state, "tlsrpt.db"),
                       "--tlsrpt.outbox=" + os.path.join(state, "reports"))
        r.wait_for(r"info: started ")
        with open("/proc/%d/status" % r.proc.pid) as f:
            uids = re.search(r"(?m)^Uid:\s+(.*)$", f.read()).group(1).split()
        self.assertEqual(uids, [str(pwd.getpwnam("nobody").pw_uid)] * 4)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[4:], verbosity=2)
