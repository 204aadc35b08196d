// Postfix smtp(8) log line parser. Line formats follow Postfix's own sources (3.7 and 3.10):
// tls_misc.c tls_log_summary(), tls_verify.c tls_log_verify_error(), smtp_proto.c,
// smtp_trouble.c (non-final "QID: reason" notes), tlsrpt_wrapper.c ("TLSRPT: status=…").
// Trusts nothing: any byte sequence is a valid input; the answer is an event or nullopt.
#include "parse/postfix_log.h"

#include <array>

#include "parse/ascii.h"

namespace tlsfence::parse {
namespace {

using ascii::consume;
using ascii::is_alnum;
using ascii::is_alpha;
using ascii::is_digit;
using ascii::is_wsp;

// Exactly n digits at s[pos]; -1 otherwise.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!is_digit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

int month_number(std::string_view m) {
  static constexpr std::array<std::string_view, 12> names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == m) return static_cast<int>(i) + 1;
  return 0;
}

bool valid_clock(const SyslogTime& t) {
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.hour >= 0 && t.hour <= 23 &&
         t.minute >= 0 && t.minute <= 59 && t.second >= 0 && t.second <= 60;
}

// "Nov 22 06:47:50 " (day may be space-padded). Returns the rest after the space.
std::optional<std::string_view> parse_traditional(std::string_view s, SyslogTime& t) {
  if (s.size() < 16 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' || s[15] != ' ')
    return std::nullopt;
  t.month = month_number(s.substr(0, 3));
  t.day = s[4] == ' ' ? digits(s, 5, 1) : digits(s, 4, 2);
  t.hour = digits(s, 7, 2);
  t.minute = digits(s, 10, 2);
  t.second = digits(s, 13, 2);
  if (!valid_clock(t)) return std::nullopt;
  return s.substr(16);
}

// "2026-11-22T06:47:50[.frac](Z|±hh:mm) "
std::optional<std::string_view> parse_rfc3339(std::string_view s, SyslogTime& t) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  t.year = digits(s, 0, 4);
  t.month = digits(s, 5, 2);
  t.day = digits(s, 8, 2);
  t.hour = digits(s, 11, 2);
  t.minute = digits(s, 14, 2);
  t.second = digits(s, 17, 2);
  if (t.year < 0 || !valid_clock(t)) return std::nullopt;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return std::nullopt;
  }
  if (i >= s.size()) return std::nullopt;
  if (s[i] == 'Z' || s[i] == 'z') {
    t.has_offset = true;
    t.offset_seconds = 0;
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int hh = digits(s, i + 1, 2);
    int mm = digits(s, i + 4, 2);
    if (hh < 0 || mm < 0 || s.size() < i + 6 || s[i + 3] != ':' || hh > 23 || mm > 59) return std::nullopt;
    t.has_offset = true;
    t.offset_seconds = (s[i] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i >= s.size() || s[i] != ' ') return std::nullopt;
  return s.substr(i + 1);
}

// The last component of the program name ("postfix-out/smtp" → "smtp").
std::string_view service_of(std::string_view program) {
  auto slash = program.rfind('/');
  return slash == std::string_view::npos ? program : program.substr(slash + 1);
}

// HOST[IP] or HOST[IP]:PORT at the front of s; advances s past it.
bool take_peer(std::string_view& s, std::string_view& host, std::string_view& ip, std::uint16_t& port) {
  auto open = s.find('[');
  if (open == std::string_view::npos) return false;
  auto close = s.find(']', open + 1);
  if (close == std::string_view::npos) return false;
  host = s.substr(0, open);
  ip = s.substr(open + 1, close - open - 1);
  if (host.find(' ') != std::string_view::npos || ip.empty() || ip.find(' ') != std::string_view::npos)
    return false;
  s.remove_prefix(close + 1);
  port = 0;
  if (!s.empty() && s[0] == ':' && s.size() > 1 && is_digit(s[1])) {
    std::size_t i = 1;
    std::uint32_t p = 0;
    while (i < s.size() && is_digit(s[i]) && i < 7) p = p * 10 + static_cast<std::uint32_t>(s[i++] - '0');
    if (p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
    s.remove_prefix(i);
  }
  return true;
}

// "Verified TLS connection established to mx[ip]:25: TLSv1.3 with cipher X (256/256 bits) …"
std::optional<PostfixEvent> parse_tls_connection(std::string_view m, PostfixEvent ev) {
  if (consume(m, "Verified ")) {
    ev.trust = TlsTrust::verified;
  } else if (consume(m, "Trusted ")) {
    ev.trust = TlsTrust::trusted;
  } else if (consume(m, "Untrusted ")) {
    ev.trust = TlsTrust::untrusted;
  } else if (consume(m, "Anonymous ")) {
    ev.trust = TlsTrust::anonymous;
  } else {
    return std::nullopt;
  }
  if (!consume(m, "TLS connection ")) return std::nullopt;
  if (consume(m, "established to ")) {
    ev.reused = false;
  } else if (consume(m, "reused to ")) {
    ev.reused = true;
  } else {
    return std::nullopt;  // "… from …" is the server side (smtpd)
  }
  if (!take_peer(m, ev.host, ev.ip, ev.port) || !consume(m, ": ")) return std::nullopt;
  auto with = m.find(" with cipher ");
  if (with == std::string_view::npos) return std::nullopt;
  ev.protocol = m.substr(0, with);
  m.remove_prefix(with + 13);
  ev.cipher = m.substr(0, m.find(' '));
  ev.kind = PostfixEventKind::tls_connection;
  return ev;
}

// "[server |CA ]certificate verification failed for mx[ip]:25: reason"
std::optional<PostfixEvent> parse_tls_failure(std::string_view m, PostfixEvent ev) {
  if (!consume(m, "server ")) consume(m, "CA ");
  if (!consume(m, "certificate verification failed for ")) return std::nullopt;
  if (!take_peer(m, ev.host, ev.ip, ev.port) || !consume(m, ": ")) return std::nullopt;
  ev.reason = m;
  ev.result = classify_postfix_reason(m);
  if (!ev.result) ev.result = TlsrptResult::validation_failure;
  ev.kind = PostfixEventKind::tls_failure;
  return ev;
}

// Value of ", key=" up to the next ", " (or the end).
std::string_view field_value(std::string_view m, std::string_view key) {
  auto pos = m.find(key);
  if (pos == std::string_view::npos) return {};
  std::string_view v = m.substr(pos + key.size());
  return v.substr(0, v.find(", "));
}

// "TLSRPT: status=failure, domain=D, receiving_mx=H[IP], failure_type=T[, failure_reason=R]"
std::optional<PostfixEvent> parse_tlsrpt(std::string_view m, PostfixEvent ev) {
  if (!consume(m, "TLSRPT: status=")) return std::nullopt;
  if (consume(m, "success")) {
    ev.success = true;
  } else if (consume(m, "failure")) {
    ev.success = false;
  } else {
    return std::nullopt;
  }
  ev.policy_domain = field_value(m, ", domain=");
  if (ev.policy_domain.empty()) return std::nullopt;
  std::string_view mx = field_value(m, ", receiving_mx=");
  if (!mx.empty()) {
    std::string_view rest = mx;
    if (!take_peer(rest, ev.host, ev.ip, ev.port)) {
      ev.host = mx;  // "(null)[(null)]"-like oddities: keep the text
    }
    if (ev.host == "(null)") ev.host = {};
    if (ev.ip == "(null)") ev.ip = {};
  }
  if (!ev.success) {
    auto pos = m.find(", failure_type=");
    if (pos == std::string_view::npos) return std::nullopt;
    std::string_view t = m.substr(pos + 15);
    auto reason_pos = t.find(", failure_reason=");
    if (reason_pos != std::string_view::npos) ev.reason = t.substr(reason_pos + 17);
    t = t.substr(0, reason_pos);
    ev.result = tlsrpt_result_from_name(t);
    if (!ev.result) return std::nullopt;
  }
  ev.kind = PostfixEventKind::tlsrpt_status;
  return ev;
}

// "to=<a@b>, [orig_to=<…>, ]relay=H[IP]:25, delay=…, delays=…, dsn=2.0.0, status=sent (…)"
std::optional<PostfixEvent> parse_delivery(std::string_view m, PostfixEvent ev) {
  if (!consume(m, "to=<")) return std::nullopt;
  auto close = m.find(">, ");
  if (close == std::string_view::npos) return std::nullopt;
  ev.recipient = m.substr(0, close);
  m.remove_prefix(close + 1);
  auto st = m.find(", status=");
  if (st == std::string_view::npos) return std::nullopt;
  std::string_view head = m.substr(0, st);
  std::string_view status = m.substr(st + 9);
  std::string_view relay = field_value(head, ", relay=");
  if (!relay.empty()) {
    std::string_view r = relay;
    if (!take_peer(r, ev.host, ev.ip, ev.port)) ev.host = relay;  // "none", "local"…
  }
  ev.dsn = field_value(head, ", dsn=");
  auto sp = status.find(' ');
  ev.status = status.substr(0, sp);
  if (sp != std::string_view::npos) {
    std::string_view text = status.substr(sp + 1);
    if (!text.empty() && text.front() == '(') text.remove_prefix(1);
    if (!text.empty() && text.back() == ')') text.remove_suffix(1);
    ev.status_text = text;
  }
  if (ev.status.empty()) return std::nullopt;
  ev.result = classify_postfix_reason(ev.status_text);
  if (ev.result && ev.ip.empty()) {
    // relay=none: no connection was made (e.g. "TLSA lookup error for mx1.example:25"); the
    // MX the text names is the receiving MX.
    ev.host = {};  // not "none"
    std::string_view text = ev.status_text;
    auto pos = text.find(" for ");
    if (pos != std::string_view::npos) {
      text.remove_prefix(pos + 5);
      text = text.substr(0, text.find_first_of(":; "));
      if (!text.empty() && text.find('.') != std::string_view::npos) ev.host = text;
    }
  }
  ev.kind = PostfixEventKind::delivery;
  return ev;
}

// "warning: …" of smtp(8) about TLS: "HOST[IP]:PORT: all TLSA records unusable, …",
// "TLS policy lookup for DOMAIN/HOST: …", "_25._tcp.HOST unsupported TLSA …",
// "DANE TLSA lookup problem: …". Other warnings are not TLS events.
std::optional<PostfixEvent> parse_warning(std::string_view m, PostfixEvent ev) {
  if (!consume(m, "warning: ")) return std::nullopt;
  auto has = [&](std::string_view needle) { return m.find(needle) != std::string_view::npos; };
  if (!has("TLS") && !has("DANE") && !has("certificate")) return std::nullopt;
  ev.reason = m;
  ev.result = classify_postfix_reason(m);
  std::string_view rest = m;
  if (take_peer(rest, ev.host, ev.ip, ev.port) && rest.substr(0, 2) == ": ") {
    // "HOST[IP]:PORT: …"
  } else {
    ev.host = {};
    ev.ip = {};
    ev.port = 0;
    rest = m;
    if (consume(rest, "TLS policy lookup for ")) {  // "DOMAIN/HOST: …"
      auto slash = rest.find('/');
      auto colon = rest.find(": ");
      if (slash != std::string_view::npos && colon != std::string_view::npos && slash < colon)
        ev.host = rest.substr(slash + 1, colon - slash - 1);
    } else if (consume(rest, "_")) {  // "_25._tcp.HOST …"
      auto tcp = rest.find("._tcp.");
      if (tcp != std::string_view::npos) {
        rest.remove_prefix(tcp + 6);
        ev.host = rest.substr(0, rest.find(' '));
      }
    }
  }
  ev.kind = PostfixEventKind::tls_warning;
  return ev;
}

// A non-final "QID: reason" note whose reason is about TLS.
std::optional<PostfixEvent> parse_note(std::string_view m, PostfixEvent ev) {
  ev.result = classify_postfix_reason(m);
  if (!ev.result) return std::nullopt;
  ev.reason = m;
  // "… by host mx[ip]", "host mx[ip] refused to start TLS", "TLSA lookup error for mx:25"
  auto host_pos = m.find("host ");
  if (host_pos != std::string_view::npos) {
    std::string_view rest = m.substr(host_pos + 5);
    std::string_view h, ip;
    std::uint16_t port = 0;
    if (take_peer(rest, h, ip, port)) {
      ev.host = h;
      ev.ip = ip;
      ev.port = port;
    }
  }
  ev.kind = PostfixEventKind::note;
  return ev;
}

// "3F2A81C0D4: " or a long queue id; false when the message has no queue id.
bool take_queue_id(std::string_view& m, std::string_view& qid) {
  std::size_t i = 0;
  while (i < m.size() && i < 32 && is_alnum(m[i])) ++i;
  if (i < 5 || i + 1 >= m.size() || m[i] != ':' || m[i + 1] != ' ') return false;
  qid = m.substr(0, i);
  m.remove_prefix(i + 2);
  return true;
}

}  // namespace

std::int64_t days_from_civil(int year, int month, int day) {
  // Era-based conversion (March-based year), valid for the whole proleptic calendar.
  const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (month + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(std::int64_t z, int& year, int& month, int& day) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
}

std::int64_t syslog_unix_time(const SyslogTime& t, std::int64_t reference_unix, int local_offset_seconds) {
  auto at = [&](int year) {
    std::int64_t secs =
        days_from_civil(year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
    return secs - (t.has_offset ? t.offset_seconds : local_offset_seconds);
  };
  if (t.year != 0) return at(t.year);
  int ry, rm, rd;
  std::int64_t ref_days = reference_unix >= 0 ? reference_unix / 86400 : (reference_unix - 86399) / 86400;
  civil_from_days(ref_days, ry, rm, rd);
  std::int64_t candidate = at(ry);
  if (candidate > reference_unix + 86400) candidate = at(ry - 1);  // December line read in January
  return candidate;
}

std::optional<SyslogLine> parse_syslog_line(std::string_view line) {
  SyslogLine out;
  std::optional<std::string_view> rest;
  if (!line.empty() && is_digit(line[0])) {
    rest = parse_rfc3339(line, out.time);
  } else {
    rest = parse_traditional(line, out.time);
  }
  if (!rest) return std::nullopt;
  std::string_view s = *rest;
  auto sp = s.find(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  out.host = s.substr(0, sp);
  s.remove_prefix(sp + 1);
  std::size_t i = 0;
  while (i < s.size() && s[i] != '[' && s[i] != ':' && s[i] != ' ') ++i;
  if (i == 0 || i >= s.size() || s[i] == ' ') return std::nullopt;
  out.program = s.substr(0, i);
  if (s[i] == '[') {
    std::size_t j = i + 1;
    std::uint64_t pid = 0;
    while (j < s.size() && is_digit(s[j]) && j - i <= 10)
      pid = pid * 10 + static_cast<std::uint64_t>(s[j++] - '0');
    if (j == i + 1 || j >= s.size() || s[j] != ']' || pid > 0xffffffffu) return std::nullopt;
    out.pid = static_cast<std::uint32_t>(pid);
    i = j + 1;
  }
  if (i >= s.size() || s[i] != ':') return std::nullopt;
  ++i;
  if (i < s.size() && s[i] == ' ') ++i;
  out.message = s.substr(i);
  return out;
}

bool split_host_ip_port(std::string_view s, std::string_view& host, std::string_view& ip,
                        std::uint16_t& port) {
  return take_peer(s, host, ip, port) && s.empty();
}

std::optional<TlsrptResult> classify_postfix_reason(std::string_view t) {
  auto has = [&](std::string_view needle) { return t.find(needle) != std::string_view::npos; };
  if (t.empty()) return std::nullopt;
  // Certificate verification reasons (tls_verify.c) and OpenSSL's num=N:text default.
  if (has("certificate has expired") || has("num=10:")) return TlsrptResult::certificate_expired;
  if (has("hostname mismatch") || has("num=62:")) return TlsrptResult::certificate_host_mismatch;
  if (has("untrusted issuer") || has("not trusted by local or TLSA policy") ||
      has("self-signed certificate") || has("self signed certificate") || has("unable to get local issuer") ||
      has("num=18:") || has("num=19:") || has("num=20:") || has("num=21:") || has("num=27:"))
    return TlsrptResult::certificate_not_trusted;
  // DANE: OpenSSL's X509_V_ERR_DANE_NO_MATCH ("num=65:No matching DANE TLSA records"): the
  // certificate matches none of the usable TLSA records. Postfix 3.10 itself reports this as
  // certificate-not-trusted (TLSRPT line and libtlsrpt code 203, captured from a real run:
  // tests/unit/tlsrpt/data/postfix310-*), so a 3.7 log says the same; tlsa-invalid stays for
  // TLSA records that are unusable.
  if (has("o matching DANE TLSA") || has("num=65:")) return TlsrptResult::certificate_not_trusted;
  if (has("certificate not yet valid") || has("not designated for use as") ||
      has("certificate chain longer") || has("num="))
    return TlsrptResult::validation_failure;
  // smtp_proto.c / smtp_tls_policy.c delivery texts.
  if (has("TLS is required, but was not offered") || has("refused to start TLS"))
    return TlsrptResult::starttls_not_supported;
  if (has("TLSA lookup error")) return TlsrptResult::dnssec_invalid;
  if (has("TLSA records unusable") || has("no usable TLSA")) return TlsrptResult::tlsa_invalid;
  if (has("Server certificate not verified") || has("Server certificate not trusted") ||
      has("Server certificate not matched") || has("external policy failure"))
    return TlsrptResult::validation_failure;
  return std::nullopt;
}

namespace {

// cleanup(8): "QID: message-id=<ID>".
std::optional<PostfixEvent> parse_cleanup_line(std::string_view line) {
  auto sys = parse_syslog_line(line);
  if (!sys || service_of(sys->program) != "cleanup" || sys->pid == 0) return std::nullopt;
  PostfixEvent ev;
  ev.kind = PostfixEventKind::message_id;
  ev.time = sys->time;
  ev.program = sys->program;
  ev.pid = sys->pid;
  std::string_view m = sys->message;
  if (!take_queue_id(m, ev.queue_id) || !consume(m, "message-id=")) return std::nullopt;
  if (!m.empty() && m.front() == '<') {
    m.remove_prefix(1);
    if (m.empty() || m.back() != '>') return std::nullopt;
    m.remove_suffix(1);
  }
  if (m.empty()) return std::nullopt;
  ev.message_id = m;
  return ev;
}

}  // namespace

std::optional<PostfixEvent> parse_postfix_line(std::string_view line) {
  // Fast rejection: no "/smtp[" → not a Postfix smtp(8) line; then only cleanup(8)'s lines.
  if (line.find("/smtp[") == std::string_view::npos) {
    if (line.find("/cleanup[") == std::string_view::npos) return std::nullopt;
    return parse_cleanup_line(line);
  }
  auto sys = parse_syslog_line(line);
  if (!sys || service_of(sys->program) != "smtp" || sys->pid == 0) return std::nullopt;
  PostfixEvent ev;
  ev.time = sys->time;
  ev.program = sys->program;
  ev.pid = sys->pid;
  std::string_view m = sys->message;
  if (m.empty()) return std::nullopt;
  // The first byte picks the likely form, but a queue id can start with the same letters
  // (A, C, T, U, V… are hex digits or long-id characters): when the TLS forms do not match,
  // the line is tried as a queue-id line.
  std::optional<PostfixEvent> tls;
  PostfixEvent attempt = ev;  // a failed TLS parse must leave nothing behind
  switch (m[0]) {
    case 'V':
    case 'U':
    case 'A': tls = parse_tls_connection(m, attempt); break;
    case 'T':
      tls = m.substr(0, 7) == "TLSRPT:" ? parse_tlsrpt(m, attempt) : parse_tls_connection(m, attempt);
      break;
    case 'c':
    case 's':
    case 'C': tls = parse_tls_failure(m, attempt); break;
    case 'w':
      // "warning: …" — never a queue id line (smtp(8) warnings carry none)
      if (m.substr(0, 9) == "warning: ") return parse_warning(m, attempt);
      break;
    default: break;
  }
  if (tls) return tls;
  std::string_view qid;
  if (!take_queue_id(m, qid)) return std::nullopt;
  ev.queue_id = qid;
  if (m.substr(0, 4) == "to=<") return parse_delivery(m, ev);
  return parse_note(m, ev);
}

}  // namespace tlsfence::parse
