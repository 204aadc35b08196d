#include "policy/cache.h"

#include <gtest/gtest.h>

#include <boost/asio/redirect_error.hpp>

// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::policy {
namespace {

using std::chrono::seconds;

struct FakeClock final : Clock {
  TimePoint t{seconds{1'700'000'000}};
  TimePoint now() const override { return t; }
};

struct RecordingPersistence final : CachePersistence {
  std::vector<std::string> log;
  void put_decision(std::shared_ptr<const PolicyDecision> d, TimePoint, TimePoint) override {
    log.push_back("put " + d->domain);
  }
  void erase_decision(const std::string& domain) override { log.push_back("erase " + domain); }
  void put_sts(const std::string& domain, const CachedSts&) override { log.push_back("put_sts " + domain); }
  void erase_sts(const std::string& domain) override { log.push_back("erase_sts " + domain); }
  void erase_all() override { log.push_back("erase_all"); }
};

PolicyDecision make(const std::string& domain, Verdict v, std::uint32_t ttl, std::string level,
                    TimePoint at) {
  PolicyDecision d;
  d.domain = domain;
  d.verdict = v;
  d.source = v == Verdict::policy ? Source::dane : Source::none;
  d.level = v == Verdict::policy ? level : "";
  d.temp_reason = v == Verdict::temp_fail ? level : "";
  d.ttl = ttl;
  d.decided_at = at;
  d.reasons = {"resolved: " + level};
  return d;
}

// A resolve function that counts its calls and answers what `next` says; when `gated`, it
// waits until the test opens the gate (to hold resolutions in flight).
struct FakeResolver {
  FakeResolver(asio::io_context& io, FakeClock& clock)
      : clock(clock), gate(io, asio::steady_timer::time_point::max()) {}
  FakeClock& clock;
  asio::steady_timer gate;
  int calls = 0;
  bool gated = false;
  bool throws = false;
  Verdict verdict = Verdict::policy;
  std::uint32_t ttl = 300;
  std::string level = "dane-only";
  std::optional<StsPolicy> sts;

  PolicyCache::Resolve fn(const std::string& domain) {
    return [this, domain]() -> Task<PolicyDecision> {
      ++calls;
      if (gated) {
        boost::system::error_code ec;
        co_await gate.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (throws) throw std::runtime_error("boom");
      auto d = make(domain, verdict, ttl, level, clock.t);
      if (sts) {
        d.source = Source::mta_sts;
        d.sts = sts;
      }
      co_return d;
    };
  }
  void open_gate() { gate.cancel(); }
};

class CacheTest : public ::testing::Test {
 protected:
  CacheOptions options() {
    CacheOptions o;
    o.max_entries = 100;
    o.negative_ttl_max = 3600;
    o.temp_ttl = 30;
    o.seed = 42;
    return o;
  }
  void make_cache(CacheOptions o) {
    cache = std::make_unique<PolicyCache>(io.get_executor(), clock, o, &persist);
  }
  void SetUp() override { make_cache(options()); }

  void settle() {
    for (int i = 0; i < 1000; ++i) {
      io.restart();
      if (io.poll() == 0) break;
    }
  }
  // Starts a lookup; the result lands in the returned slot once the loop ran.
  std::shared_ptr<std::optional<PolicyDecision>> start(const std::string& domain, FakeResolver& r) {
    auto slot = std::make_shared<std::optional<PolicyDecision>>();
    asio::co_spawn(io, cache->get_or_resolve(domain, r.fn(domain)),
                   [slot](std::exception_ptr e, PolicyDecision d) {
                     if (!e) *slot = std::move(d);
                   });
    return slot;
  }
  PolicyDecision get(const std::string& domain, FakeResolver& r) {
    auto slot = start(domain, r);
    settle();
    EXPECT_TRUE(slot->has_value());
    return slot->value_or(PolicyDecision{});
  }
  void advance(int s) { clock.t += seconds(s); }

  asio::io_context io;
  FakeClock clock;
  RecordingPersistence persist;
  std::unique_ptr<PolicyCache> cache;
};

TEST_F(CacheTest, MissThenHit) {
  FakeResolver r(io, clock);
  EXPECT_EQ(get("example.com", r).level, "dane-only");
  EXPECT_EQ(r.calls, 1);
  r.level = "changed";
  EXPECT_EQ(get("example.com", r).level, "dane-only");
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(cache->stats().hits, 1u);
  EXPECT_EQ(cache->stats().misses, 1u);
  EXPECT_EQ(cache->size(), 1u);
  ASSERT_NE(cache->find_fresh("example.com"), nullptr);
  EXPECT_EQ(persist.log, std::vector<std::string>{"put example.com"});
}

TEST_F(CacheTest, ExpiresByTtl) {
  auto o = options();
  o.refresh = false;  // pure TTL behaviour
  make_cache(o);
  FakeResolver r(io, clock);
  r.ttl = 300;
  get("example.com", r);
  advance(299);
  get("example.com", r);
  EXPECT_EQ(r.calls, 1);
  advance(1);
  r.level = "dane";
  EXPECT_EQ(get("example.com", r).level, "dane");
  EXPECT_EQ(r.calls, 2);
}

TEST_F(CacheTest, NegativeCachingIsCapped) {
  auto o = options();
  o.refresh = false;  // pure TTL behaviour
  make_cache(o);
  FakeResolver r(io, clock);
  r.verdict = Verdict::no_policy;
  r.ttl = 86400;
  EXPECT_EQ(get("none.test", r).verdict, Verdict::no_policy);
  advance(3599);
  get("none.test", r);
  EXPECT_EQ(r.calls, 1);
  advance(1);
  get("none.test", r);
  EXPECT_EQ(r.calls, 2);
}

TEST_F(CacheTest, NegativeTtlBelowCapIsKept) {
  FakeResolver r(io, clock);
  r.verdict = Verdict::no_policy;
  r.ttl = 60;
  get("none.test", r);
  advance(61);
  get("none.test", r);
  EXPECT_EQ(r.calls, 2);
}

TEST_F(CacheTest, TempFailKeptOnlyTempTtlAndNotPersisted) {
  FakeResolver r(io, clock);
  r.verdict = Verdict::temp_fail;
  r.ttl = 99999;
  EXPECT_EQ(get("fail.test", r).verdict, Verdict::temp_fail);
  advance(29);
  get("fail.test", r);
  EXPECT_EQ(r.calls, 1);
  advance(1);
  get("fail.test", r);
  EXPECT_EQ(r.calls, 2);
  EXPECT_TRUE(persist.log.empty());
}

TEST_F(CacheTest, ZeroTtlIsNotCached) {
  FakeResolver r(io, clock);
  r.verdict = Verdict::no_policy;
  r.ttl = 0;
  get("[10.0.0.1]", r);
  get("[10.0.0.1]", r);
  EXPECT_EQ(r.calls, 2);
  EXPECT_EQ(cache->size(), 0u);
}

TEST_F(CacheTest, LruBound) {
  auto o = options();
  o.max_entries = 3;
  make_cache(o);
  FakeResolver r(io, clock);
  get("a.test", r);
  get("b.test", r);
  get("c.test", r);
  get("a.test", r);  // a is now the most recently used
  get("d.test", r);  // evicts b
  EXPECT_EQ(cache->size(), 3u);
  EXPECT_NE(cache->find_fresh("a.test"), nullptr);
  EXPECT_EQ(cache->find_fresh("b.test"), nullptr);
  EXPECT_NE(cache->find_fresh("c.test"), nullptr);
  EXPECT_NE(cache->find_fresh("d.test"), nullptr);
  EXPECT_EQ(cache->stats().evictions, 1u);
  EXPECT_EQ(r.calls, 4);
}

TEST_F(CacheTest, ThousandConcurrentLookupsShareOneResolution) {
  FakeResolver r(io, clock);
  r.gated = true;
  std::vector<std::shared_ptr<std::optional<PolicyDecision>>> slots;
  for (int i = 0; i < 1000; ++i) slots.push_back(start("busy.test", r));
  settle();
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(cache->in_flight(), 1u);
  for (auto& s : slots) EXPECT_FALSE(s->has_value());
  r.open_gate();
  settle();
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(cache->in_flight(), 0u);
  for (auto& s : slots) {
    ASSERT_TRUE(s->has_value());
    EXPECT_EQ((*s)->level, "dane-only");
    EXPECT_EQ((*s)->domain, "busy.test");
  }
  EXPECT_EQ(cache->stats().coalesced, 999u);
}

TEST_F(CacheTest, CoalescedWaitersShareATempFailToo) {
  FakeResolver r(io, clock);
  r.gated = true;
  r.throws = true;
  auto a = start("x.test", r), b = start("x.test", r);
  settle();
  r.open_gate();
  settle();
  ASSERT_TRUE(a->has_value() && b->has_value());
  EXPECT_EQ((*a)->verdict, Verdict::temp_fail);
  EXPECT_NE((*a)->temp_reason.find("boom"), std::string::npos);
  EXPECT_EQ((*b)->temp_reason, (*a)->temp_reason);
  EXPECT_EQ(r.calls, 1);
}

TEST_F(CacheTest, StaleStsPolicyAnsweredWhenLookupFails) {
  FakeResolver r(io, clock);
  r.ttl = 300;
  r.level = "secure match=.example.com servername=hostname";
  r.sts = StsPolicy{StsPolicy::Mode::enforce, {"*.example.com"}, 86400, "id1", {}};
  get("example.com", r);
  advance(3600);  // decision expired, policy within max_age
  r.verdict = Verdict::temp_fail;
  r.level = "policy fetch failed";
  auto d = get("example.com", r);
  EXPECT_EQ(r.calls, 2);
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.level, "secure match=.example.com servername=hostname");
  ASSERT_FALSE(d.reasons.empty());
  EXPECT_NE(d.reasons.back().find("policy fetch failed"), std::string::npos);
  EXPECT_EQ(cache->stats().stale_served, 1u);
  // Retried after temp_ttl; a second failure does not pile up reasons.
  get("example.com", r);
  EXPECT_EQ(r.calls, 2);
  advance(31);
  auto again = get("example.com", r);
  EXPECT_EQ(r.calls, 3);
  EXPECT_EQ(again.reasons.size(), d.reasons.size());
  // Past max_age the failure is answered.
  advance(86400);
  EXPECT_EQ(get("example.com", r).verdict, Verdict::temp_fail);
}

TEST_F(CacheTest, ExpiredDanePolicyIsNotServedStale) {
  FakeResolver r(io, clock);
  get("dane.test", r);
  advance(301);
  r.verdict = Verdict::temp_fail;
  EXPECT_EQ(get("dane.test", r).verdict, Verdict::temp_fail);
}

TEST_F(CacheTest, RefreshBeforeExpiryInBackground) {
  FakeResolver r(io, clock);
  r.ttl = 100;  // refresh window: last 10 s (jittered start in its first half)
  get("hot.test", r);
  advance(80);
  get("hot.test", r);
  EXPECT_EQ(r.calls, 1);  // not yet in the window
  advance(16);            // t = 96: inside the window
  r.gated = true;
  r.level = "dane";
  EXPECT_EQ(get("hot.test", r).level, "dane-only");  // answered at once from the cache
  EXPECT_EQ(r.calls, 2);                             // … and a refresh started
  EXPECT_EQ(cache->refreshes_running(), 1u);
  EXPECT_EQ(get("hot.test", r).level, "dane-only");  // unchanged meanwhile, no second refresh
  EXPECT_EQ(r.calls, 2);
  r.open_gate();
  settle();
  EXPECT_EQ(cache->refreshes_running(), 0u);
  advance(50);  // past the old expiry: the refreshed entry answers
  EXPECT_EQ(get("hot.test", r).level, "dane");
  EXPECT_EQ(r.calls, 2);
  EXPECT_EQ(cache->stats().refreshes, 1u);
}

// The hot path: find_fresh hands out one shared decision (no copy per hit); a new decision for
// the domain replaces it at once; at most hot_max entries keep an unpacked copy.
TEST_F(CacheTest, HotDecisionSharedUntilReplaced) {
  CacheOptions o = options();
  o.hot_max = 2;
  make_cache(o);
  FakeResolver r(io, clock);
  get("a.test", r);
  auto first = cache->find_fresh("a.test");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(cache->find_fresh("a.test").get(), first.get());  // same object, not a copy
  EXPECT_EQ(first->level, "dane-only");

  cache->insert(make("a.test", Verdict::policy, 300, "dane", clock.t));
  auto second = cache->find_fresh("a.test");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->level, "dane");      // the replaced decision is never served from the hot copy
  EXPECT_EQ(first->level, "dane-only");  // a caller's copy stays valid

  const std::size_t one_hot = cache->memory_estimate();
  get("b.test", r);
  get("c.test", r);
  cache->find_fresh("b.test");
  cache->find_fresh("c.test");  // a.test's hot copy is dropped (hot_max = 2) …
  get("d.test", r);
  get("e.test", r);
  cache->find_fresh("d.test");
  cache->find_fresh("e.test");
  // … and the estimate stays bounded by two hot copies whatever the number of entries.
  EXPECT_LT(cache->memory_estimate(), one_hot * 5 + 4096);
  auto again = cache->find_fresh("a.test");  // unpacked anew, same content
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->level, "dane");
  EXPECT_NE(again.get(), second.get());

