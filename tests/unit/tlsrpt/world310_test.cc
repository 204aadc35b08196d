// Real Postfix 3.10 TLSRPT output: data/postfix310-world.log (its mail log) and
// data/postfix310-datagrams.jsonl (the libtlsrpt datagrams it sent to smtp_tlsrpt_socket_name,
// one JSON string of the datagram's exact bytes per line), captured from Debian 13's Postfix
// 3.10.13 + libtlsrpt0 0.5.0rc1 sending into the test world (see
// data/capture-postfix310-world.sh). Every "TLSRPT: status=…" line must parse to what the
// table says, every datagram to the expected domain, policy and result, and both sources must
// give the same sessions.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // GCC bug 105329 in nlohmann::json's string copies
#endif

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "parse/postfix_log.h"
#include "parse/tlsrpt_datagram.h"
#include "tlsrpt/correlator.h"
#include "tlsrpt/outcome.h"

namespace tlsfence::tlsrpt {
namespace {

using R = TlsrptResult;
using P = TlsrptPolicyType;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// The datagrams' exact bytes (each line of the .jsonl is a JSON string).
std::vector<std::string> read_datagrams() {
  std::vector<std::string> out;
  for (const auto& line : read_lines(TLSFENCE_TLSRPT_DATA "/postfix310-datagrams.jsonl")) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_string()) << line;
    if (j.is_string()) out.push_back(j.get<std::string>());
  }
  return out;
}

bool smtp_client_line(std::string_view line) {
  auto sys = parse::parse_syslog_line(line);
  return sys && (sys->program == "smtp" || sys->program.ends_with("/smtp"));
}

struct LineRow {
  const char* domain;
  const char* host;
  const char* ip;
  std::optional<TlsrptResult> result;  // nullopt: status=success
};

// Every TLSRPT line of the capture, in order.
const std::vector<LineRow>& line_table() {
  static const std::vector<LineRow> rows = {
      {"dane.test", "mx1.dane.test", "127.0.0.10", std::nullopt},
      // DANE-EE of a wrong key: Postfix 3.10 calls it certificate_not_trusted (not tlsa-invalid)
      {"danefail.test", "mx1.danefail.test", "127.0.0.12", R::certificate_not_trusted},
      {"danemxexpired.test", "mx1.danemxexpired.test", "127.0.0.17", R::certificate_expired},
      {"sts.test", "mx1.sts.test", "127.0.0.14", std::nullopt},
      {"stsmismatch.test", "mx1.stsmismatch.test", "127.0.0.16", R::certificate_host_mismatch},
      {"stsmxexpired.test", "mx1.stsmxexpired.test", "127.0.0.17", R::certificate_expired},
      {"nostarttls.test", "mx1.nostarttls.test", "127.0.0.15", R::starttls_not_supported},
      {"insecure.test", "mx1.insecure.test", "127.0.0.12", std::nullopt},
  };
  return rows;
}

TEST(Postfix310WorldCapture, TlsrptLinesParseAsTheTableSays) {
  const auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/postfix310-world.log");
  const auto& rows = line_table();
  std::size_t i = 0;
  for (const auto& line : lines) {
    if (line.find("TLSRPT") == std::string::npos) continue;
    ASSERT_LT(i, rows.size()) << "more TLSRPT lines than the table has: " << line;
    const auto& row = rows[i++];
    ASSERT_TRUE(smtp_client_line(line)) << line;
    auto ev = parse::parse_postfix_line(line);
    ASSERT_TRUE(ev) << line;
    EXPECT_EQ(ev->kind, parse::PostfixEventKind::tlsrpt_status) << line;
    EXPECT_EQ(ev->program, "postfix/smtp") << line;
    EXPECT_NE(ev->pid, 0u) << line;
    EXPECT_TRUE(ev->queue_id.empty()) << line;
    EXPECT_EQ(ev->policy_domain, row.domain) << line;
    EXPECT_EQ(ev->host, row.host) << line;
    EXPECT_EQ(ev->ip, row.ip) << line;
    EXPECT_EQ(ev->port, 0) << line;
    EXPECT_EQ(ev->success, !row.result.has_value()) << line;
    EXPECT_EQ(ev->result, row.result) << line;
    EXPECT_TRUE(ev->reason.empty()) << line;  // 3.10.13 wrote no failure_reason here
  }
  EXPECT_EQ(i, rows.size());
}

// The other smtp(8) lines of 3.10 are worded as 3.7's: every TLS-looking one is recognised.
TEST(Postfix310WorldCapture, EveryTlsLookingSmtpLineIsRecognised) {
  std::size_t checked = 0;
  for (const auto& line : read_lines(TLSFENCE_TLSRPT_DATA "/postfix310-world.log")) {
    bool tls = false;
    for (std::string_view w : {"TLS", "certificate", "DANE", "TLSA"}) tls = tls || line.find(w) != line.npos;
    if (!tls || !smtp_client_line(line)) continue;
    ++checked;
    EXPECT_TRUE(parse::parse_postfix_line(line)) << line;
  }
  EXPECT_GE(checked, 20u);
}

