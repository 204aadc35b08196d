"""Issue 6, "Must show" — end to end with the real Postfix: forced TLS and early refusal at
reception, through both doors of tlsfenced.

tlsfenced runs with `--reception.forced-tls-sender=clinic@sender.test`. postfix-out also uses
tlsfenced's socketmap for delivery (as deployed: DANE and MTA-STS still tighten a forced-TLS
message per domain), and master.cf has the `tlsfence-encrypt` transport
(`smtp_tls_security_level=encrypt`).

Policy-delegation path (`smtpd_recipient_restrictions = check_policy_service unix:…`):
  forced sender → nostarttls.test: FILTER tlsfence-encrypt:, deferred "TLS is required, but was
  not offered"; forced sender → dane.test: delivered verified; an ordinary sender is not
  filtered; RCPT to expired.test (bogus DNSSEC): 4xx at RCPT with on-dnssec-bogus=defer,
  accepted with continue. (The policy door cannot see headers: `TLS-Required: No` is the
  milter's case.)
Milter path (`smtpd_milters = unix:…` + `milter_header_checks` turning `X-TLSfence: forced-tls`
into `FILTER tlsfence-encrypt:`): the same, plus `TLS-Required: No` → delivered in the clear.

Run: python3 test_postfix_reception.py TLSFENCED TLSFENCE
"""

import sys

sys.dont_write_bytecode = True  # keep the source tree clean

import os
import re
import subprocess

import e2elib
from e2elib import E2ETestCase, maildir_has, rcpt_refused_4xx, token

FORCED = "clinic@sender.test"
ORDINARY = "probe@sender.test"
HEADER_CHECK = "/^X-TLSfence: forced-tls/ FILTER tlsfence-encrypt:\n"


class ReceptionBase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.postfix.reset()
        self.addCleanup(self.postfix.reset)

    def name_forced_transport_in_log(self):
        # Postfix logs every smtp(8) as postfix/smtp unless told otherwise: name the forced-TLS
        # transport so its deliveries can be told apart (the next `set` reloads).
        subprocess.run(
            ["postconf", "-c", self.postfix.config_dir, "-P",
             "tlsfence-encrypt/unix/syslog_name=postfix/tlsfence-encrypt"],
            check=True, capture_output=True, text=True)

    def start_with(self, on_bogus="defer", *extra):
        self.name_forced_transport_in_log()
        self.daemon = self.start_daemon(
            f"--reception.forced-tls-sender={FORCED}",
            f"--reception.on-dnssec-bogus={on_bogus}",
            *extra,
        )
        return self.daemon

    def socketmap_setting(self):
        return f"socketmap:{self.daemon.socketmap}:tlspolicy"

    def send(self, sender, domain, label, *headers):
        subject = token(label)
        offset = self.postfix.log_offset()
        status, transcript, qid = self.postfix.send(sender, f"user@{domain}", subject, *headers)
        return subject, offset, status, transcript, qid

    def send_accepted(self, sender, domain, label, *headers):
        subject, offset, status, transcript, qid = self.send(sender, domain, label, *headers)
        self.assertEqual(status, 0, f"postfix-out should accept the message:\n{transcript}")
        self.assertIsNotNone(qid, transcript)
        return subject, offset, qid

    def delivery(self, qid, domain, offset):
        status, line, lines = self.postfix.delivery(qid, f"user@{domain}", offset)
        self.assertIsNotNone(status, f"no delivery status for {qid} to user@{domain} in the log")
        return status, line, lines

    # -- shared assertions
    def assert_door_answered(self, offset):
        """Postfix talked to tlsfenced without a protocol failure: a dead or broken door also
        gives 4xx replies (4.3.5 / milter_default_action), which must not pass for a decision."""
        text = self.postfix.log_since(offset)
        self.assertNotRegex(text, r"problem talking to server|warning: milter |"
                                  r"Server configuration problem")

    def assert_rcpt_deferred_by_door(self, transcript, offset, kind):
        self.assertTrue(rcpt_refused_4xx(transcript),
                        f"RCPT TO:<user@expired.test> should get a 4xx reply:\n{transcript}")
        self.assert_door_answered(offset)
        self.assertIsNotNone(
            self.postfix.wait_log(rf"NOQUEUE: {kind}: RCPT from .*: 4\d\d 4\.\d+\.\d+ .*"
                                  r"<user@expired\.test>", offset, 5),
            f"postfix-out should log the door's {kind} of the bogus-DNSSEC recipient")

    def assert_forced_deferred_no_starttls(self, qid, subject, offset):
        status, line, lines = self.delivery(qid, "nostarttls.test", offset)
        self.assertEqual(status, "deferred", line)
        self.assertTrue(line.startswith("postfix/tlsfence-encrypt/smtp["),
                        f"the forced-TLS transport should have handled it: {line}")
        self.assertRegex("\n".join(lines + [line]),
                         r"TLS is required, but was not offered by host mx1\.nostarttls\.test")
        self.assertIsNone(maildir_has("nostarttls.test", subject))

    def assert_forced_delivered_verified_dane(self, qid, subject, offset):
        status, line, lines = self.delivery(qid, "dane.test", offset)
        self.assertEqual(status, "sent", line)
        self.assertTrue(line.startswith("postfix/tlsfence-encrypt/smtp["), line)
        self.assertTrue(
            any("Verified TLS connection established to mx1.dane.test[" in l for l in lines),
            "\n".join(lines),
        )
        return e2elib.wait_until(lambda: maildir_has("dane.test", subject), 10)


