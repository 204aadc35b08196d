// Postfix smtp(8) log lines as Postfix 3.7 (and 3.10 for TLSRPT:) prints them.
#include <gtest/gtest.h>

#include "parse/postfix_log.h"

namespace tlsfence::parse {
namespace {

using K = PostfixEventKind;
using R = TlsrptResult;

TEST(SyslogLine, Traditional) {
  auto s = parse_syslog_line("Nov  2 06:47:50 mail postfix/smtp[12345]: hello: world");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->time.year, 0);
  EXPECT_EQ(s->time.month, 11);
  EXPECT_EQ(s->time.day, 2);
  EXPECT_EQ(s->time.hour, 6);
  EXPECT_EQ(s->time.second, 50);
  EXPECT_EQ(s->host, "mail");
  EXPECT_EQ(s->program, "postfix/smtp");
  EXPECT_EQ(s->pid, 12345u);
  EXPECT_EQ(s->message, "hello: world");
}

TEST(SyslogLine, Rfc3339) {
  auto s = parse_syslog_line("2026-11-22T06:47:50.123456+01:00 mail postfix-out/smtp[7]: x");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->time.year, 2026);
  EXPECT_TRUE(s->time.has_offset);
  EXPECT_EQ(s->time.offset_seconds, 3600);
  EXPECT_EQ(s->program, "postfix-out/smtp");
  EXPECT_EQ(syslog_unix_time(s->time, 0), 1795330070 - 3600);
  auto z = parse_syslog_line("2026-11-22T06:47:50Z mail prog: no pid");
  ASSERT_TRUE(z);
  EXPECT_EQ(z->pid, 0u);
  EXPECT_EQ(z->message, "no pid");
  EXPECT_EQ(syslog_unix_time(z->time, 0), 1795330070);
}

TEST(SyslogLine, TraditionalYearInference) {
  auto s = parse_syslog_line("Dec 31 23:59:59 mail postfix/smtp[1]: x");
  ASSERT_TRUE(s);
  // Read on 2027-01-01 00:00:10 UTC: the line is from 2026.
  std::int64_t ref = days_from_civil(2027, 1, 1) * 86400 + 10;
  EXPECT_EQ(syslog_unix_time(s->time, ref), days_from_civil(2026, 12, 31) * 86400 + 86399);
  // Read the same day: same year.
  std::int64_t same = days_from_civil(2026, 12, 31) * 86400 + 86399 + 5;
  EXPECT_EQ(syslog_unix_time(s->time, same), days_from_civil(2026, 12, 31) * 86400 + 86399);
  EXPECT_EQ(syslog_unix_time(s->time, same, 3600), days_from_civil(2026, 12, 31) * 86400 + 86399 - 3600);
}

TEST(SyslogLine, Rejected) {
  for (const char* l : {"", "Nov 22 06:47:50", "Foo 22 06:47:50 h p[1]: x", "Nov 22 25:47:50 h p[1]: x",
                        "2026-11-22T06:47:50 h p[1]: x", "2026-13-22T06:47:50Z h p[1]: x",
                        "Nov 22 06:47:50 h p[12a]: x", "Nov 22 06:47:50 h p[1] x"}) {
    EXPECT_FALSE(parse_syslog_line(l)) << l;
  }
}

TEST(CivilDays, RoundTrip) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  for (std::int64_t d : {-1000, 0, 11016, 20779, 30000}) {
    int y, m, dd;
    civil_from_days(d, y, m, dd);
    EXPECT_EQ(days_from_civil(y, m, dd), d);
  }
}