using Sessions = std::map<std::tuple<std::string, std::string>, int>;  // (domain, failure) → n

const Sessions& want_sessions() {
  static const Sessions want = {
      {{"dane.test", "success"}, 1},
      {{"danefail.test", "certificate-not-trusted"}, 1},
      {{"danemxexpired.test", "certificate-expired"}, 1},
      {{"sts.test", "success"}, 1},
      {{"stsmismatch.test", "certificate-host-mismatch"}, 1},
      {{"stsmxexpired.test", "certificate-expired"}, 1},
      {{"nostarttls.test", "starttls-not-supported"}, 1},
      {{"insecure.test", "success"}, 1},
  };
  return want;
}

std::string failure_name(const Outcome& o) {
  return o.failure ? std::string(to_string(*o.failure)) : "success";
}

// With TLSRPT lines in the log the correlator counts them alone: one outcome per line.
TEST(Postfix310WorldCapture, CorrelatedOutcomes) {
  PostfixCorrelator c;
  std::vector<Outcome> out;
  const std::int64_t captured = 1'795'348'800;  // 2026-11-22T12:00:00Z, the capture's day
  for (const auto& line : read_lines(TLSFENCE_TLSRPT_DATA "/postfix310-world.log"))
    c.feed(line, captured, out);
  Sessions got;
  for (const auto& o : out) {
    got[{o.policy_domain, failure_name(o)}]++;
    EXPECT_EQ(o.day, captured / 86400) << o.policy_domain;
    EXPECT_EQ(o.mx_host, "mx1." + o.policy_domain);
    EXPECT_FALSE(o.receiving_ip.empty()) << o.policy_domain;
  }
  EXPECT_EQ(got, want_sessions());
  EXPECT_EQ(c.stats().uncorrelated, 0u);
}

struct DatagramRow {
  const char* d;
  const char* rua;  // the "pr" record's rua
  P type;
  const char* policy_domain;
  std::vector<std::string> strings;  // exact, or one prefix ending in "…" for TLSA data
  std::vector<std::string> mx_hosts;
  std::optional<TlsrptResult> result;
  const char* mx = "";  // failure detail "n"
  const char* ip = "";  // failure detail "r"
};

// Every datagram of the capture, in order.
const std::vector<DatagramRow>& datagram_table() {
  static const std::string rua = "mailto:tlsrpt@reports.test";
  static const std::vector<std::string> none;
  static const std::vector<DatagramRow> rows = {
      // DANE: policy-domain is the TLSA base domain (the MX host), "d" the recipient domain
      {"dane.test", "mailto:tlsrpt@reports.test", P::tlsa, "mx1.dane.test", {"3 1 1 …"}, none, std::nullopt},
      {"danefail.test",
       "mailto:tlsrpt@reports.test",
       P::tlsa,
       "mx1.danefail.test",
       {"3 1 1 5F0B1C7A8E2D4B6F90A3C5E7D9F1B3A5C7E9F0A2B4C6D8E0F1A3B5C7D9E1F3A5"},
       none,
       R::certificate_not_trusted,
       "mx1.danefail.test",
       "127.0.0.12"},
      {"danemxexpired.test",
       "mailto:tlsrpt@reports.test",
       P::tlsa,
       "mx1.danemxexpired.test",
       {"2 0 1 …"},
       none,
       R::certificate_expired,
       "mx1.danemxexpired.test",
       "127.0.0.17"},
      {"sts.test",
       "mailto:tlsrpt@reports.test,https://tlsrpt.test/report",
       P::sts,
       "sts.test",
       {"version: STSv1", "mode: enforce", "mx: mx1.sts.test", "mx: *.mx.sts.test", "max_age: 86400"},
       {"mx1.sts.test", "*.mx.sts.test"},
       std::nullopt},
      {"stsmismatch.test",
       "mailto:tlsrpt@reports.test",
       P::sts,
       "stsmismatch.test",
       {"version: STSv1", "mode: enforce", "mx: mx1.stsmismatch.test", "max_age: 86400"},
       {"mx1.stsmismatch.test"},
       R::certificate_host_mismatch,
       "mx1.stsmismatch.test",
       "127.0.0.16"},
      {"stsmxexpired.test",
       "mailto:tlsrpt@reports.test",
       P::sts,
       "stsmxexpired.test",
       {"version: STSv1", "mode: enforce", "mx: mx1.stsmxexpired.test", "max_age: 86400"},
       {"mx1.stsmxexpired.test"},
       R::certificate_expired,
       "mx1.stsmxexpired.test",
       "127.0.0.17"},
      // smtp_tls_policy_maps "encrypt": no policy of a kind TLSRPT knows
      {"nostarttls.test", "mailto:tlsrpt@reports.test", P::no_policy_found, "nostarttls.test", none, none,
       R::starttls_not_supported, "mx1.nostarttls.test", "127.0.0.15"},
      // unsigned zone: opportunistic TLS
      {"insecure.test", "mailto:tlsrpt@reports.test", P::no_policy_found, "insecure.test", none, none,
       std::nullopt},
  };
  return rows;
}