class PolicyDoor(ReceptionBase):
    def assert_rcpt_filtered(self, domain, offset):
        # The queue file does not exist yet at RCPT time: Postfix logs NOQUEUE.
        line = self.postfix.wait_log(
            rf"NOQUEUE: filter: RCPT from .*<user@{re.escape(domain)}>: Recipient address triggers "
            rf"FILTER tlsfence-encrypt:; from=<{re.escape(FORCED)}>", offset, 5)
        self.assertIsNotNone(line, "the policy door should answer FILTER tlsfence-encrypt:")

    def configure(self, on_bogus="defer"):
        self.start_with(on_bogus)
        policy = self.daemon.policy
        self.postfix.set(
            smtp_tls_policy_maps=self.socketmap_setting(),
            smtpd_recipient_restrictions=f"check_policy_service {policy}, permit_mynetworks, reject",
        )

    def test_policy_forced_sender_to_nostarttls_not_delivered(self):
        self.configure()
        subject, offset, qid = self.send_accepted(FORCED, "nostarttls.test", "pol-forced-plain")
        self.assert_rcpt_filtered("nostarttls.test", offset)
        self.assert_forced_deferred_no_starttls(qid, subject, offset)

    def test_policy_forced_sender_to_dane_delivered_verified(self):
        self.configure()
        subject, offset, qid = self.send_accepted(FORCED, "dane.test", "pol-forced-dane")
        self.assert_rcpt_filtered("dane.test", offset)
        self.assertTrue(self.assert_forced_delivered_verified_dane(qid, subject, offset))

    def test_policy_ordinary_sender_not_forced(self):
        self.configure()
        subject, offset, qid = self.send_accepted(ORDINARY, "nostarttls.test", "pol-ordinary")
        status, line, _ = self.delivery(qid, "nostarttls.test", offset)
        self.assertEqual(status, "sent", line)
        self.assertTrue(line.startswith("postfix/smtp["), line)
        self.assertNotRegex(self.postfix.log_since(offset), r"filter: RCPT from")
        self.assertTrue(e2elib.wait_until(lambda: maildir_has("nostarttls.test", subject), 10))

    def test_policy_bogus_recipient_deferred_at_rcpt_when_defer(self):
        self.configure("defer")
        _, offset, status, transcript, qid = self.send(ORDINARY, "expired.test", "pol-bogus-defer")
        self.assert_rcpt_deferred_by_door(transcript, offset, "reject")
        self.assertIsNone(qid, transcript)

    def test_policy_bogus_recipient_accepted_when_continue(self):
        self.configure("continue")
        _, offset, status, transcript, qid = self.send(ORDINARY, "expired.test", "pol-bogus-continue")
        self.assert_door_answered(offset)
        self.assertFalse(rcpt_refused_4xx(transcript), transcript)
        self.assertEqual(status, 0, transcript)
        self.assertIsNotNone(qid, transcript)