TEST(PostfixLog, VerifiedConnection) {
  auto e = parse_postfix_line(
      "Nov 22 06:47:50 sender postfix/smtp[4242]: Verified TLS connection established to "
      "mx1.example.com[192.0.2.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange "
      "X25519 server-signature ECDSA (P-256) server-digest SHA256");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, K::tls_connection);
  EXPECT_EQ(e->pid, 4242u);
  EXPECT_EQ(e->trust, TlsTrust::verified);
  EXPECT_FALSE(e->reused);
  EXPECT_EQ(e->host, "mx1.example.com");
  EXPECT_EQ(e->ip, "192.0.2.1");
  EXPECT_EQ(e->port, 25);
  EXPECT_EQ(e->protocol, "TLSv1.3");
  EXPECT_EQ(e->cipher, "TLS_AES_256_GCM_SHA384");
}

TEST(PostfixLog, TrustLevelsAndReuse) {
  struct Row {
    const char* line;
    TlsTrust trust;
    bool reused;
  } rows[] = {
      {"Nov 22 06:47:50 s postfix/smtp[1]: Untrusted TLS connection established to "
       "mx.example.net[198.51.100.7]:25: "
       "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
       TlsTrust::untrusted, false},
      {"Nov 22 06:47:50 s postfix/smtp[1]: Anonymous TLS connection established to "
       "mx.example.net[198.51.100.7]:25: "
       "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
       TlsTrust::anonymous, false},
      {"Nov 22 06:47:50 s postfix/smtp[1]: Trusted TLS connection established to "
       "mx.example.net[198.51.100.7]:25: "
       "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
       TlsTrust::trusted, false},
      {"Nov 22 06:47:50 s postfix/smtp[1]: Verified TLS connection reused to "
       "mx.example.net[2001:db8::25]:25: "
       "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
       TlsTrust::verified, true},
  };
  for (const auto& row : rows) {
    auto e = parse_postfix_line(row.line);
    ASSERT_TRUE(e) << row.line;
    EXPECT_EQ(e->kind, K::tls_connection);
    EXPECT_EQ(e->trust, row.trust);
    EXPECT_EQ(e->reused, row.reused);
    EXPECT_EQ(e->host, "mx.example.net");
  }
  auto v6 = parse_postfix_line(rows[3].line);
  EXPECT_EQ(v6->ip, "2001:db8::25");
}

TEST(PostfixLog, CertificateFailures) {
  struct Row {
    const char* message;
    R result;
  } rows[] = {
      {"certificate verification failed for mx1.example.com[192.0.2.1]:25: untrusted issuer /CN=Test CA",
       R::certificate_not_trusted},
      {"server certificate verification failed for mx1.example.com[192.0.2.1]:25: certificate has expired",
       R::certificate_expired},
      {"certificate verification failed for mx1.example.com[192.0.2.1]:25: self-signed certificate",
       R::certificate_not_trusted},
      {"certificate verification failed for mx1.example.com[192.0.2.1]:25: not trusted by local or TLSA "
       "policy",
       R::certificate_not_trusted},
      {"server certificate verification failed for mx1.example.com[192.0.2.1]:25: num=62:hostname mismatch",
       R::certificate_host_mismatch},
      {"server certificate verification failed for mx1.example.com[192.0.2.1]:25: num=65:No matching DANE "
       "TLSA "
       "records",
       R::certificate_not_trusted},
      {"server certificate verification failed for mx1.example.com[192.0.2.1]:25: certificate not yet valid",
       R::validation_failure},
      {"CA certificate verification failed for mx1.example.com[192.0.2.1]:25: certificate has expired",
       R::certificate_expired},
      {"server certificate verification failed for mx1.example.com[192.0.2.1]:25: num=7:certificate "
       "signature "
       "failure",
       R::validation_failure},
  };
  for (const auto& row : rows) {
    std::string line = std::string("Nov 22 06:47:50 sender postfix/smtp[99]: ") + row.message;
    auto e = parse_postfix_line(line);
    ASSERT_TRUE(e) << line;
    EXPECT_EQ(e->kind, K::tls_failure) << line;
    ASSERT_TRUE(e->result) << line;
    EXPECT_EQ(*e->result, row.result) << line;
    EXPECT_EQ(e->host, "mx1.example.com");
    EXPECT_EQ(e->ip, "192.0.2.1");
    EXPECT_EQ(e->port, 25);
  }
}