TEST(Postfix310Datagrams, ParseToTheExpectedPolicies) {
  const auto datagrams = read_datagrams();
  const auto& rows = datagram_table();
  ASSERT_EQ(datagrams.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const auto& bytes = datagrams[i];
    auto r = parse::parse_tlsrpt_datagram(bytes);
    ASSERT_TRUE(r.datagram) << to_string(r.error) << " " << r.detail << ": " << bytes;
    const auto& d = *r.datagram;
    EXPECT_EQ(d.version, "") << bytes;  // libtlsrpt 0.5.0rc1 sends no "dpv"
    EXPECT_EQ(d.domain, row.d) << bytes;
    EXPECT_EQ(d.policy_record, "v=TLSRPTv1; rua=" + std::string(row.rua)) << bytes;
    ASSERT_EQ(d.policies.size(), 1u) << bytes;
    const auto& p = d.policies[0];
    EXPECT_EQ(p.type, row.type) << bytes;
    EXPECT_EQ(p.domain, row.policy_domain) << bytes;
    if (row.strings.size() == 1 && row.strings[0].ends_with("…")) {
      ASSERT_EQ(p.strings.size(), 1u) << bytes;
      const std::string prefix = row.strings[0].substr(0, row.strings[0].size() - std::string("…").size());
      EXPECT_TRUE(p.strings[0].starts_with(prefix)) << p.strings[0];
      EXPECT_EQ(p.strings[0].size(), prefix.size() + 64) << p.strings[0];  // SHA-256 hex
    } else {
      EXPECT_EQ(p.strings, row.strings) << bytes;
    }
    EXPECT_EQ(p.mx_hosts, row.mx_hosts) << bytes;
    EXPECT_EQ(p.failed, row.result.has_value()) << bytes;
    if (!row.result) {
      EXPECT_TRUE(p.failures.empty()) << bytes;
      continue;
    }
    ASSERT_EQ(p.failures.size(), 1u) << bytes;
    const auto& f = p.failures[0];
    EXPECT_EQ(f.result, *row.result) << bytes;
    EXPECT_EQ(f.sending_mta_ip, "127.0.0.1") << bytes;
    EXPECT_EQ(f.receiving_mx_hostname, row.mx) << bytes;
    EXPECT_EQ(f.receiving_ip, row.ip) << bytes;
    // the MX's whole EHLO response, CRLF-separated (postfix-in calls itself mx1.dane.test)
    EXPECT_TRUE(f.receiving_mx_helo.starts_with("250-mx1.dane.test\r\n250-PIPELINING\r\n")) << bytes;
    EXPECT_TRUE(f.receiving_mx_helo.ends_with("\r\n250 CHUNKING")) << bytes;
    EXPECT_TRUE(f.additional_information.empty()) << bytes;
    EXPECT_TRUE(f.failure_reason_code.empty()) << bytes;
  }
}

// The datagrams give the sessions the TLSRPT lines give, under the domain of "d" (the one with
// the TLSRPT record), while the policy keeps the datagram's own policy-domain.
TEST(Postfix310Datagrams, OutcomesMatchTheLogLines) {
  const std::int64_t captured = 1'795'348'800;
  Sessions got;
  const auto datagrams = read_datagrams();
  for (const auto& bytes : datagrams) {
    auto r = parse::parse_tlsrpt_datagram(bytes);
    ASSERT_TRUE(r.datagram) << bytes;
    for (const auto& o : outcomes_from_datagram(*r.datagram, captured)) {
      got[{o.policy_domain, failure_name(o)}]++;
      EXPECT_EQ(o.policy_domain, r.datagram->domain);
      EXPECT_EQ(o.policy.domain, r.datagram->policies[0].domain);
      EXPECT_EQ(o.policy.type, r.datagram->policies[0].type);
      if (o.failure) {
        EXPECT_EQ(o.mx_host, "mx1." + o.policy_domain);
        EXPECT_EQ(o.sending_ip, "127.0.0.1");
      }
    }
  }
  EXPECT_EQ(got, want_sessions());
}

}  // namespace
}  // namespace tlsfence::tlsrpt