class MilterDoor(ReceptionBase):
    """The milter door with its default engine (native: on tlsfenced's event loop); the last
    two tests repeat the key cases with `[milter] engine = libmilter`."""

    def configure(self, on_bogus="defer", engine=None):
        self.start_with(on_bogus, *([f"--milter.engine={engine}"] if engine else []))
        checks = os.path.join(self.daemon.dir, "milter_header_checks")
        with open(checks, "w") as f:
            f.write(HEADER_CHECK)
        os.chmod(checks, 0o644)
        self.postfix.set(
            smtp_tls_policy_maps=self.socketmap_setting(),
            smtpd_milters=self.daemon.milter,
            milter_default_action="tempfail",
            milter_header_checks=f"regexp:{checks}",
        )

    def assert_header_filtered(self, qid, offset):
        line = self.postfix.wait_log(
            rf"{qid}: milter-header-filter: header X-TLSfence: forced-tls\b.*: tlsfence-encrypt:$", offset, 5)
        self.assertIsNotNone(line, "cleanup should see the milter's X-TLSfence header and FILTER")

    def test_milter_forced_sender_to_nostarttls_not_delivered(self):
        self.configure()
        subject, offset, qid = self.send_accepted(FORCED, "nostarttls.test", "mil-forced-plain")
        self.assert_header_filtered(qid, offset)
        self.assert_forced_deferred_no_starttls(qid, subject, offset)

    def test_milter_forced_sender_to_dane_delivered_verified(self, engine=None):
        self.configure(engine=engine)
        subject, offset, qid = self.send_accepted(FORCED, "dane.test", "mil-forced-dane")
        self.assert_header_filtered(qid, offset)
        path = self.assert_forced_delivered_verified_dane(qid, subject, offset)
        self.assertTrue(path)
        with open(path, "rb") as f:
            self.assertRegex(f.read().decode("utf-8", "replace"), r"(?m)^X-TLSfence: forced-tls")

    def test_milter_tls_required_no_delivered(self):
        self.configure()
        subject, offset, qid = self.send_accepted(
            FORCED, "nostarttls.test", "mil-tlsreq-no", "TLS-Required: No")
        status, line, lines = self.delivery(qid, "nostarttls.test", offset)
        self.assertEqual(status, "sent", f"RFC 8689 TLS-Required: No must not be force-routed: {line}")
        self.assertTrue(line.startswith("postfix/smtp["), line)
        self.assertNotRegex(self.postfix.log_since(offset), rf"{qid}: (milter-header-)?filter:")
        path = e2elib.wait_until(lambda: maildir_has("nostarttls.test", subject), 10)
        self.assertTrue(path)
        with open(path, "rb") as f:
            self.assertNotRegex(f.read().decode("utf-8", "replace"), r"(?m)^X-TLSfence:")

    def test_milter_ordinary_sender_not_forced(self):
        self.configure()
        subject, offset, qid = self.send_accepted(ORDINARY, "nostarttls.test", "mil-ordinary")
        status, line, _ = self.delivery(qid, "nostarttls.test", offset)
        self.assertEqual(status, "sent", line)
        self.assertTrue(line.startswith("postfix/smtp["), line)

    def test_milter_bogus_recipient_tempfailed_at_rcpt_when_defer(self, engine=None):
        self.configure("defer", engine)
        _, offset, status, transcript, qid = self.send(ORDINARY, "expired.test", "mil-bogus-defer")
        self.assert_rcpt_deferred_by_door(transcript, offset, "milter-reject")
        self.assertIsNone(qid, transcript)

    def test_milter_bogus_recipient_accepted_when_continue(self):
        self.configure("continue")
        _, offset, status, transcript, qid = self.send(ORDINARY, "expired.test", "mil-bogus-continue")
        self.assert_door_answered(offset)
        self.assertFalse(rcpt_refused_4xx(transcript), transcript)
        self.assertEqual(status, 0, transcript)
        self.assertIsNotNone(qid, transcript)

    def test_milter_libmilter_engine_forced_sender_to_dane_delivered_verified(self):
        self.test_milter_forced_sender_to_dane_delivered_verified("libmilter")
        self.assertRegex(self.daemon.log_text(), r"milter door.*engine=libmilter")

    def test_milter_libmilter_engine_bogus_recipient_tempfailed_at_rcpt(self):
        self.test_milter_bogus_recipient_tempfailed_at_rcpt_when_defer("libmilter")
        self.assertRegex(self.daemon.log_text(), r"milter door.*engine=libmilter")

    def test_milter_daemon_stops_cleanly_on_sigterm(self):
        self.configure()
        subject, offset, qid = self.send_accepted(ORDINARY, "nostarttls.test", "mil-stop")
        self.delivery(qid, "nostarttls.test", offset)
        self.postfix.reset()  # Postfix lets go of the milter first
        self.stop_daemon(self.daemon)


if __name__ == "__main__":
    e2elib.main()