  cache->flush("a.test");
  EXPECT_EQ(cache->find_fresh("a.test"), nullptr);
  cache->flush();
  EXPECT_EQ(cache->find_fresh("b.test"), nullptr);
}

// find_fresh_lazy builds the refresh's resolver only when a refresh is due.
TEST_F(CacheTest, LazyResolverOnlyBuiltForARefresh) {
  FakeResolver r(io, clock);
  r.ttl = 100;
  get("lazy.test", r);
  int built = 0;
  auto make = [&]() {
    ++built;
    return r.fn("lazy.test");
  };
  advance(50);
  ASSERT_NE(cache->find_fresh_lazy("lazy.test", make), nullptr);
  EXPECT_EQ(built, 0);
  advance(46);  // inside the refresh window
  r.level = "dane";
  ASSERT_NE(cache->find_fresh_lazy("lazy.test", make), nullptr);
  EXPECT_EQ(built, 1);
  settle();
  EXPECT_EQ(r.calls, 2);
  EXPECT_EQ(cache->find_fresh_lazy("lazy.test", make)->level, "dane");
  EXPECT_EQ(cache->stats().refreshes, 1u);
}

TEST_F(CacheTest, FailedRefreshKeepsTheOldAnswer) {
  FakeResolver r(io, clock);
  r.ttl = 100;
  get("hot.test", r);
  advance(96);
  r.verdict = Verdict::temp_fail;
  get("hot.test", r);
  settle();
  EXPECT_EQ(r.calls, 2);
  auto d = get("hot.test", r);
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.level, "dane-only");
  EXPECT_EQ(r.calls, 2);  // no refresh storm: next attempt after temp_ttl
}

