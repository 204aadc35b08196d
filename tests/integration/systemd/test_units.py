#!/usr/bin/env python3
"""systemd units: `systemd-analyze verify` passes (offline, ExecStart pointed at the built
binaries) and `systemd-analyze security --offline=true` rates both units' exposure <= 1.5.

Usage: test_units.py UNIT_DIR TLSFENCED TLSFENCE_RPTD
Exit 77 (ctest SKIP) only when systemd-analyze is not installed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

UNIT_DIR, TLSFENCED, RPTD = sys.argv[1:4]
ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 1.5


def fixed_copy(tmp, name, binary):
    """The unit with /usr/sbin/PROGRAM replaced by the built binary (verify checks it exists)."""
    with open(os.path.join(UNIT_DIR, name)) as f:
        text = f.read()
    program = os.path.basename(binary)
    assert "/usr/sbin/" + program in text, name
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text.replace("/usr/sbin/" + program, os.path.abspath(binary)))
    return path


class Units(unittest.TestCase):
    UNITS = (("tlsfenced.service", TLSFENCED), ("tlsfence-rptd.service", RPTD))

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tlsfence-units.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_verify(self):
        for name, binary in self.UNITS:
            with self.subTest(unit=name):
                path = fixed_copy(self.tmp, name, binary)
                r = subprocess.run([ANALYZE, "verify", path], cwd=self.tmp, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertNotIn(name, r.stderr, "verify complained: " + r.stderr)

    def test_security_exposure(self):
        for name, _ in self.UNITS:
            with self.subTest(unit=name):
                path = os.path.join(UNIT_DIR, name)
                r = subprocess.run([ANALYZE, "security", "--offline=true", path],
                                   cwd=self.tmp, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
                self.assertIsNotNone(m, r.stdout[-500:])
                self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, name)

    def test_units_name_the_dedicated_user_and_directories(self):
        for name, _ in self.UNITS:
            with open(os.path.join(UNIT_DIR, name)) as f:
                text = f.read()
            for line in ("Type=notify", "User=tlsfence", "RuntimeDirectory=tlsfence", "RuntimeDirectoryMode=0750",
                         "StateDirectory=tlsfence", "ExecReload=/bin/kill -HUP $MAINPID", "CapabilityBoundingSet=\n",
                         "SystemCallFilter=@system-service", "NoNewPrivileges=yes", "ProtectSystem=strict"):
                self.assertIn(line, text, name)
        with open(os.path.join(UNIT_DIR, "tlsfence.sysusers.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^u tlsfence ")


if __name__ == "__main__":
    if ANALYZE is None:
        print("SKIP: systemd-analyze is not installed (package systemd)")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
