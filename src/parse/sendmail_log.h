#pragma once
// Sendmail log lines that matter for TLS-RPT: the client side STARTTLS summary
//   sm-mta[PID]: QID: STARTTLS=client, relay=mx.example.com., version=TLSv1.3, verify=OK, cipher=…,
//   bits=256/256
// the certificate line that follows it at LogLevel 12 and above (OpenSSL's verify text)
//   sm-mta[PID]: STARTTLS=client, cert-subject=…, cert-issuer=…, verifymsg=certificate has expired
// the "QID: from=<…>, …, msgid=<…>" line of a message taken in, and the delivery line of the
// same process
//   sm-mta[PID]: QID: to=<a@example.com>, …, mailer=esmtp, …, relay=mx.example.com. [192.0.2.1], dsn=2.0.0,
//   stat=Sent (…)
// Pure and allocation-free (views into the line), like parse/postfix_log.h.
#include <cstdint>
#include <optional>
#include <string_view>

#include "parse/postfix_log.h"
#include "tlsfence/tlsrpt_result.h"

namespace tlsfence::parse {

// queued: the "QID: from=<…>, size=…, msgid=<ID>, …" line of a message taken in (the
// correlator recognises the sidecar's own report mail by its Message-ID).
enum class SendmailEventKind { starttls_client, starttls_cert, delivery, queued };

struct SendmailEvent {
  SendmailEventKind kind = SendmailEventKind::delivery;
  SyslogTime time;
  std::string_view program;  // "sm-mta", "sendmail"
  std::uint32_t pid = 0;
  std::string_view queue_id;  // may be empty on a STARTTLS line

  // Relay: host without its trailing dot; ip when the line gives one.
  std::string_view host, ip;

  // starttls_client
  std::string_view version, verify, cipher;
  // What verify= means for TLS-RPT: nullopt = the handshake is a success (OK, TRUSTED, and
  // NO: nothing was asked to be verified); otherwise the failure it stands for.
  std::optional<TlsrptResult> result;
  // True when verify= is a certificate result that is a failure only if the domain's
  // policy required authentication (FAIL under opportunistic TLS is still a TLS session).
  bool failure_needs_policy = false;

  // starttls_cert: verifymsg= (X509_verify_cert_error_string, "ok" when it verified). result
  // is set only when the text names a certificate failure more precisely than verify=FAIL
  // (certificate-expired, certificate-host-mismatch, certificate-not-trusted,
  // validation-failure); host and ip stay empty (the line names none).
  std::string_view verifymsg;

  // queued: msgid= without <>
  std::string_view message_id;

  // delivery
  std::string_view recipients;  // the to= value (may hold several comma-separated addresses)
  std::string_view first_recipient_domain;
  std::string_view mailer, dsn, stat, stat_text;
};

std::optional<SendmailEvent> parse_sendmail_line(std::string_view line);

}  // namespace tlsfence::parse
