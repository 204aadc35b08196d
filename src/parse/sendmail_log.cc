// Sendmail log line parser (sendmail 8.15+ "STARTTLS=client" summaries, their certificate
// lines and delivery lines).
// verify= values (op.me / sendmail/tls.c): OK, TRUSTED, NO, NONE, FAIL, SOFTWARE, PROTOCOL,
// TEMP, DANE_FAIL, DANE_NOTLS, DANE_TEMP. Trusts nothing: any bytes are valid input.
#include "parse/sendmail_log.h"

#include "parse/ascii.h"

namespace tlsfence::parse {
namespace {

using ascii::consume;
using ascii::is_alnum;
using ascii::is_alpha;
using ascii::is_digit;
using ascii::is_wsp;

// Value of "key=" (at the start or after ", ") up to the next ", ".
std::string_view field(std::string_view m, std::string_view key) {
  std::size_t pos = 0;
  while (true) {
    pos = m.find(key, pos);
    if (pos == std::string_view::npos) return {};
    if (pos == 0 || (pos >= 2 && m[pos - 2] == ',' && m[pos - 1] == ' ')) break;
    pos += key.size();
  }
  std::string_view v = m.substr(pos + key.size());
  return v.substr(0, v.find(", "));
}

// "mx.example.com." or "mx.example.com. [192.0.2.1]" or "[192.0.2.1]".
void split_relay(std::string_view relay, std::string_view& host, std::string_view& ip) {
  auto open = relay.find('[');
  std::string_view name = relay.substr(0, open);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  host = name;
  if (open != std::string_view::npos) {
    auto close = relay.find(']', open);
    if (close != std::string_view::npos) ip = relay.substr(open + 1, close - open - 1);
    if (host.empty()) host = {};
  }
}

void classify_verify(SendmailEvent& ev) {
  std::string_view v = ev.verify;
  if (v == "OK" || v == "TRUSTED" || v == "NO") return;
  if (v == "FAIL") {
    ev.result = TlsrptResult::certificate_not_trusted;
    ev.failure_needs_policy = true;
  } else if (v == "DANE_FAIL") {  // no TLSA record matched: as Postfix 3.10 reports it
    ev.result = TlsrptResult::certificate_not_trusted;
  } else if (v == "DANE_NOTLS" || v == "NONE") {
    ev.result = TlsrptResult::starttls_not_supported;
  } else if (v == "DANE_TEMP") {
    ev.result = TlsrptResult::tlsa_invalid;
  } else {  // SOFTWARE, PROTOCOL, TEMP and anything unknown: the handshake failed
    ev.result = TlsrptResult::validation_failure;
  }
}

// verifymsg= text → the certificate failure it names (OpenSSL's X509_verify_cert_error_string
// texts, the same Postfix logs); nothing for "ok" or a text that says no more than FAIL.
std::optional<TlsrptResult> classify_verifymsg(std::string_view msg) {
  if (msg.empty() || msg == "ok") return std::nullopt;
  const auto r = classify_postfix_reason(msg);
  if (r == TlsrptResult::certificate_expired || r == TlsrptResult::certificate_host_mismatch ||
      r == TlsrptResult::certificate_not_trusted || r == TlsrptResult::validation_failure)
    return r;
  return std::nullopt;
}

}  // namespace

std::optional<SendmailEvent> parse_sendmail_line(std::string_view line) {
  // Fast rejection: both kinds carry one of these markers.
  bool tls = line.find("STARTTLS=client") != std::string_view::npos;
  if (!tls && line.find("stat=") == std::string_view::npos && line.find(", msgid=") == std::string_view::npos)
    return std::nullopt;
  auto sys = parse_syslog_line(line);
  if (!sys || sys->pid == 0) return std::nullopt;
  SendmailEvent ev;
  ev.time = sys->time;
  ev.program = sys->program;
  ev.pid = sys->pid;
  std::string_view m = sys->message;
  // Optional queue id: "2AMFlo1a001234: "
  std::size_t i = 0;
  while (i < m.size() && i < 32 && is_alnum(m[i])) ++i;
  if (i >= 5 && i + 1 < m.size() && m[i] == ':' && m[i + 1] == ' ') {
    ev.queue_id = m.substr(0, i);
    m.remove_prefix(i + 2);
  }
  if (consume(m, "STARTTLS=client, cert-subject=")) {
    // cert-subject and cert-issuer are the peer's text: verifymsg is the last field
    const auto at = m.rfind(", verifymsg=");
    if (at == std::string_view::npos) return std::nullopt;
    ev.verifymsg = m.substr(at + 12);
    ev.result = classify_verifymsg(ev.verifymsg);
    ev.kind = SendmailEventKind::starttls_cert;
    return ev;
  }
  if (consume(m, "STARTTLS=client, ")) {
    std::string_view relay = field(m, "relay=");
    split_relay(relay, ev.host, ev.ip);
    ev.version = field(m, "version=");
    ev.verify = field(m, "verify=");
    ev.cipher = field(m, "cipher=");
    if (ev.verify.empty()) return std::nullopt;
    classify_verify(ev);
    ev.kind = SendmailEventKind::starttls_client;
    return ev;
  }
  if (!ev.queue_id.empty() && consume(m, "from=")) {
    std::string_view id = field(m, "msgid=");
    if (!id.empty() && id.front() == '<') id.remove_prefix(1);
    if (!id.empty() && id.back() == '>') id.remove_suffix(1);
    if (id.empty()) return std::nullopt;
    ev.message_id = id;
    ev.kind = SendmailEventKind::queued;
    return ev;
  }
  if (ev.queue_id.empty() || !consume(m, "to=")) return std::nullopt;
  // to= may hold several addresses separated by ","; it ends at ", " followed by a key.
  auto ctl = m.find(", ");
  while (ctl != std::string_view::npos) {
    std::string_view after = m.substr(ctl + 2);
    auto eq = after.find('=');
    auto sp = after.find(' ');
    if (eq != std::string_view::npos && (sp == std::string_view::npos || eq < sp)) break;
    ctl = m.find(", ", ctl + 2);
  }
  if (ctl == std::string_view::npos) return std::nullopt;
  ev.recipients = m.substr(0, ctl);
  std::string_view rest = m.substr(ctl);
  std::string_view first = ev.recipients.substr(0, ev.recipients.find(','));
  if (!first.empty() && first.front() == '<') first.remove_prefix(1);
  if (!first.empty() && first.back() == '>') first.remove_suffix(1);
  auto at = first.rfind('@');
  if (at != std::string_view::npos) ev.first_recipient_domain = first.substr(at + 1);
  ev.mailer = field(rest, "mailer=");
  ev.dsn = field(rest, "dsn=");
  split_relay(field(rest, "relay="), ev.host, ev.ip);
  auto st = rest.find(", stat=");
  if (st == std::string_view::npos) return std::nullopt;
  std::string_view stat = rest.substr(st + 7);
  auto sp = stat.find(' ');
  ev.stat = stat.substr(0, sp);
  if (sp != std::string_view::npos) {
    std::string_view text = stat.substr(sp + 1);
    if (!text.empty() && text.front() == '(') text.remove_prefix(1);
    if (!text.empty() && text.back() == ')') text.remove_suffix(1);
    ev.stat_text = text;
  }
  if (ev.stat.empty()) return std::nullopt;
  ev.kind = SendmailEventKind::delivery;
  return ev;
}

}  // namespace tlsfence::parse
