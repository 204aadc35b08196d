// The log parsers and correlators on real MTA output: data/postfix-world.log and
// data/sendmail-world.log were captured from the test world's sending Postfix and Sendmail
// (see their headers and the capture-*.sh scripts beside them). Every TLS-looking or
// delivery line must parse, to what the tables say; the correlated outcomes must be what
// happened.
//
// *WorldLive: with TLSFENCE_WORLD_POSTFIX_LOG / TLSFENCE_WORLD_SENDMAIL_LOG set (the world test
// integration_rptd_mta_lines), every TLS-looking line of the live logs must be recognised — so
// that an MTA that words its lines differently is noticed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "parse/postfix_log.h"
#include "parse/sendmail_log.h"
#include "tlsrpt/correlator.h"

namespace tlsfence::tlsrpt {
namespace {

using parse::PostfixEventKind;
using parse::TlsTrust;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

bool tls_looking(std::string_view line) {
  for (std::string_view w : {"TLS", "certificate", "DANE", "TLSA"}) {
    if (line.find(w) != std::string_view::npos) return true;
  }
  return false;
}

// smtp(8) lines: the delivery agent's (program ".../smtp"); TLS-RPT reports on its sessions.
bool smtp_client_line(std::string_view line) {
  auto sys = parse::parse_syslog_line(line);
  return sys && (sys->program == "smtp" || sys->program.ends_with("/smtp"));
}

struct Row {
  const char* contains;  // identifies the line(s) in the capture
  PostfixEventKind kind;
  const char* host;
  const char* ip;
  std::optional<TlsrptResult> result;
  TlsTrust trust = TlsTrust::anonymous;  // tls_connection
  const char* status = "";               // delivery
  std::size_t count = 1;                 // lines in the capture
};

using R = TlsrptResult;
using K = PostfixEventKind;

const std::vector<Row>& table() {
  static const std::vector<Row> rows = {
      // DANE (postfix-out: smtp_tls_security_level = dane, DNSSEC)
      {"Verified TLS connection established to mx1.dane.test[", K::tls_connection, "mx1.dane.test",
       "127.0.0.10", std::nullopt, TlsTrust::verified},
      {"to=<user@dane.test>", K::delivery, "mx1.dane.test", "127.0.0.10", std::nullopt, {}, "sent"},
      {"Verified TLS connection established to mx1.partial.test[", K::tls_connection, "mx1.partial.test",
       "127.0.0.10", std::nullopt, TlsTrust::verified},
      {"to=<user@partial.test>", K::delivery, "mx1.partial.test", "127.0.0.10", std::nullopt, {}, "sent"},
      {"Verified TLS connection established to implicit.test[", K::tls_connection, "implicit.test",
       "127.0.0.10", std::nullopt, TlsTrust::verified},
      {"to=<user@implicit.test>", K::delivery, "implicit.test", "127.0.0.10", std::nullopt, {}, "sent"},
      {"Verified TLS connection established to mx.cname.test[", K::tls_connection, "mx.cname.test",
       "127.0.0.10", std::nullopt, TlsTrust::verified},
      {"to=<user@cname.test>", K::delivery, "mx.cname.test", "127.0.0.10", std::nullopt, {}, "sent"},
      // DANE failure: TLSA of a wrong key
      {"server certificate verification failed for mx1.danefail.test[127.0.0.12]:25: num=65:no matching DANE "
       "TLSA records",
       K::tls_failure, "mx1.danefail.test", "127.0.0.12", R::certificate_not_trusted},
      {"Untrusted TLS connection established to mx1.danefail.test[", K::tls_connection, "mx1.danefail.test",
       "127.0.0.12", std::nullopt, TlsTrust::untrusted},
      {"to=<user@danefail.test>",
       K::delivery,
       "mx1.danefail.test",
       "127.0.0.12",
       R::validation_failure,
       {},
       "deferred"},
      // DANE-TA (TLSA 2 0 1 of the test CA) checks the dates: the MX certificate expired in 2020.
      // Postfix 3.7 words it without "num=".
      {"server certificate verification failed for mx1.danemxexpired.test[127.0.0.17]:25: certificate has "
       "expired",
       K::tls_failure, "mx1.danemxexpired.test", "127.0.0.17", R::certificate_expired},
      {"Untrusted TLS connection established to mx1.danemxexpired.test[", K::tls_connection,
       "mx1.danemxexpired.test", "127.0.0.17", std::nullopt, TlsTrust::untrusted},
      {"to=<user@danemxexpired.test>",
       K::delivery,
       "mx1.danemxexpired.test",
       "127.0.0.17",
       R::validation_failure,
       {},
       "deferred"},
      // DANE: TLSA RRset bogus (expired signatures) — no connection, relay=none
      {"warning: DANE TLSA lookup problem: Host or domain name not found",
       K::tls_warning,
       "",
       "",
       std::nullopt,
       {},
       "",
       2},
      {"warning: TLS policy lookup for bogustlsa.test/mx1.bogustlsa.test: TLSA lookup error", K::tls_warning,
       "mx1.bogustlsa.test", "", R::dnssec_invalid},
      {"to=<user@bogustlsa.test>", K::delivery, "mx1.bogustlsa.test", "", R::dnssec_invalid, {}, "deferred"},
      // no DNSSEC: opportunistic TLS, certificate chains to smtp_tls_CAfile
      {"Trusted TLS connection established to mx1.insecure.test[", K::tls_connection, "mx1.insecure.test",
       "127.0.0.12", std::nullopt, TlsTrust::trusted},
      {"to=<user@insecure.test>", K::delivery, "mx1.insecure.test", "127.0.0.12", std::nullopt, {}, "sent"},
      // only unusable TLSA records: warnings, then unauthenticated TLS
      {"warning: _25._tcp.mx1.unusable.test unsupported TLSA certificate usage",
       K::tls_warning,
       "mx1.unusable.test",
       "",
       std::nullopt,
       {},
       "",
       2},
      {"warning: mx1.unusable.test[127.0.0.10]:25: unusable TLSA RR", K::tls_warning, "mx1.unusable.test",
       "127.0.0.10", std::nullopt},
      {"warning: mx1.unusable.test[127.0.0.10]:25: all TLSA records unusable", K::tls_warning,
       "mx1.unusable.test", "127.0.0.10", R::tlsa_invalid},
      {"Trusted TLS connection established to mx1.unusable.test[", K::tls_connection, "mx1.unusable.test",
       "127.0.0.10", std::nullopt, TlsTrust::trusted},
      {"to=<user@unusable.test>", K::delivery, "mx1.unusable.test", "127.0.0.10", std::nullopt, {}, "sent"},
      {"Trusted TLS connection established to mx1.reports.test[", K::tls_connection, "mx1.reports.test",
       "127.0.0.10", std::nullopt, TlsTrust::trusted},
      {"to=<user@reports.test>", K::delivery, "mx1.reports.test", "127.0.0.10", std::nullopt, {}, "sent"},
      // MTA-STS-like "secure match=…" policy (the capture's inline policy map)
      {"Verified TLS connection established to mx1.sts.test[", K::tls_connection, "mx1.sts.test",
       "127.0.0.14", std::nullopt, TlsTrust::verified},
      {"to=<user@sts.test>", K::delivery, "mx1.sts.test", "127.0.0.14", std::nullopt, {}, "sent"},
      {"server certificate verification failed for mx1.stsmismatch.test[127.0.0.16]:25: num=62:hostname "
       "mismatch",
       K::tls_failure, "mx1.stsmismatch.test", "127.0.0.16", R::certificate_host_mismatch},
      {"Untrusted TLS connection established to mx1.stsmismatch.test[", K::tls_connection,
       "mx1.stsmismatch.test", "127.0.0.16", std::nullopt, TlsTrust::untrusted},
      {"to=<user@stsmismatch.test>",
       K::delivery,
       "mx1.stsmismatch.test",
       "127.0.0.16",
       R::validation_failure,
       {},
       "deferred"},
      // the MX certificate chains to smtp_tls_CAfile and names the host, but expired in 2020
      {"server certificate verification failed for mx1.stsmxexpired.test[127.0.0.17]:25: certificate has "
       "expired",
       K::tls_failure, "mx1.stsmxexpired.test", "127.0.0.17", R::certificate_expired},
      {"Untrusted TLS connection established to mx1.stsmxexpired.test[", K::tls_connection,
       "mx1.stsmxexpired.test", "127.0.0.17", std::nullopt, TlsTrust::untrusted},
      {"to=<user@stsmxexpired.test>",
       K::delivery,
       "mx1.stsmxexpired.test",
       "127.0.0.17",
       R::validation_failure,
       {},
       "deferred"},
      // "encrypt" towards an MX without STARTTLS
      {"to=<user@nostarttls.test>",
       K::delivery,
       "mx1.nostarttls.test",
       "127.0.0.15",
       R::starttls_not_supported,
       {},
       "deferred"},
  };
  return rows;
}

TEST(PostfixWorldCapture, EveryTlsAndDeliveryLineParsesAsTheTableSays) {
  const auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/postfix-world.log");
  ASSERT_GT(lines.size(), 50u);
  std::map<const Row*, std::size_t> seen;
  std::size_t checked = 0;
  for (const auto& line : lines) {
    ASSERT_TRUE(parse::parse_syslog_line(line)) << line;
    const bool relevant =
        smtp_client_line(line) && (tls_looking(line) || line.find(" to=<") != std::string::npos);
    auto ev = parse::parse_postfix_line(line);
    if (line.find("/cleanup[") != std::string::npos && line.find(": message-id=<") != std::string::npos) {
      ASSERT_TRUE(ev) << "cleanup's message-id line not recognised: " << line;  // for own report mail
      EXPECT_EQ(ev->kind, parse::PostfixEventKind::message_id) << line;
      EXPECT_FALSE(ev->queue_id.empty()) << line;
      continue;
    }
    if (!relevant) {
      EXPECT_FALSE(ev) << "not an smtp(8) TLS or delivery line, yet parsed: " << line;
      continue;
    }
    ++checked;
    ASSERT_TRUE(ev) << "not recognised: " << line;
    const Row* match = nullptr;
    for (const auto& row : table()) {
      if (line.find(row.contains) != std::string::npos) {
        EXPECT_EQ(match, nullptr) << "two table rows match " << line;
        match = &row;
      }
    }
    ASSERT_NE(match, nullptr) << "no table row for " << line;
    ++seen[match];
    SCOPED_TRACE(line);
    EXPECT_EQ(ev->kind, match->kind);
    EXPECT_EQ(ev->host, match->host);
    EXPECT_EQ(ev->ip, match->ip);
    EXPECT_EQ(ev->result, match->result);
    EXPECT_GT(ev->pid, 0u);
    EXPECT_EQ(ev->time.month, 11);
    if (ev->kind == K::tls_connection) {
      EXPECT_EQ(ev->trust, match->trust);
      EXPECT_FALSE(ev->reused);
      EXPECT_EQ(ev->protocol, "TLSv1.3");
      EXPECT_EQ(ev->cipher, "TLS_AES_256_GCM_SHA384");
      EXPECT_EQ(ev->port, 25);
    }
    if (ev->kind == K::delivery) {
      EXPECT_EQ(ev->status, match->status);
      EXPECT_EQ(ev->recipient.substr(0, 5), "user@");
      EXPECT_FALSE(ev->queue_id.empty());
      EXPECT_EQ(ev->dsn.substr(0, 2), std::string(match->status) == "sent" ? "2." : "4.");
    }
  }
  EXPECT_GE(checked, 35u);
  for (const auto& row : table()) EXPECT_EQ(seen[&row], row.count) << row.contains;
}

TEST(PostfixWorldCapture, CorrelatedOutcomes) {
  const auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/postfix-world.log");
  PostfixCorrelator c;
  std::vector<Outcome> out;
  const std::int64_t captured = 1'795'348'800;  // 2026-11-22T12:00:00Z, the capture's day
  for (const auto& line : lines) c.feed(line, captured, out);
  // (domain, mx, failure) → sessions
  std::map<std::tuple<std::string, std::string, std::string>, int> got;
  for (const auto& o : out) {
    EXPECT_EQ(o.day, captured / 86400) << o.policy_domain;
    got[{o.policy_domain, o.mx_host, o.failure ? std::string(to_string(*o.failure)) : "success"}]++;
  }
  const std::map<std::tuple<std::string, std::string, std::string>, int> want = {
      {{"dane.test", "mx1.dane.test", "success"}, 1},
      {{"partial.test", "mx1.partial.test", "success"}, 1},
      {{"implicit.test", "implicit.test", "success"}, 1},
      {{"cname.test", "mx.cname.test", "success"}, 1},
      {{"danefail.test", "mx1.danefail.test", "certificate-not-trusted"}, 1},
      {{"danemxexpired.test", "mx1.danemxexpired.test", "certificate-expired"}, 1},
      {{"bogustlsa.test", "mx1.bogustlsa.test", "dnssec-invalid"}, 1},
      {{"insecure.test", "mx1.insecure.test", "success"}, 1},
      {{"unusable.test", "mx1.unusable.test", "success"}, 1},
      {{"reports.test", "mx1.reports.test", "success"}, 1},
      {{"sts.test", "mx1.sts.test", "success"}, 1},
      {{"stsmismatch.test", "mx1.stsmismatch.test", "certificate-host-mismatch"}, 1},
      {{"stsmxexpired.test", "mx1.stsmxexpired.test", "certificate-expired"}, 1},
      {{"nostarttls.test", "mx1.nostarttls.test", "starttls-not-supported"}, 1},
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(c.stats().uncorrelated, 0u);
  for (const auto& o : out) {
    if (o.mx_host != "mx1.bogustlsa.test") {
      EXPECT_FALSE(o.receiving_ip.empty()) << o.policy_domain;
    }
  }
}

TEST(PostfixWorldLive, EveryTlsLookingSmtpLineIsRecognised) {
  const char* path = std::getenv("TLSFENCE_WORLD_POSTFIX_LOG");
  if (path == nullptr) GTEST_SKIP() << "TLSFENCE_WORLD_POSTFIX_LOG not set (world test only)";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::size_t tls_lines = 0, other_programs = 0;
  std::vector<std::string> unrecognised;
  for (std::string line; std::getline(in, line);) {
    if (!tls_looking(line)) continue;
    if (!smtp_client_line(line)) {
      ++other_programs;  // smtpd (inbound), cleanup (header logging)…: not outgoing sessions
      continue;
    }
    ++tls_lines;
    if (!parse::parse_postfix_line(line)) unrecognised.push_back(line);
  }
  EXPECT_GT(tls_lines, 10u) << "the live log has too few TLS lines to mean anything";
  std::string list;
  for (const auto& l : unrecognised) list += "\n  " + l;
  EXPECT_TRUE(unrecognised.empty()) << unrecognised.size()
                                    << " TLS-looking smtp(8) lines not recognised:" << list;
  std::cout << tls_lines << " TLS-looking smtp(8) lines recognised; " << other_programs
            << " TLS-looking lines of other programs skipped\n";
}

// Sendmail's informational STARTTLS lines: known forms that are not an outcome. A STARTTLS
// line of another form must be looked at (the live test fails on it).
bool sendmail_informational(std::string_view line) {
  // "STARTTLS: ClientCertFile missing", "… ServerKeyFile missing", "… CRLFile missing": the
  // world's Sendmail has no certificate of its own
  if (const auto at = line.find("STARTTLS: "); at != std::string_view::npos) {
    const std::string_view setting = line.substr(at + 10);
    if (setting.ends_with("File missing") && setting.find(' ') == setting.size() - 8) return true;
  }
  // "STARTTLS: TLS cert verify: depth=0 /CN=…, state=0, reason=certificate has expired": the
  // verify callback's note; the same reason comes as verifymsg= on the cert-subject line
  for (std::string_view form : {"STARTTLS=client, init=", "STARTTLS=client, start=",
                                "STARTTLS: TLS cert verify: ", "STARTTLS=client, SSL_shutdown failed"}) {
    if (line.find(form) != std::string_view::npos) return true;
  }
  return false;
}

struct SendmailRow {
  const char* contains;
  parse::SendmailEventKind kind;
  const char* host;
  const char* ip;
  const char* verify = "";               // starttls_client; verifymsg of starttls_cert
  const char* stat = "";                 // delivery
  std::optional<TlsrptResult> result{};  // starttls_client, starttls_cert
  int count = 1;
};

TEST(SendmailWorldCapture, EveryStarttlsAndDeliveryLineParsesAsTheTableSays) {
  using SK = parse::SendmailEventKind;
  const std::vector<SendmailRow> rows = {
      {"STARTTLS=client, relay=mx1.dane.test.,", SK::starttls_client, "mx1.dane.test", "", "OK"},
      {"to=<user@dane.test>", SK::delivery, "mx1.dane.test", "127.0.0.10", "", "Sent"},
      {"STARTTLS=client, relay=mx1.sts.test.,", SK::starttls_client, "mx1.sts.test", "", "OK"},
      {"to=<user@sts.test>", SK::delivery, "mx1.sts.test", "127.0.0.14", "", "Sent"},
      // Sendmail checks the chain, not the host name: a certificate for wrong.test is verify=OK
      {"STARTTLS=client, relay=mx1.stsmismatch.test.,", SK::starttls_client, "mx1.stsmismatch.test", "",
       "OK"},
      {"to=<user@stsmismatch.test>", SK::delivery, "mx1.stsmismatch.test", "127.0.0.16", "", "Sent"},
      // chains to the test CA, but expired in 2020: verify=FAIL (a failure only where a policy
      // asks for authentication; Sendmail without one delivers), verifymsg= says why
      {"STARTTLS=client, relay=mx1.stsmxexpired.test.,", SK::starttls_client, "mx1.stsmxexpired.test", "",
       "FAIL", "", R::certificate_not_trusted},
      {"cert-subject=/CN=mx1.stsmxexpired.test/", SK::starttls_cert, "", "", "certificate has expired", "",
       R::certificate_expired},
      {"to=<user@stsmxexpired.test>", SK::delivery, "mx1.stsmxexpired.test", "127.0.0.17", "", "Sent"},
      // every other certificate verified (LogLevel 12+: one cert-subject line per STARTTLS)
      {"verifymsg=ok", SK::starttls_cert, "", "", "ok", "", std::nullopt, 4},
      {"STARTTLS=client, relay=mx1.insecure.test.,", SK::starttls_client, "mx1.insecure.test", "", "OK"},
      {"to=<user@insecure.test>", SK::delivery, "mx1.insecure.test", "127.0.0.12", "", "Sent"},
      // no STARTTLS offered: plaintext, no STARTTLS line at all
      {"to=<user@nostarttls.test>", SK::delivery, "mx1.nostarttls.test", "127.0.0.15", "", "Sent"},
  };
  const auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/sendmail-world.log");
  ASSERT_GT(lines.size(), 30u);
  std::map<const SendmailRow*, int> seen;
  for (const auto& line : lines) {
    ASSERT_TRUE(parse::parse_syslog_line(line)) << line;
    auto ev = parse::parse_sendmail_line(line);
    const bool outcome_line = line.find("STARTTLS=client, relay=") != std::string::npos ||
                              line.find("STARTTLS=client, cert-subject=") != std::string::npos ||
                              line.find(" to=<") != std::string::npos;
    if (line.find(": from=<") != std::string::npos && line.find(", msgid=<") != std::string::npos) {
      ASSERT_TRUE(ev) << "from= line with msgid not recognised: " << line;  // for own report mail
      EXPECT_EQ(ev->kind, parse::SendmailEventKind::queued) << line;
      EXPECT_FALSE(ev->message_id.empty()) << line;
      continue;
    }
    if (!outcome_line) {
      EXPECT_FALSE(ev) << line;
      if (line.find("STARTTLS") != std::string::npos) {
        EXPECT_TRUE(sendmail_informational(line)) << "unknown STARTTLS form: " << line;
      }
      continue;
    }
    ASSERT_TRUE(ev) << "not recognised: " << line;
    const SendmailRow* match = nullptr;
    for (const auto& row : rows) {
      if (line.find(row.contains) != std::string::npos) {
        EXPECT_EQ(match, nullptr) << "two table rows match " << line;
        match = &row;
      }
    }
    ASSERT_NE(match, nullptr) << "no table row for " << line;
    ++seen[match];
    SCOPED_TRACE(line);
    EXPECT_EQ(ev->kind, match->kind);
    EXPECT_EQ(ev->host, match->host);
    EXPECT_EQ(ev->ip, match->ip);
    EXPECT_EQ(ev->program, "sendmail");
    if (ev->kind == SK::starttls_client) {
      EXPECT_EQ(ev->verify, match->verify);
      EXPECT_EQ(ev->version, "TLSv1.3");
      EXPECT_EQ(ev->cipher, "TLS_AES_256_GCM_SHA384");
      EXPECT_EQ(ev->result, match->result);
      EXPECT_EQ(ev->failure_needs_policy, match->result.has_value());
    } else if (ev->kind == SK::starttls_cert) {
      EXPECT_EQ(ev->verifymsg, match->verify);
      EXPECT_EQ(ev->result, match->result);
      EXPECT_TRUE(ev->queue_id.empty());
    } else {
      EXPECT_EQ(ev->stat, match->stat);
      EXPECT_EQ(ev->mailer, "esmtp");
      EXPECT_EQ(ev->dsn, "2.0.0");
      EXPECT_FALSE(ev->queue_id.empty());
    }
  }
  for (const auto& row : rows) EXPECT_EQ(seen[&row], row.count) << row.contains;
}

TEST(SendmailWorldCapture, CorrelatedOutcomes) {
  const auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/sendmail-world.log");
  SendmailCorrelator c;
  std::vector<Outcome> out;
  const std::int64_t captured = 1'795'348'800;  // 2026-11-22T12:00:00Z
  for (const auto& line : lines) c.feed(line, captured, out);
  std::map<std::tuple<std::string, std::string, std::string>, int> got;
  for (const auto& o : out) {
    got[{o.policy_domain, o.mx_host, o.failure ? std::string(to_string(*o.failure)) : "success"}]++;
    EXPECT_FALSE(o.receiving_ip.empty()) << o.policy_domain;
  }
  const std::map<std::tuple<std::string, std::string, std::string>, int> want = {
      {{"dane.test", "mx1.dane.test", "success"}, 1},
      {{"sts.test", "mx1.sts.test", "success"}, 1},
      {{"stsmismatch.test", "mx1.stsmismatch.test", "success"}, 1},
      {{"stsmxexpired.test", "mx1.stsmxexpired.test", "certificate-expired"}, 1},
      {{"insecure.test", "mx1.insecure.test", "success"}, 1},
  };
  EXPECT_EQ(got, want);  // nostarttls.test: a plaintext delivery is no TLS session
  EXPECT_EQ(c.stats().uncorrelated, 0u);
  // verify=FAIL is a failure only under a policy that asks for authentication
  for (auto& o : out) {
    if (o.policy_domain != "stsmxexpired.test") continue;
    EXPECT_TRUE(o.failure_needs_policy);
    EXPECT_EQ(o.failure_reason_code, "verify=FAIL");
    Outcome opportunistic = o;
    attribute(opportunistic, std::nullopt);
    EXPECT_TRUE(opportunistic.success());
  }
}

TEST(SendmailWorldLive, EveryStarttlsLineIsRecognised) {
  const char* path = std::getenv("TLSFENCE_WORLD_SENDMAIL_LOG");
  if (path == nullptr) GTEST_SKIP() << "TLSFENCE_WORLD_SENDMAIL_LOG not set (world test only)";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::size_t summaries = 0;
  std::vector<std::string> unrecognised;
  for (std::string line; std::getline(in, line);) {
    if (line.find("STARTTLS") == std::string::npos) continue;
    if (line.find("STARTTLS=client, relay=") != std::string::npos ||
        line.find("STARTTLS=client, cert-subject=") != std::string::npos) {
      summaries += line.find("STARTTLS=client, relay=") != std::string::npos;
      if (!parse::parse_sendmail_line(line)) unrecognised.push_back(line);
    } else if (line.find("STARTTLS=server") == std::string::npos && !sendmail_informational(line)) {
      unrecognised.push_back(line);  // a client-side TLS line of a form not known
    }
  }
  EXPECT_GT(summaries, 0u);
  std::string list;
  for (const auto& l : unrecognised) list += "\n  " + l;
  EXPECT_TRUE(unrecognised.empty()) << unrecognised.size() << " STARTTLS lines not recognised:" << list;
}

}  // namespace
}  // namespace tlsfence::tlsrpt
