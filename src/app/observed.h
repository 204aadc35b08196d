#pragma once
// Counting decorators between PolicyService and its sources, for the metrics listener:
//   CountingDns      — every DNS lookup by outcome (secure, insecure, bogus, servfail,
//                      timeout, error), and the current run of failed lookups (the health
//                      check calls the resolver unusable after kUnusableStreak in a row);
//   CountingFetcher  — every MTA-STS policy fetch by outcome (ok, dns, tls, webpki, timeout…);
//   ResolutionCounts — every resolution (not cache hits) by source, verdict and RFC 8460
//                      result type.
// They only count (relaxed atomics) and pass everything through unchanged.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "async/asio.h"
#include "metrics/exposition.h"
#include "metrics/metric.h"
#include "policy/dns_source.h"
#include "policy/sts_fetcher.h"
#include "tlsfence/policy.h"

namespace tlsfence::observe {

enum class DnsOutcome : std::size_t { secure, insecure, bogus, indeterminate, servfail, timeout, error };
inline constexpr std::size_t kDnsOutcomes = 7;
std::string_view to_string(DnsOutcome o);
DnsOutcome classify(const DnsAnswer& a);

class CountingDns final : public DnsSource {
 public:
  static constexpr std::uint64_t kUnusableStreak = 10;
  explicit CountingDns(DnsSource& inner) : inner_(inner) {}
  Task<DnsAnswer> query(std::string name, std::uint16_t type) override;

  const metrics::CounterArray<kDnsOutcomes>& outcomes() const { return outcomes_; }
  // Lookups failed (servfail, timeout, error) in a row, up to now; 0 after any answer.
  std::uint64_t failure_streak() const { return streak_.load(std::memory_order_relaxed); }

 private:
  DnsSource& inner_;
  metrics::CounterArray<kDnsOutcomes> outcomes_;
  std::atomic<std::uint64_t> streak_{0};
};

inline constexpr std::size_t kFetchOutcomes = 12;  // StsFetchResult::Error values

class CountingFetcher final : public StsFetcher {
 public:
  explicit CountingFetcher(StsFetcher& inner) : inner_(inner) {}
  Task<StsFetchResult> fetch(std::string policy_domain) override;
  const metrics::CounterArray<kFetchOutcomes>& outcomes() const { return outcomes_; }

 private:
  StsFetcher& inner_;
  metrics::CounterArray<kFetchOutcomes> outcomes_;
};

class ResolutionCounts {
 public:
  static constexpr std::size_t kSources = 4, kVerdicts = 3, kResults = 12;  // results: 11 + none
  void count(const PolicyDecision& d);
  // tlsfence_resolutions_total{source,verdict,result_type}: the combinations seen so far.
  void write(metrics::Writer& w) const;

 private:
  metrics::CounterArray<kSources * kVerdicts * kResults> counts_;
};

}  // namespace tlsfence::observe