TEST_F(CacheTest, RefreshConcurrencyIsLimited) {
  auto o = options();
  o.max_concurrent_refreshes = 2;
  make_cache(o);
  FakeResolver r(io, clock);
  for (int i = 0; i < 5; ++i) get("d" + std::to_string(i) + ".test", r);
  advance(297);
  r.gated = true;
  for (int i = 0; i < 5; ++i) get("d" + std::to_string(i) + ".test", r);
  EXPECT_EQ(cache->refreshes_running(), 2u);
  EXPECT_EQ(r.calls, 7);
  r.open_gate();
  settle();
  EXPECT_EQ(cache->refreshes_running(), 0u);
}

TEST_F(CacheTest, RefreshDisabled) {
  auto o = options();
  o.refresh = false;
  make_cache(o);
  FakeResolver r(io, clock);
  get("a.test", r);
  advance(299);
  get("a.test", r);
  settle();
  EXPECT_EQ(r.calls, 1);
}

TEST_F(CacheTest, FlushAllAndOne) {
  FakeResolver r(io, clock);
  get("a.test", r);
  get("b.test", r);
  cache->put_sts("a.test",
                 CachedSts{StsPolicy{StsPolicy::Mode::enforce, {"mx.a.test"}, 1000, "i", {}}, clock.t});
  persist.log.clear();
  cache->flush("a.test");
  EXPECT_EQ(cache->size(), 1u);
  EXPECT_FALSE(cache->get_sts("a.test"));
  EXPECT_EQ(persist.log, (std::vector<std::string>{"erase a.test", "erase_sts a.test"}));
  get("a.test", r);
  EXPECT_EQ(r.calls, 3);
  cache->flush();
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(persist.log.back(), "erase_all");
  EXPECT_EQ(cache->memory_estimate(), 0u);
}

