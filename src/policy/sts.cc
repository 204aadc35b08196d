// MTA-STS evaluation (RFC 8461 §3–§5); see sts.h for the outcomes.
#include "policy/sts.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <optional>
#include <vector>

#include "parse/dns_wire.h"
#include "parse/sts_policy.h"
#include "parse/sts_txt.h"

namespace tlsfence::sts {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::uint32_t seconds_left(const CachedSts& e, TimePoint now) {
  auto expiry = e.fetched_at + std::chrono::seconds(e.policy.max_age);
  if (now >= expiry) return 0;
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(expiry - now).count());
}

// Fills the decision from the policy in force.
void apply(PolicyDecision& d, const CachedSts& entry, TimePoint now, const Options& options) {
  const StsPolicy& p = entry.policy;
  d.sts = p;
  d.ttl = seconds_left(entry, now);
  bool enforce =
      p.mode == StsPolicy::Mode::enforce || (p.mode == StsPolicy::Mode::testing && options.enforce_testing);
  d.reasons.push_back("MTA-STS policy id=" + p.id + " mode=" + std::string(to_string(p.mode)) +
                      " max_age=" + std::to_string(p.max_age) + " (" + std::to_string(d.ttl) + " s left)");
  if (enforce) {
    d.verdict = Verdict::policy;
    d.source = Source::mta_sts;
    d.level = postfix_level(p);
    if (p.mode == StsPolicy::Mode::testing)
      d.reasons.push_back("testing mode enforced (enforce-testing = yes)");
  } else {
    d.verdict = Verdict::no_policy;
    d.source = Source::none;
    d.reasons.push_back(p.mode == StsPolicy::Mode::testing ? "testing mode: not enforced"
                                                           : "mode none: no policy");
  }
}

std::string describe_failure(const DnsAnswer& a) {
  if (a.timed_out) return "timed out";
  if (!a.error.empty()) return a.error;
  if (a.rcode == rcode::servfail) return "SERVFAIL";
  return "DNSSEC bogus: " + (a.why_bogus.empty() ? std::string("validation failed") : a.why_bogus);
}

}  // namespace

std::string postfix_level(const StsPolicy& policy) {
  std::string match;
  for (const auto& raw : policy.mx) {
    std::string p = lower(raw);
    if (!p.empty() && p.back() == '.') p.pop_back();
    if (p.substr(0, 2) == "*.") p = p.substr(1);  // Postfix: ".example" matches subdomains
    if (!match.empty()) match += ':';
    match += p;
  }
  return "secure match=" + match + " servername=hostname";
}

bool is_fresh(const CachedSts& entry, TimePoint now) {
  return now < entry.fetched_at + std::chrono::seconds(entry.policy.max_age);
}

Task<PolicyDecision> evaluate(DnsSource& dns, StsFetcher& fetcher, StsStore& store, const Clock& clock,
                              std::string domain, Options options) {
  PolicyDecision d;
  d.domain = domain;
  const TimePoint now = clock.now();
  d.decided_at = now;

  std::optional<CachedSts> cached = store.get_sts(domain);
  if (cached && !is_fresh(*cached, now)) {
    d.reasons.push_back("cached MTA-STS policy id=" + cached->policy.id + " expired");
    cached.reset();
  }
  auto use_cached = [&](const std::string& why) {
    d.reasons.push_back(why + "; using the cached MTA-STS policy (RFC 8461 §5.1)");
    apply(d, *cached, now, options);
  };

  const std::string txt_name = "_mta-sts." + domain;
  DnsAnswer txt = co_await dns.query(txt_name, rrtype::TXT);
  if (txt.failed() || txt.dnssec == DnssecState::bogus) {
    std::string why = txt_name + " TXT lookup failed: " + describe_failure(txt);
    if (cached) {
      use_cached(why);
      co_return d;
    }
    d.verdict = Verdict::temp_fail;
    d.temp_reason = why;
    d.reasons.push_back(why + "; no cached MTA-STS policy");
    co_return d;
  }

  std::vector<std::string> records;
  for (const auto& rd : txt.rdata) {
    // A malformed RDATA cannot start with v=STSv1: it is counted as an unrelated record.
    records.push_back(parse::parse_txt_rdata(rd).value_or(std::string()));
  }
  parse::StsTxtResult rec = parse::parse_sts_txt(records);
  if (!rec.ok()) {
    std::string why = txt.nxdomain() ? txt_name + " does not exist"
                                     : txt_name + " TXT: no usable MTA-STS record (" + rec.detail + ")";
    if (cached) {
      use_cached(why);
      co_return d;
    }
    d.verdict = Verdict::no_policy;
    d.reasons.push_back(why + "; no MTA-STS policy");
    co_return d;
  }
  d.reasons.push_back(txt_name + " TXT id=" + rec.id);

  if (cached && cached->policy.id == rec.id) {
    d.reasons.push_back("cached policy has the same id: not fetched");
    apply(d, *cached, now, options);
    co_return d;
  }
  if (cached) d.reasons.push_back("id changed from " + cached->policy.id + ": re-fetching");

  StsFetchResult fetched = co_await fetcher.fetch(domain);
  std::string failure;
  std::string result_type;
  std::optional<CachedSts> fresh;
  if (!fetched.ok()) {
    failure = "policy fetch from mta-sts." + domain + " failed (" + std::string(to_string(fetched.error)) +
              "): " + fetched.detail;
    result_type = std::string(rfc8460_result_type(fetched.error));
  } else {
    parse::StsPolicyResult parsed = parse::parse_sts_policy(fetched.body);
    if (!parsed.ok()) {
      failure = "policy from mta-sts." + domain + " is invalid (" + std::string(to_string(parsed.error)) +
                "): " + parsed.detail;
      result_type = "sts-policy-invalid";
    } else {
      fresh = CachedSts{std::move(parsed.policy), now};
      fresh->policy.id = rec.id;
    }
  }
  if (!fresh) {
    if (cached) {
      use_cached(failure);
      co_return d;
    }
    d.verdict = Verdict::no_policy;
    d.result_type = result_type;
    d.reasons.push_back(failure + "; no valid MTA-STS policy, nothing enforced");
    co_return d;
  }
  store.put_sts(domain, *fresh);
  d.reasons.push_back("fetched policy from mta-sts." + domain + " (" + fetched.address + ")");
  apply(d, *fresh, now, options);
  co_return d;
}

}  // namespace tlsfence::sts