TEST(PostfixLog, DeliveryLine) {
  auto e = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4242]: 4Bv2Yq0bHVz9vF: to=<alice@example.com>, "
      "relay=mx1.example.com[192.0.2.1]:25, delay=0.42, delays=0.05/0.01/0.3/0.06, dsn=2.0.0, "
      "status=sent (250 2.0.0 Ok: queued as 1A2B3C4D5E)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, K::delivery);
  EXPECT_EQ(e->queue_id, "4Bv2Yq0bHVz9vF");
  EXPECT_EQ(e->recipient, "alice@example.com");
  EXPECT_EQ(e->host, "mx1.example.com");
  EXPECT_EQ(e->ip, "192.0.2.1");
  EXPECT_EQ(e->port, 25);
  EXPECT_EQ(e->dsn, "2.0.0");
  EXPECT_EQ(e->status, "sent");
  EXPECT_EQ(e->status_text, "250 2.0.0 Ok: queued as 1A2B3C4D5E");
  EXPECT_FALSE(e->result);
}

// Queue ids start with hex digits (short ids) or base-52 letters (long ids): an id whose
// first letter is also the first letter of a TLS line ("Anonymous", "Certificate",
// "Trusted", "Untrusted", "Verified", "certificate", "server") is still a delivery line.
// Found by the sidecar's world test: ids like AD3FEA7409B were dropped.
TEST(PostfixLog, QueueIdsStartingLikeTlsLines) {
  for (const char* qid : {"AD3FEA7409B", "C0FFEE12345", "4Tx9Yq0bHVz9vF", "Uv2Yq0bHVz9vF", "Vv2Yq0bHVz9vF",
                          "cv2Yq0bHVz9vF", "sv2Yq0bHVz9vF"}) {
    const std::string line = std::string("Nov 22 06:47:51 sender postfix/smtp[4242]: ") + qid +
                             ": to=<alice@example.com>, relay=mx1.example.com[192.0.2.1]:25, delay=0.42, "
                             "delays=0.05/0.01/0.3/0.06, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
    auto e = parse_postfix_line(line);
    ASSERT_TRUE(e) << qid;
    EXPECT_EQ(e->kind, K::delivery) << qid;
    EXPECT_EQ(e->queue_id, qid);
    EXPECT_EQ(e->recipient, "alice@example.com") << qid;
    EXPECT_EQ(e->status, "sent") << qid;
    EXPECT_EQ(e->host, "mx1.example.com") << qid;
  }
}

TEST(PostfixLog, DeferredForTls) {
  auto e = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: to=<bob@notls.example>, "
      "orig_to=<bob@alias.example>, "
      "relay=mx.notls.example[192.0.2.9]:25, delay=1.2, delays=0.01/0/1.2/0, dsn=4.7.4, status=deferred (TLS "
      "is "
      "required, but was not offered by host mx.notls.example[192.0.2.9])");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, K::delivery);
  EXPECT_EQ(e->recipient, "bob@notls.example");
  EXPECT_EQ(e->status, "deferred");
  ASSERT_TRUE(e->result);
  EXPECT_EQ(*e->result, R::starttls_not_supported);
  auto v = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: to=<bob@bad.example>, "
      "relay=mx.bad.example[192.0.2.8]:25, "
      "delay=1.2, delays=0.01/0/1.2/0, dsn=4.7.5, status=deferred (Server certificate not verified)");
  ASSERT_TRUE(v && v->result);
  EXPECT_EQ(*v->result, R::validation_failure);
  auto none = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: to=<bob@gone.example>, relay=none, delay=30, "
      "delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to gone.example[192.0.2.3]:25: Connection timed "
      "out)");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->host, "none");
  EXPECT_TRUE(none->ip.empty());
  EXPECT_FALSE(none->result);
}

