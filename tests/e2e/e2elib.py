"""Shared helpers of the end-to-end tests (tests/e2e): the real Postfix and Sendmail of the
loopback test world (tests/world/DOMAINS.md) talking to a tlsfenced started by the test.

Every test script is run as

    python3 test_x.py TLSFENCED TLSFENCE [unittest arguments...]

(ctest passes the built binaries). The world must be up (ctest fixture `world`, or
tests/world/up.sh by hand); its state directory is $TLSFENCE_WORLD_RUN (default
/tmp/tlsfence-world) and its variables come from $TLSFENCE_WORLD_RUN/world.env.

What is here:
  world()                       the world.env variables as a dict
  Tlsfenced(...)                tlsfenced in the foreground on a fresh temp dir: unix
                                sockets for the three doors, its own cache.db, stderr to a
                                log file; stop() sends SIGTERM and checks exit status 0
  tlsfence_cli(...)             run `tlsfence --config … SUBCOMMAND …`
  PostfixOut                    tests/world/postfix-out.sh (set/reset/clear/flush), a swaks
                                send that returns the queue id, waiting for a delivery
                                status line in the log, the TLS line of that delivery
  maildir_has(domain, token)    did a message containing token reach $RUN/mail/<domain>/?
  Sendmail                      tests/world/sendmail.sh (cf, ask, run, send, stop)
  E2ETestCase                   unittest.TestCase that prints the daemon's log and the
                                relevant part of the MTA's log when a test fails
"""

import grp
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
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_DIR = os.path.normpath(os.path.join(HERE, "..", "world"))
RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")

# Set by main() from the command line.
TLSFENCED = None
TLSFENCE = None

# A delivery attempt or a lookup in the world takes well under a second; these are ceilings.
DELIVERY_TIMEOUT = 30.0
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0  # libmilter notices SIGTERM only after about 5 s


# ----------------------------------------------------------------------------- the world

_world_cache = None


def world():
    """The variables of $RUN/world.env (shell syntax, KEY=VALUE lines)."""
    global _world_cache
    if _world_cache is None:
        path = os.path.join(RUN, "world.env")
        if not os.path.exists(path):
            raise unittest.SkipTest(f"no test world: {path} is missing (run tests/world/up.sh)")
        env = {}
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                key, _, value = line.partition("=")
                env[key] = value.strip("'\"")
        _world_cache = env
    return _world_cache


def world_script(name, *args, check=True, timeout=120, input_text=None):
    """Run tests/world/NAME with args; returns the CompletedProcess (text)."""
    env = dict(os.environ, TLSFENCE_WORLD_RUN=RUN)
    proc = subprocess.run(
        [os.path.join(WORLD_DIR, name), *args],
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{name} {' '.join(args)} failed with status {proc.returncode}:\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc


def token(label):
    """A unique marker to put in a message's Subject and find again in a Maildir."""
    return f"e2e-{label}-{uuid.uuid4().hex[:12]}"


def wait_until(predicate, timeout, interval=0.1):
    """Poll predicate until it returns something true; returns it, or None on timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            return None
        time.sleep(interval)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- tlsfenced


def _connectable(spec):
    kind, _, rest = spec.partition(":")
    try:
        if kind == "unix":
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(rest)
        else:
            host, _, port = rest.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
                pass
        return True
    except OSError:
        return False


class Tlsfenced:
    """tlsfenced in the foreground with the world's config, on a fresh directory under
    $WORLD_TLSFENCE_DIR: unix sockets sm.sock, policy.sock, milter.sock (unless other listen
    specs are given), cache.db, and its stderr in tlsfenced.log."""

    def __init__(self, *extra_args, socketmap=None, policy=None, milter=None):
        w = world()
        base = w.get("WORLD_TLSFENCE_DIR", os.path.join(RUN, "tlsfence"))
        os.makedirs(base, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="e2e-", dir=base)
        # Postfix's smtp/smtpd processes (user postfix) must reach the sockets in here.
        os.chmod(self.dir, 0o755)
        self.conf = w["WORLD_TLSFENCE_CONF"]
        self.cache_db = os.path.join(self.dir, "cache.db")
        self.socketmap = socketmap or "unix:" + os.path.join(self.dir, "sm.sock")
        self.policy = policy or "unix:" + os.path.join(self.dir, "policy.sock")
        self.milter = milter or "unix:" + os.path.join(self.dir, "milter.sock")
        self.log_path = os.path.join(self.dir, "tlsfenced.log")
        self.args = [
            TLSFENCED,
            "--config", self.conf,
            f"--socketmap.listen={self.socketmap}",
            f"--policy.listen={self.policy}",
            f"--milter.listen={self.milter}",
            f"--cache.db={self.cache_db}",
            "--daemon.user=",
            *extra_args,
        ]
        self.proc = None
        self._log = None

    # The path of a unix listen spec (None for inet).
    @staticmethod
    def path_of(spec):
        return spec[len("unix:"):] if spec.startswith("unix:") else None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        specs = [self.socketmap, self.policy, self.milter]
        ok = wait_until(
            lambda: self.proc.poll() is not None or all(_connectable(s) for s in specs),
            START_TIMEOUT,
        )
        if self.proc.poll() is not None or not ok:
            self.kill()
            raise AssertionError(
                f"tlsfenced did not come up (status {self.proc.returncode}); "
                f"command: {' '.join(self.args)}\n--- its log:\n{self.log_text()}"
            )
        # The daemon stays root here (daemon.user empty), so its unix sockets are root's;
        # in production Postfix reaches them through the daemon's group. Do the same: give the
        # sockets to group postfix.
        postfix_gid = grp.getgrnam("postfix").gr_gid
        for spec in specs:
            path = self.path_of(spec)
            if path:
                os.chown(path, -1, postfix_gid)
                os.chmod(path, os.stat(path).st_mode & 0o7777 | 0o060)
        return self

    def stop(self):
        """SIGTERM; returns (exit status, seconds it took). None status: did not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else 0), 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None, time.monotonic() - t0
        return self.proc.returncode, time.monotonic() - t0

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._log:
            self._log.close()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def socketmap_query(self, name, key, timeout=15):
        """One raw socketmap request to this daemon; returns the decoded reply."""
        path = self.path_of(self.socketmap)
        if path:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(path)
        else:
            host, _, port = self.socketmap[len("inet:"):].rpartition(":")
            s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        with s:
            q = f"{name} {key}".encode()
            s.sendall(b"%d:%s," % (len(q), q))
            data = b""
            while True:
                m = re.match(rb"(\d+):", data)
                if m and len(data) >= m.end() + int(m.group(1)) + 1:
                    return data[m.end(): m.end() + int(m.group(1))].decode()
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError(f"socketmap closed the connection; got {data!r}")
                data += chunk


