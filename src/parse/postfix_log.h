#pragma once
// Postfix smtp(8) log lines that matter for TLS-RPT (Postfix 3.7+, and 3.10's TLSRPT lines),
// cleanup(8)'s message-id= lines, and the syslog prefix they come with. Pure and allocation-free: every
// string_view points into the line given. A line that is not a postfix smtp line is rejected after one scan
// for
// "/smtp[" and "/cleanup[" — the common case, so it must stay cheap (see tests/bench/tlsrpt).
#include <cstdint>
#include <optional>
#include <string_view>

#include "tlsfence/tlsrpt_result.h"

namespace tlsfence::parse {

// A syslog time as written. Traditional syslog ("Nov 22 06:47:50") has neither year nor
// zone; RFC 3339 ("2026-11-22T06:47:50.123456+00:00") has both.
struct SyslogTime {
  int year = 0;  // 0: not in the line
  int month = 0, day = 0, hour = 0, minute = 0, second = 0;
  bool has_offset = false;  // RFC 3339 zone given
  int offset_seconds = 0;   // local = UTC + offset
};

struct SyslogLine {
  SyslogTime time;
  std::string_view host;
  std::string_view program;  // e.g. "postfix/smtp", "postfix-out/smtp", "sm-mta"
  std::uint32_t pid = 0;     // 0 when the line has no [pid]
  std::string_view message;  // after "prog[pid]: "
};

// Both prefix forms; nullopt if the line has neither.
std::optional<SyslogLine> parse_syslog_line(std::string_view line);

// Unix seconds (UTC) of a syslog time. A time with a zone is exact. A traditional time is
// read as local time `local_offset_seconds` east of UTC, in the year that puts it at most one
// day after `reference_unix` (log lines are read shortly after they are written).
std::int64_t syslog_unix_time(const SyslogTime& t, std::int64_t reference_unix, int local_offset_seconds = 0);

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
std::int64_t days_from_civil(int year, int month, int day);
void civil_from_days(std::int64_t days, int& year, int& month, int& day);

enum class PostfixEventKind {
  tls_connection,  // "<Trust> TLS connection established|reused to HOST[IP]:PORT: PROTO with cipher C …"
  tls_failure,     // "… certificate verification failed for HOST[IP]:PORT: reason"
  delivery,        // "QID: to=<rcpt>, relay=HOST[IP]:PORT, …, status=sent (…)"
  note,            // "QID: TLS is required, but was not offered by host HOST[IP]" and other TLS texts
  tlsrpt_status,   // 3.10+: "TLSRPT: status=success|failure, domain=D, receiving_mx=HOST[IP]…"
  tls_warning,     // "warning: …" about TLS/TLSA/DANE/certificates (e.g. "all TLSA records
                   // unusable", "TLS policy lookup for D/MX: TLSA lookup error for MX:25"):
                   // context only, the delivery line that follows carries the outcome
  message_id,      // cleanup(8): "QID: message-id=<ID>", the queue id's Message-ID header
                   // (the correlator recognises the sidecar's own report mail by it)
};

enum class TlsTrust { anonymous, untrusted, trusted, verified };

struct PostfixEvent {
  PostfixEventKind kind = PostfixEventKind::note;
  SyslogTime time;
  std::string_view program;  // "postfix/smtp"
  std::uint32_t pid = 0;
  std::string_view queue_id;  // delivery, note

  // The peer: tls_connection, tls_failure, delivery (relay=; with relay=none the MX named in a
  // "TLSA lookup error for MX:25" status), tlsrpt_status, note and tls_warning (if named).
  std::string_view host, ip;
  std::uint16_t port = 0;

  // tls_connection
  TlsTrust trust = TlsTrust::anonymous;
  bool reused = false;  // "reused": a cached connection, not a new TLS handshake
  std::string_view protocol, cipher;

  // tls_failure, note, tlsrpt_status (failure), delivery (status text with a TLS reason),
  // tls_warning (result if the text maps to one; reason = the text after "warning: ")
  std::optional<TlsrptResult> result;
  std::string_view reason;  // failure text; for TLSRPT lines the failure_reason

  // delivery
  std::string_view recipient;    // to= address, without <>
  std::string_view status;       // sent, deferred, bounced, expired, undeliverable…
  std::string_view dsn;          // 2.0.0 …
  std::string_view status_text;  // inside the parentheses after status=

  // message_id: the Message-ID without <>
  std::string_view message_id;

  // tlsrpt_status
  bool success = false;
  std::string_view policy_domain;
};

// nullopt for every line that is not one of the kinds above (the vast majority).
std::optional<PostfixEvent> parse_postfix_line(std::string_view line);

// Maps Postfix's free-text TLS failure reasons (certificate verification reasons, delivery
// status texts such as "TLS is required, but was not offered by host …", "Server certificate
// not verified", "TLSA lookup error for …") to an RFC 8460 result type; nullopt if the text
// is not about TLS.
std::optional<TlsrptResult> classify_postfix_reason(std::string_view text);

// "host[ip]:port", "host[ip]" or "[ip]:port": splits into parts; false if malformed.
bool split_host_ip_port(std::string_view s, std::string_view& host, std::string_view& ip,
                        std::uint16_t& port);

}  // namespace tlsfence::parse