TEST(PostfixLog, Notes) {
  auto e = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: TLS is required, but was not offered by host "
      "mx1.notls.example[192.0.2.9]");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, K::note);
  EXPECT_EQ(e->queue_id, "3F2A81C0D4");
  EXPECT_EQ(e->host, "mx1.notls.example");
  EXPECT_EQ(e->ip, "192.0.2.9");
  ASSERT_TRUE(e->result);
  EXPECT_EQ(*e->result, R::starttls_not_supported);
  auto t = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: TLSA lookup error for mx.dane.example:25");
  ASSERT_TRUE(t && t->result);
  EXPECT_EQ(*t->result, R::dnssec_invalid);
  auto d = parse_postfix_line(
      "Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: no matching DANE TLSA records for "
      "mx.dane.example");
  ASSERT_TRUE(d && d->result);
  EXPECT_EQ(*d->result, R::certificate_not_trusted);
  // A note that is not about TLS is not an event.
  EXPECT_FALSE(
      parse_postfix_line("Nov 22 06:47:51 sender postfix/smtp[4243]: 3F2A81C0D4: lost connection with "
                         "mx[192.0.2.1] while sending RCPT TO"));
}

TEST(PostfixLog, TlsrptStatusLines) {
  auto ok = parse_postfix_line(
      "2026-11-22T06:47:50.123456+00:00 sender postfix/smtp[77]: TLSRPT: status=success, domain=example.com, "
      "receiving_mx=mx1.example.com[192.0.2.1]");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->kind, K::tlsrpt_status);
  EXPECT_TRUE(ok->success);
  EXPECT_EQ(ok->policy_domain, "example.com");
  EXPECT_EQ(ok->host, "mx1.example.com");
  EXPECT_EQ(ok->ip, "192.0.2.1");
  auto bad = parse_postfix_line(
      "2026-11-22T06:47:50.123456+00:00 sender postfix/smtp[77]: TLSRPT: status=failure, domain=example.com, "
      "receiving_mx=mx1.example.com[192.0.2.1], failure_type=certificate_not_trusted, "
      "failure_reason=self-signed "
      "certificate");
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->success);
  ASSERT_TRUE(bad->result);
  EXPECT_EQ(*bad->result, R::certificate_not_trusted);
  EXPECT_EQ(bad->reason, "self-signed certificate");
  auto starttls = parse_postfix_line(
      "2026-11-22T06:47:50Z sender postfix/smtp[77]: TLSRPT: status=failure, domain=example.com, "
      "receiving_mx=mx1.example.com[192.0.2.1], failure_type=starttls_not_supported");
  ASSERT_TRUE(starttls && starttls->result);
  EXPECT_EQ(*starttls->result, R::starttls_not_supported);
  EXPECT_FALSE(parse_postfix_line(
      "2026-11-22T06:47:50Z sender postfix/smtp[77]: TLSRPT: status=failure, domain=example.com, "
      "receiving_mx=mx1.example.com[192.0.2.1], failure_type=bogus"));
}

TEST(PostfixLog, NotSmtpLines) {
  for (const char* l : {
           "Nov 22 06:47:50 sender postfix/smtpd[1]: connect from unknown[192.0.2.1]",
           "Nov 22 06:47:50 sender postfix/qmgr[2]: 3F2A81C0D4: from=<a@b>, size=300, nrcpt=1 (queue active)",
           "Nov 22 06:47:50 sender postfix/smtpd[1]: Anonymous TLS connection established from "
           "unknown[192.0.2.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
           "Nov 22 06:47:50 sender postfix/smtp[1]: connect to mx[192.0.2.1]:25: Connection refused",
           "Nov 22 06:47:50 sender postfix/smtp[1]: warning: database /etc/postfix/transport.db is older",
           "Nov 22 06:47:50 sender postfix/smtp[1]: warning:TLS without the space",
           "Nov 22 06:47:50 sender kernel: /smtp[ nonsense",
           "Nov 22 06:47:50 sender postfix/smtp[1]: Verified TLS connection established to nobrackets: x",
           "garbage /smtp[",
           "",
       }) {
    EXPECT_FALSE(parse_postfix_line(l)) << l;
  }
}

