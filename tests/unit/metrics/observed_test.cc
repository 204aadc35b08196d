// The counting decorators of tlsfenced's metrics: DNS answers classified by outcome (bogus
// before SERVFAIL, timeouts, resolver errors), the failure streak behind "resolver unusable",
// MTA-STS fetch outcomes, and resolutions by source/verdict/result type in the exposition.
#include "app/observed.h"

#include <gtest/gtest.h>

#include <deque>

#include <boost/asio/use_future.hpp>

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::observe {
namespace {

class QueueDns final : public DnsSource {
 public:
  std::deque<DnsAnswer> answers;
  Task<DnsAnswer> query(std::string, std::uint16_t) override {
    DnsAnswer a = answers.front();
    answers.pop_front();
    co_return a;
  }
};

class FixedFetcher final : public StsFetcher {
 public:
  StsFetchResult::Error error = StsFetchResult::Error::none;
  Task<StsFetchResult> fetch(std::string) override {
    StsFetchResult r;
    r.error = error;
    co_return r;
  }
};

template <class T>
T run(asio::io_context& io, Task<T> task) {
  auto f = asio::co_spawn(io, std::move(task), asio::use_future);
  io.restart();
  io.run();
  return f.get();
}

DnsAnswer answer(DnssecState s, int rc = rcode::noerror) {
  DnsAnswer a;
  a.dnssec = s;
  a.rcode = rc;
  return a;
}

TEST(Observed, DnsOutcomesAndTheFailureStreak) {
  DnsAnswer timeout;
  timeout.timed_out = true;
  DnsAnswer error;
  error.error = "no usable resolver";
  EXPECT_EQ(classify(answer(DnssecState::bogus, rcode::servfail)), DnsOutcome::bogus);
  EXPECT_EQ(classify(answer(DnssecState::insecure, rcode::servfail)), DnsOutcome::servfail);
  EXPECT_EQ(classify(answer(DnssecState::secure, rcode::nxdomain)), DnsOutcome::secure);
  EXPECT_EQ(classify(timeout), DnsOutcome::timeout);
  EXPECT_EQ(classify(error), DnsOutcome::error);

  asio::io_context io;
  QueueDns inner;
  CountingDns dns(inner);
  inner.answers = {answer(DnssecState::secure), timeout, error,
                   answer(DnssecState::insecure, rcode::servfail), answer(DnssecState::insecure)};
  for (int i = 0; i < 4; ++i) run(io, dns.query("x.test", rrtype::MX));
  EXPECT_EQ(dns.failure_streak(), 3u);
  run(io, dns.query("x.test", rrtype::MX));
  EXPECT_EQ(dns.failure_streak(), 0u);  // any answer ends it
  EXPECT_EQ(dns.outcomes().value(static_cast<std::size_t>(DnsOutcome::secure)), 1u);
  EXPECT_EQ(dns.outcomes().value(static_cast<std::size_t>(DnsOutcome::insecure)), 1u);
  EXPECT_EQ(dns.outcomes().value(static_cast<std::size_t>(DnsOutcome::timeout)), 1u);
  EXPECT_EQ(dns.outcomes().value(static_cast<std::size_t>(DnsOutcome::error)), 1u);
  EXPECT_EQ(dns.outcomes().value(static_cast<std::size_t>(DnsOutcome::servfail)), 1u);
}

TEST(Observed, FetchOutcomes) {
  asio::io_context io;
  FixedFetcher inner;
  CountingFetcher fetcher(inner);
  run(io, fetcher.fetch("sts.test"));
  inner.error = StsFetchResult::Error::webpki;
  run(io, fetcher.fetch("sts.test"));
  run(io, fetcher.fetch("sts.test"));
  EXPECT_EQ(fetcher.outcomes().value(static_cast<std::size_t>(StsFetchResult::Error::none)), 1u);
  EXPECT_EQ(fetcher.outcomes().value(static_cast<std::size_t>(StsFetchResult::Error::webpki)), 2u);
  static_assert(static_cast<std::size_t>(StsFetchResult::Error::protocol) + 1 == kFetchOutcomes);
}

TEST(Observed, ResolutionsBySourceVerdictAndResultType) {
  ResolutionCounts counts;
  PolicyDecision dane;
  dane.source = Source::dane;
  dane.verdict = Verdict::policy;
  PolicyDecision bogus;
  bogus.source = Source::dane;
  bogus.verdict = Verdict::temp_fail;
  bogus.result_type = "dnssec-invalid";
  counts.count(dane);
  counts.count(dane);
  counts.count(bogus);
  metrics::Writer w;
  counts.write(w);
  const std::string& t = w.text();
  EXPECT_NE(t.find("tlsfence_resolutions_total{source=\"dane\",verdict=\"policy\",result_type=\"none\"} 2\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("tlsfence_resolutions_total{source=\"dane\",verdict=\"temp-fail\",result_type=\"dnssec-"
                   "invalid\"} 1\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("source=\"sts\""), std::string::npos);  // only combinations seen
}

}  // namespace
}  // namespace tlsfence::observe
