// PolicyService over a PolicyCache: the socketmap's no-wait path (find_cached), the parsed path
// and `tlsfence cache refresh` (refresh) agree, and none of them bypasses the override rules.
#include "policy/service.h"

#include <gtest/gtest.h>

#include "fake_dns.h"
#include "policy/cache.h"

// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::policy {
namespace {

using std::chrono::seconds;

struct FakeClock final : Clock {
  TimePoint t{seconds{1'700'000'000}};
  TimePoint now() const override { return t; }
};

struct NoFetch final : StsFetcher {
  Task<StsFetchResult> fetch(std::string) override {
    StsFetchResult r;
    r.error = StsFetchResult::Error::connect;
    co_return r;
  }
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dns.mx("dane.test", {{10, "mx.dane.test"}});
    dns.host("mx.dane.test", "192.0.2.1");
    dns.tlsa("mx.dane.test", {test::tlsa_good()});
    make_service({});
  }
  void make_service(std::vector<std::string> overrides) {
    CacheOptions o;
    o.seed = 7;
    cache = std::make_unique<PolicyCache>(io.get_executor(), clock, o);
    ServiceOptions so;
    so.overrides = std::move(overrides);
    service = std::make_unique<PolicyService>(so, dns, fetcher, *cache, clock, cache.get());
  }
  template <class T>
  T run(Task<T> task) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
      if (!e) out = std::move(v);
    });
    io.restart();
    io.run();
    EXPECT_TRUE(out.has_value());
    return out.value_or(T{});
  }

  asio::io_context io;
  FakeClock clock;
  test::FakeDns dns;
  NoFetch fetcher;
  std::unique_ptr<PolicyCache> cache;
  std::unique_ptr<PolicyService> service;
};

TEST_F(ServiceTest, FindCachedOnlyForTheNormalisedKeyOfAFreshEntry) {
  EXPECT_EQ(service->find_cached("dane.test"), nullptr);  // nothing cached yet
  EXPECT_EQ(run(service->decide("dane.test")).level, "dane-only");
  const std::size_t queries = dns.queries.size();
  auto hit = service->find_cached("dane.test");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->level, "dane-only");
  // Keys that need parsing are not found as they are; decide() parses them to the same entry.
  EXPECT_EQ(service->find_cached("DANE.test"), nullptr);
  EXPECT_EQ(service->find_cached("dane.test."), nullptr);
  auto parsed = run(service->decide_shared("DANE.Test."));
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed.get(), hit.get());  // the same cached decision, shared
  EXPECT_EQ(dns.queries.size(), queries);
  clock.t += seconds(7200);  // past the TTL: not fresh, the caller must wait for a lookup
  EXPECT_EQ(service->find_cached("dane.test"), nullptr);
}

TEST_F(ServiceTest, OverridesComeBeforeTheCacheOnEveryPath) {
  EXPECT_EQ(run(service->decide("dane.test")).level, "dane-only");
  ServiceOptions so;
  so.overrides = {"dane.test encrypt"};
  service->reconfigure(so);
  EXPECT_EQ(service->find_cached("dane.test"), nullptr);
  EXPECT_EQ(run(service->decide_shared("dane.test"))->level, "encrypt");
  EXPECT_EQ(run(service->refresh("dane.test")).level, "encrypt");
}

TEST_F(ServiceTest, RefreshResolvesAFreshEntryAgainButNeverWeakensIt) {
  EXPECT_EQ(run(service->decide("dane.test")).level, "dane-only");
  std::size_t queries = dns.queries.size();
  EXPECT_EQ(run(service->refresh("dane.test")).level, "dane-only");
  EXPECT_GT(dns.queries.size(), queries);  // resolved again although fresh
  // DNS now fails: the refresh answers (and keeps) the still-valid policy, not TEMP.
  dns.set("dane.test", 15 /* MX */, test::servfail());
  queries = dns.queries.size();
  const PolicyDecision d = run(service->refresh("dane.test"));
  EXPECT_GT(dns.queries.size(), queries);
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.level, "dane-only");
  EXPECT_EQ(service->find_cached("dane.test")->level, "dane-only");
}

}  // namespace
}  // namespace tlsfence::policy