// smtp(8) warnings about TLS are recognised (context only: the delivery line carries the
// outcome), never mistaken for a "QID: note" with the queue id "warning".
TEST(PostfixLog, TlsWarnings) {
  struct Row {
    const char* message;
    const char* host;
    const char* ip;
    std::optional<TlsrptResult> result;
  };
  const Row rows[] = {
      {"warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading", "", "",
       std::nullopt},
      {"warning: mx1.example.com[192.0.2.1]:25: all TLSA records unusable, fallback to unauthenticated TLS",
       "mx1.example.com", "192.0.2.1", TlsrptResult::tlsa_invalid},
      {"warning: TLS policy lookup for example.com/mx1.example.com: TLSA lookup error for mx1.example.com:25",
       "mx1.example.com", "", TlsrptResult::dnssec_invalid},
      {"warning: TLS policy lookup for example.com/mx1.example.com: client TLS configuration problem",
       "mx1.example.com", "", std::nullopt},
      {"warning: _25._tcp.mx1.example.com unsupported TLSA certificate usage: 0 0 1 ABCD", "mx1.example.com",
       "", std::nullopt},
      {"warning: DANE TLSA lookup problem: Host or domain name not found", "", "", std::nullopt},
      {"warning: socketmap:unix:/run/tlsfence/sm.sock:tlspolicy socketmap server temporary error: DNSSEC "
       "validation of _25._tcp.mx1.example.com TLSA failed",
       "", "", std::nullopt},
      {"warning: host mx[192.0.2.1: certificate weird", "", "", std::nullopt},  // malformed peer: no host
  };
  for (const auto& r : rows) {
    const std::string line = std::string("Nov 22 06:47:50 sender postfix/smtp[7]: ") + r.message;
    auto ev = parse_postfix_line(line);
    ASSERT_TRUE(ev) << line;
    EXPECT_EQ(ev->kind, PostfixEventKind::tls_warning) << line;
    EXPECT_TRUE(ev->queue_id.empty()) << line;
    EXPECT_EQ(ev->host, r.host) << line;
    EXPECT_EQ(ev->ip, r.ip) << line;
    EXPECT_EQ(ev->result, r.result) << line;
    EXPECT_EQ(ev->reason, std::string_view(r.message).substr(9)) << line;
  }
}

// relay=none with a TLS reason: the MX named in the text is the peer.
TEST(PostfixLog, DeliveryWithoutConnectionNamesTheMx) {
  auto ev = parse_postfix_line(
      "Nov 22 10:01:41 sender postfix/smtp[18752]: 4FE8FA743B2: to=<user@bogustlsa.test>, relay=none, "
      "delay=0.02, delays=0.01/0/0.01/0, dsn=4.7.5, status=deferred (TLSA lookup error for "
      "mx1.bogustlsa.test:25)");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->kind, PostfixEventKind::delivery);
  EXPECT_EQ(ev->host, "mx1.bogustlsa.test");
  EXPECT_TRUE(ev->ip.empty());
  EXPECT_EQ(ev->result, TlsrptResult::dnssec_invalid);
}

TEST(PostfixLog, HostIpPort) {
  std::string_view h, ip;
  std::uint16_t port = 0;
  EXPECT_TRUE(split_host_ip_port("mx[192.0.2.1]:25", h, ip, port));
  EXPECT_EQ(h, "mx");
  EXPECT_EQ(port, 25);
  EXPECT_TRUE(split_host_ip_port("[2001:db8::1]", h, ip, port));
  EXPECT_EQ(ip, "2001:db8::1");
  EXPECT_FALSE(split_host_ip_port("mx[192.0.2.1]:99999", h, ip, port));
  EXPECT_FALSE(split_host_ip_port("mx192.0.2.1", h, ip, port));
}

}  // namespace
}  // namespace tlsfence::parse