def tlsfence_cli(daemon, *args, timeout=60):
    """`tlsfence` with the same config and cache file as the daemon; CompletedProcess."""
    cmd = [TLSFENCE, "--config", daemon.conf, f"--cache.db={daemon.cache_db}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# ----------------------------------------------------------------------------- Postfix

_STATUS_RE = r"(?P<tag>postfix/[\w./-]+\[\d+\]): (?P<qid>{qid}): to=<{rcpt}>,.* status=(?P<status>\w+).*"


class PostfixOut:
    """The world's sending Postfix (127.0.0.1:2525), driven through tests/world/postfix-out.sh."""

    def __init__(self):
        w = world()
        self.config_dir = w["WORLD_POSTFIX_OUT"]
        self.log_path = w["WORLD_POSTFIX_OUT_LOG"]

    # -- configuration
    def reset(self):
        """Back to the shipped config, empty queue."""
        world_script("postfix-out.sh", "reset")
        self.clear()

    def set(self, **settings):
        world_script("postfix-out.sh", "set", *(f"{k}={v}" for k, v in settings.items()))

    def clear(self):
        world_script("postfix-out.sh", "clear")

    def flush(self):
        world_script("postfix-out.sh", "flush", check=False)

    def postconf(self, name):
        p = subprocess.run(
            ["postconf", "-c", self.config_dir, "-h", name], capture_output=True, text=True
        )
        return p.stdout.strip()

    # -- the log
    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, regex, offset, timeout=DELIVERY_TIMEOUT):
        """The first match of regex (re.M) in the log after byte offset, or None."""
        rx = re.compile(regex, re.M)
        return wait_until(lambda: rx.search(self.log_since(offset)), timeout)

    # -- mail
    def send(self, sender, rcpt, subject, *headers, body="end-to-end test of tlsfence"):
        """swaks to postfix-out. Returns (swaks status, transcript, queue id or None)."""
        args = [sender, rcpt, "--header", f"Subject: {subject}", "--body", body]
        for h in headers:
            args += ["--add-header", h]
        p = world_script("postfix-out.sh", "send", *args, check=False, timeout=90)
        transcript = p.stdout + p.stderr
        m = re.search(r"<-\s+250 .*queued as (\w+)", transcript)
        return p.returncode, transcript, (m.group(1) if m else None)

    def wait_status(self, qid, rcpt, offset, timeout=DELIVERY_TIMEOUT):
        """Wait for the delivery status line of qid/rcpt after offset.
        Returns the match (groups tag, qid, status; .group(0) the line) or None."""
        rx = _STATUS_RE.format(qid=re.escape(qid), rcpt=re.escape(rcpt))
        return self.wait_log(rx, offset, timeout)

    def lines_of(self, tag, offset, until=None):
        """Log lines after offset written by the process tagged tag (e.g. postfix/smtp[123])."""
        text = self.log_since(offset)
        if until is not None:
            text = text[:until]
        return [line for line in text.splitlines() if f" {tag}: " in line]

    def delivery(self, qid, rcpt, offset, timeout=DELIVERY_TIMEOUT):
        """(status, status line, the lines that delivery process logged up to it)."""
        m = self.wait_status(qid, rcpt, offset, timeout)
        if m is None:
            return None, None, []
        lines = self.lines_of(m.group("tag"), offset, until=m.end())
        return m.group("status"), m.group(0), lines

    def queue(self):
        return world_script("postfix-out.sh", "queue", check=False).stdout


