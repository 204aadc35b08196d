"""Sendmail end to end: the Debian Sendmail 8.17 of the test world (tests/world/sendmail.sh,
unpacked privately beside Postfix) talking to tlsfenced.

Issue 5, "Must show": with `FEATURE(`sts')` pointing at tlsfenced's socketmap (an inet
listener), `sendmail -bt` `/map sts DOMAIN` gives `returns secure match=… servername=hostname
(0)` for the MTA-STS domain, `no match (68)` for a domain with no policy and `(75)` (TEMP) for a
domain whose DNSSEC is bogus.

Issue 6, "Must show": the running Sendmail with `INPUT_MAIL_FILTER` talking to tlsfenced's
milter accepts a normal message (and delivers it) and tempfails a recipient at expired.test
(bogus DNSSEC) when `reception.on-dnssec-bogus = defer`.

Run: python3 test_sendmail.py TLSFENCED TLSFENCE
"""

import sys

sys.dont_write_bytecode = True  # keep the source tree clean

import re

import e2elib
from e2elib import E2ETestCase, Sendmail, free_tcp_port, maildir_has, rcpt_refused_4xx, token

STS_POLICY = "secure match=mx1.sts.test:.mx.sts.test servername=hostname"


class SendmailBase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.sendmail = Sendmail()
        self.sendmail.install()
        self.sm_offset = self.sendmail.log_offset()

    def start_daemon_inet(self, *extra_args):
        port = free_tcp_port()
        return self.start_daemon(*extra_args, socketmap=f"inet:127.0.0.1:{port}")

    def _cleanup(self):
        if self._failed():
            sys.stderr.write(
                f"\n--- sendmail log during the test:\n{self.sendmail.log_since(self.sm_offset)[-6000:]}\n")
        super()._cleanup()


class SendmailStsMap(SendmailBase):
    def test_sendmail_map_sts_answers(self):
        daemon = self.start_daemon_inet()
        self.sendmail.cf(daemon.socketmap)
        answers, out = self.sendmail.ask("sts.test", "nosuch.test", "expired.test")
        self.assertIn("sts.test", answers, out)
        self.assertRegex(answers["sts.test"], re.escape(f"returns {STS_POLICY} (0)") + "$")
        self.assertIn("nosuch.test", answers, out)
        self.assertRegex(answers["nosuch.test"], r"no match \(68\)$")
        self.assertIn("expired.test", answers, out)
        self.assertRegex(answers["expired.test"], r"\(75\)$")


class SendmailMilter(SendmailBase):
    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon_inet("--reception.on-dnssec-bogus=defer")
        self.sendmail.cf(self.daemon.socketmap, self.daemon.milter)
        self.sendmail.run()
        self.addCleanup(self.sendmail.stop)

    def test_sendmail_milter_accepts_normal_message(self):
        subject = token("sm-normal")
        status, transcript = self.sendmail.send("probe@sender.test", "user@sts.test", subject)
        self.assertEqual(status, 0, f"Sendmail should accept the message:\n{transcript}")
        self.assertRegex(transcript, r"<-\s+250 2\.0\.0 \S+ Message accepted for delivery")
        # Sendmail delivers it (background mode), verified per tlsfenced's MTA-STS answer.
        self.assertTrue(
            e2elib.wait_until(lambda: maildir_has("sts.test", subject), e2elib.DELIVERY_TIMEOUT),
            "the message should reach sts.test's Maildir",
        )
        self.assertRegex(self.sendmail.log_since(self.sm_offset),
                         r"STARTTLS=client, relay=mx1\.sts\.test\., .*verify=OK")

    def test_sendmail_milter_tempfails_bogus_recipient(self):
        status, transcript = self.sendmail.send("probe@sender.test", "user@expired.test", token("sm-bogus"))
        self.assertTrue(rcpt_refused_4xx(transcript),
                        f"RCPT TO:<user@expired.test> should get a 4xx reply:\n{transcript}")
        self.assertNotRegex(transcript, r"Message accepted for delivery")
        # A broken milter connection (F=T) also tempfails: it must not pass for the decision.
        log = self.sendmail.log_since(self.sm_offset)
        self.assertNotRegex(log, r"Milter \(tlsfence\): (to error state|error)")
        self.assertRegex(log, r"milter=tlsfence, action=rcpt, (reject=4|tempfail)")


class SendmailControlWithoutMilter(SendmailBase):
    """Control: Sendmail alone accepts RCPT TO:<user@expired.test>, so the 4xx above is the
    milter's decision, not Sendmail's own DNS check."""

    def test_control_sendmail_alone_accepts_bogus_recipient(self):
        daemon = self.start_daemon_inet()
        self.sendmail.cf(daemon.socketmap)
        self.sendmail.run()
        self.addCleanup(self.sendmail.stop)
        status, transcript = self.sendmail.send("probe@sender.test", "user@expired.test", token("sm-ctl"))
        self.assertFalse(rcpt_refused_4xx(transcript), transcript)
        self.assertEqual(status, 0, transcript)


if __name__ == "__main__":
    e2elib.main()