TEST_F(CacheTest, ListShowsEntries) {
  FakeResolver r(io, clock);
  get("b.test", r);
  r.verdict = Verdict::no_policy;
  get("a.test", r);
  auto l = cache->list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].domain, "a.test");
  EXPECT_EQ(l[0].verdict, Verdict::no_policy);
  EXPECT_EQ(l[1].domain, "b.test");
  EXPECT_EQ(l[1].level, "dane-only");
  EXPECT_EQ(l[1].expires_at, clock.t + seconds(300));
  EXPECT_TRUE(l[1].fresh);
  const std::size_t two = cache->memory_estimate();
  EXPECT_GT(two, 0u);
  get("c.test", r);
  EXPECT_GT(cache->memory_estimate(), two);        // grows with each entry …
  EXPECT_LT(cache->memory_estimate(), 3 * 1024u);  // … and stays compact
}

TEST_F(CacheTest, StsStoreKeepsPoliciesUntilMaxAge) {
  CachedSts c{StsPolicy{StsPolicy::Mode::enforce, {"mx.example.com"}, 1000, "id7", {"version: STSv1"}},
              clock.t};
  cache->put_sts("example.com", c);
  EXPECT_EQ(persist.log, std::vector<std::string>{"put_sts example.com"});
  advance(999);
  auto got = cache->get_sts("example.com");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->policy.id, "id7");
  advance(1);
  EXPECT_FALSE(cache->get_sts("example.com"));
  EXPECT_EQ(cache->sts_size(), 0u);
  cache->put_sts("example.com", c);
  cache->erase_sts("example.com");
  EXPECT_FALSE(cache->get_sts("example.com"));
}