def maildir_files(domain):
    base = os.path.join(world()["WORLD_MAIL"], domain)
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in os.listdir(d)]
    return out


def maildir_has(domain, marker):
    """The Maildir file of domain that contains marker, or None."""
    needle = marker.encode()
    for path in maildir_files(domain):
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    return path
        except OSError:
            pass
    return None


# ----------------------------------------------------------------------------- Sendmail


class Sendmail:
    """The unpacked Debian Sendmail of the world (tests/world/sendmail.sh)."""

    def __init__(self):
        self.log_path = os.path.join(world()["WORLD_LOG"], "sendmail.log")
        self.port = int(world().get("WORLD_SENDMAIL_PORT", "2526"))

    def install(self):
        p = world_script("sendmail.sh", "install", check=False, timeout=300)
        if p.returncode != 0:
            raise unittest.SkipTest(f"Sendmail cannot be unpacked here: {p.stderr.strip()}")

    def cf(self, socketmap, milter=None):
        world_script("sendmail.sh", "cf", socketmap, *([milter] if milter else []))

    def ask(self, *domains):
        """`/map sts DOMAIN` answers: {domain: answer line}."""
        out = world_script("sendmail.sh", "ask", *domains, timeout=120).stdout
        answers = {}
        for line in out.splitlines():
            m = re.search(r"map_lookup: sts \(([^)]*)\)", line)
            if m:
                answers[m.group(1)] = line.strip()
        return answers, out

    def run(self):
        world_script("sendmail.sh", "run", timeout=60)

    def stop(self):
        world_script("sendmail.sh", "stop", check=False)

    def send(self, sender, rcpt, subject, *headers):
        args = [sender, rcpt, "--header", f"Subject: {subject}"]
        for h in headers:
            args += ["--add-header", h]
        p = world_script("sendmail.sh", "send", *args, check=False, timeout=90)
        return p.returncode, p.stdout + p.stderr

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


# ----------------------------------------------------------------------------- TestCase


def rcpt_refused_4xx(transcript):
    """swaks' transcript shows a 4xx reply to RCPT TO."""
    return re.search(r"^\s*->\s+RCPT TO:.*\n\s*<\*\*\s+4\d\d", transcript, re.M) is not None


class E2ETestCase(unittest.TestCase):
    """Keeps the daemons and MTA log offsets of a test so a failure shows the evidence."""

    maxDiff = None

    def setUp(self):
        self.daemons = []
        self.postfix = PostfixOut()
        self.pf_offset = self.postfix.log_offset()
        self.addCleanup(self._cleanup)

    def start_daemon(self, *extra_args, **specs):
        d = Tlsfenced(*extra_args, **specs)
        self.daemons.append(d)
        return d.start()

    def stop_daemon(self, d):
        status, secs = d.stop()
        self.assertEqual(
            status, 0,
            f"tlsfenced should exit 0 within {STOP_TIMEOUT:.0f} s of SIGTERM "
            f"(status {status} after {secs:.1f} s)\n--- its log:\n{d.log_text()[-4000:]}",
        )

    def _cleanup(self):
        failed = self._failed()
        for d in self.daemons:
            if failed:
                sys.stderr.write(f"\n--- tlsfenced log ({d.log_path}):\n{d.log_text()[-8000:]}\n")
            d.cleanup()
        if failed:
            sys.stderr.write(
                f"\n--- postfix-out log during the test:\n{self.postfix.log_since(self.pf_offset)[-8000:]}\n"
            )

    def _failed(self):
        # unittest records a failed part of the test in _outcome.success (Python 3.11).
        outcome = getattr(self, "_outcome", None)
        return outcome is not None and not getattr(outcome, "success", True)


def main():
    """python3 test_x.py TLSFENCED TLSFENCE [unittest args]"""
    global TLSFENCED, TLSFENCE
    if len(sys.argv) < 3:
        sys.stderr.write(f"usage: {sys.argv[0]} TLSFENCED TLSFENCE [unittest args]\n")
        sys.exit(2)
    TLSFENCED, TLSFENCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        sys.stderr.write("the end-to-end tests need root (the test world)\n")
        sys.exit(2)
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
