// Outcome helpers: attribution, datagram conversion, UTC days.
#include "tlsrpt/outcome.h"

#include <cstdio>

#include "parse/postfix_log.h"

namespace tlsfence::tlsrpt {

void attribute(Outcome& o, std::optional<ReportPolicy> policy) {
  if (policy) {
    o.policy = std::move(*policy);
  } else {
    o.policy = ReportPolicy{};
  }
  if (o.policy.domain.empty()) o.policy.domain = o.policy_domain;
  if (o.failure_needs_policy && o.policy.type == TlsrptPolicyType::no_policy_found) o.failure.reset();
  o.failure_needs_policy = false;
}

std::vector<Outcome> outcomes_from_datagram(const parse::Datagram& d, std::int64_t unix_time) {
  std::vector<Outcome> out;
  const std::int64_t day = utc_day(unix_time);
  for (const auto& p : d.policies) {
    Outcome o;
    o.day = day;
    // "d" is the domain whose TLSRPT record the MTA found: the report goes there. The policy's
    // own "policy-domain" need not be it: real Postfix 3.10 puts the TLSA base domain (the MX
    // host, e.g. "mx1.dane.test" for dane.test) there (data/postfix310-datagrams.jsonl).
    o.policy_domain = normalize_domain(d.domain);
    o.policy.type = p.type;
    o.policy.strings = p.strings;
    o.policy.domain = p.domain.empty() ? o.policy_domain : normalize_domain(p.domain);
    o.policy.mx_hosts = p.mx_hosts;
    if (p.failed) {
      // libtlsrpt: one delivery request = one session; its first failure detail says why.
      if (!p.failures.empty()) {
        const auto& f = p.failures.front();
        o.failure = f.result;
        o.sending_ip = f.sending_mta_ip;
        o.mx_host = f.receiving_mx_hostname;
        o.helo = f.receiving_mx_helo;
        o.receiving_ip = f.receiving_ip;
        o.additional_information = f.additional_information;
        o.failure_reason_code = f.failure_reason_code;
      } else {
        o.failure = TlsrptResult::validation_failure;
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::int64_t utc_day(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

std::string day_string(std::int64_t day) {
  int y, m, d;
  parse::civil_from_days(day, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}

std::optional<std::int64_t> parse_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t n) {
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  std::int64_t day = parse::days_from_civil(y, m, d);
  if (day_string(day) != s) return std::nullopt;  // 2026-02-30 and friends
  return day;
}

std::string normalize_domain(std::string_view d) {
  std::string out(d);
  while (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace tlsfence::tlsrpt