TEST_F(CacheTest, RestoreServesAtOnceAndSkipsInvalid) {
  auto d = make("warm.test", Verdict::policy, 300, "dane-only", clock.t - seconds(10));
  cache->restore(d, clock.t + seconds(290), clock.t + seconds(290));
  cache->restore(make("old.test", Verdict::policy, 300, "dane", clock.t - seconds(900)),
                 clock.t - seconds(600), clock.t - seconds(600));
  EXPECT_EQ(cache->size(), 1u);
  FakeResolver r(io, clock);
  EXPECT_EQ(get("warm.test", r).level, "dane-only");
  EXPECT_EQ(r.calls, 0);
  EXPECT_TRUE(persist.log.empty());  // restoring writes nothing back
}

TEST_F(CacheTest, RestoredExpiredStsPolicyIsAStaleBase) {
  auto d = make("sts.test", Verdict::policy, 300, "secure match=.sts.test servername=hostname",
                clock.t - seconds(900));
  d.source = Source::mta_sts;
  d.sts = StsPolicy{StsPolicy::Mode::enforce, {"*.sts.test"}, 86400, "x", {}};
  cache->restore(d, clock.t - seconds(600), clock.t + seconds(80000));
  EXPECT_EQ(cache->find_fresh("sts.test"), nullptr);
  FakeResolver r(io, clock);
  r.verdict = Verdict::temp_fail;
  auto got = get("sts.test", r);
  EXPECT_EQ(got.verdict, Verdict::policy);
  EXPECT_EQ(r.calls, 1);
}

TEST_F(CacheTest, DestroyedCacheDuringResolutionIsSafe) {
  FakeResolver r(io, clock);
  r.gated = true;
  start("x.test", r);
  settle();
  cache.reset();
  r.open_gate();
  settle();  // the resolution finishes without touching the dead cache
  SUCCEED();
}

}  // namespace
}  // namespace tlsfence::policy
