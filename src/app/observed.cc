// The counting decorators (see observed.h).
#include "app/observed.h"

#include "tlsfence/tlsrpt_result.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::observe {

std::string_view to_string(DnsOutcome o) {
  switch (o) {
    case DnsOutcome::secure: return "secure";
    case DnsOutcome::insecure: return "insecure";
    case DnsOutcome::bogus: return "bogus";
    case DnsOutcome::indeterminate: return "indeterminate";
    case DnsOutcome::servfail: return "servfail";
    case DnsOutcome::timeout: return "timeout";
    case DnsOutcome::error: return "error";
  }
  return "error";
}

DnsOutcome classify(const DnsAnswer& a) {
  if (a.timed_out) return DnsOutcome::timeout;
  if (!a.error.empty()) return DnsOutcome::error;
  // libunbound answers a validation failure as bogus with SERVFAIL or with data: bogus first.
  if (a.dnssec == DnssecState::bogus) return DnsOutcome::bogus;
  if (a.rcode == rcode::servfail) return DnsOutcome::servfail;
  switch (a.dnssec) {
    case DnssecState::secure: return DnsOutcome::secure;
    case DnssecState::insecure: return DnsOutcome::insecure;
    default: return DnsOutcome::indeterminate;
  }
}

Task<DnsAnswer> CountingDns::query(std::string name, std::uint16_t type) {
  DnsAnswer a = co_await inner_.query(std::move(name), type);
  const DnsOutcome o = classify(a);
  outcomes_.inc(static_cast<std::size_t>(o));
  if (o == DnsOutcome::timeout || o == DnsOutcome::error || o == DnsOutcome::servfail) {
    streak_.fetch_add(1, std::memory_order_relaxed);
  } else {
    streak_.store(0, std::memory_order_relaxed);
  }
  co_return a;
}

Task<StsFetchResult> CountingFetcher::fetch(std::string policy_domain) {
  StsFetchResult r = co_await inner_.fetch(std::move(policy_domain));
  outcomes_.inc(static_cast<std::size_t>(r.error));
  co_return r;
}

namespace {
static_assert(std::size(kAllTlsrptResults) + 1 == ResolutionCounts::kResults);

std::size_t result_index(const std::string& type) {
  if (type.empty()) return 0;
  if (auto r = tlsrpt_result_from_name(type)) return static_cast<std::size_t>(*r) + 1;
  return 0;
}
}  // namespace

void ResolutionCounts::count(const PolicyDecision& d) {
  const auto source = static_cast<std::size_t>(d.source);
  const auto verdict = static_cast<std::size_t>(d.verdict);
  counts_.inc((source * kVerdicts + verdict) * kResults + result_index(d.result_type));
}

void ResolutionCounts::write(metrics::Writer& w) const {
  w.family("tlsfence_resolutions_total", metrics::Type::counter,
           "Policy resolutions (cache misses and refreshes) by source, verdict and RFC 8460 result type "
           "(\"none\" when the resolution found no failure).");
  for (std::size_t s = 0; s < kSources; ++s)
    for (std::size_t v = 0; v < kVerdicts; ++v)
      for (std::size_t r = 0; r < kResults; ++r) {
        const std::uint64_t n = counts_.value((s * kVerdicts + v) * kResults + r);
        if (n == 0) continue;
        const std::string_view result = r == 0 ? "none" : to_string(kAllTlsrptResults[r - 1]);
        w.sample({{"source", to_string(static_cast<Source>(s))},
                  {"verdict", to_string(static_cast<Verdict>(v))},
                  {"result_type", result}},
                 n);
      }
}

}  // namespace tlsfence::observe
