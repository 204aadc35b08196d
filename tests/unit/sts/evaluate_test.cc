// sts::evaluate with a fake DNS, a fake fetcher and a fake clock: discovery, RFC 8461 §5.1
// caching (hit, id change, failed re-fetch, TXT gone, expiry) and the resulting decisions.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "parse/dns_wire.h"
#include "policy/memory_sts_store.h"
#include "policy/sts.h"

namespace tlsfence {
namespace {

using namespace std::chrono_literals;
using Error = StsFetchResult::Error;

class FakeDns : public DnsSource {
 public:
  void txt(const std::string& name, std::vector<std::string> records) {
    DnsAnswer a;
    a.qname = name;
    a.qtype = rrtype::TXT;
    a.dnssec = DnssecState::secure;
    a.ttl = 300;
    for (const auto& r : records) a.rdata.push_back(parse::encode_txt_rdata(r));
    a.havedata = !a.rdata.empty();
    answers_[name] = a;
  }
  void set(const std::string& name, DnsAnswer a) { answers_[name] = std::move(a); }
  void remove(const std::string& name) { answers_.erase(name); }
  Task<DnsAnswer> query(std::string name, std::uint16_t type) override {
    ++queries;
    auto it = answers_.find(name);
    if (it != answers_.end() && type == rrtype::TXT) co_return it->second;
    DnsAnswer nx;
    nx.qname = name;
    nx.qtype = type;
    nx.rcode = rcode::nxdomain;
    nx.dnssec = DnssecState::secure;
    co_return nx;
  }
  int queries = 0;

 private:
  std::map<std::string, DnsAnswer> answers_;
};

class FakeFetcher : public StsFetcher {
 public:
  void serve(std::string body) {
    result = StsFetchResult{};
    result.http_status = 200;
    result.body = std::move(body);
    result.address = "192.0.2.1";
  }
  void fail(Error e, std::string detail) {
    result = StsFetchResult{};
    result.error = e;
    result.detail = std::move(detail);
  }
  Task<StsFetchResult> fetch(std::string domain) override {
    ++calls;
    last_domain = domain;
    co_return result;
  }
  StsFetchResult result;
  int calls = 0;
  std::string last_domain;
};

class FakeClock : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::system_clock::time_point t = std::chrono::system_clock::time_point{} + 1'700'000'000s;
};

const std::string kEnforce =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.MX.example.com\r\n"
    "max_age: 86400\r\n";
const std::string kEnforce2 = "version: STSv1\r\nmode: enforce\r\nmx: mx2.example.com\r\nmax_age: 86400\r\n";

class StsEvaluate : public testing::Test {
 protected:
  PolicyDecision run(sts::Options options = {}) {
    asio::io_context io;
    PolicyDecision out;
    bool done = false;
    asio::co_spawn(io, sts::evaluate(dns, fetcher, store, clock, "example.com", options),
                   [&](std::exception_ptr e, PolicyDecision d) {
                     if (e) std::rethrow_exception(e);
                     out = std::move(d);
                     done = true;
                   });
    io.run();
    EXPECT_TRUE(done);
    return out;
  }
  FakeDns dns;
  FakeFetcher fetcher;
  policy::MemoryStsStore store;
  FakeClock clock;
};

TEST_F(StsEvaluate, EnforcePolicyFetchedAndStored) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=20240101;"});
  fetcher.serve(kEnforce);
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.source, Source::mta_sts);
  EXPECT_EQ(d.level, "secure match=mx1.example.com:.mx.example.com servername=hostname");
  EXPECT_EQ(d.ttl, 86400u);
  EXPECT_EQ(d.domain, "example.com");
  ASSERT_TRUE(d.sts);
  EXPECT_EQ(d.sts->id, "20240101");
  EXPECT_EQ(d.sts->lines.size(), 5u);
  EXPECT_TRUE(d.result_type.empty());
  EXPECT_EQ(fetcher.calls, 1);
  EXPECT_EQ(fetcher.last_domain, "example.com");
  auto stored = store.get_sts("example.com");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->policy.id, "20240101");
  EXPECT_EQ(stored->fetched_at, clock.t);
  EXPECT_FALSE(d.reasons.empty());
}

TEST_F(StsEvaluate, CacheHitWithSameIdDoesNotFetch) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  clock.t += 3600s;
  fetcher.fail(Error::connect, "must not be called");
  auto d = run();
  EXPECT_EQ(fetcher.calls, 1);
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.ttl, 86400u - 3600u);
}

TEST_F(StsEvaluate, IdChangeRefetches) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=two;"});
  fetcher.serve(kEnforce2);
  clock.t += 60s;
  auto d = run();
  EXPECT_EQ(fetcher.calls, 2);
  EXPECT_EQ(d.level, "secure match=mx2.example.com servername=hostname");
  EXPECT_EQ(store.get_sts("example.com")->policy.id, "two");
  EXPECT_EQ(store.get_sts("example.com")->fetched_at, clock.t);
}

TEST_F(StsEvaluate, FailedRefetchKeepsCachedPolicy) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=two;"});
  fetcher.fail(Error::timeout, "deadline");
  auto d = run();
  EXPECT_EQ(fetcher.calls, 2);
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.level, "secure match=mx1.example.com:.mx.example.com servername=hostname");
  EXPECT_EQ(store.get_sts("example.com")->policy.id, "one");
  // an invalid new policy also keeps the old one
  fetcher.serve("version: STSv1\nmode: doubt\n");
  d = run();
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(store.get_sts("example.com")->policy.id, "one");
}

TEST_F(StsEvaluate, TxtGoneKeepsCachedUntilMaxAge) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  dns.remove("_mta-sts.example.com");  // NXDOMAIN now
  clock.t += 86399s;
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.ttl, 1u);
  clock.t += 1s;  // expired
  d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_FALSE(d.sts);
  EXPECT_EQ(fetcher.calls, 1);
}

TEST_F(StsEvaluate, ExpiredCacheWithSameIdRefetches) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  clock.t += 86400s;
  auto d = run();
  EXPECT_EQ(fetcher.calls, 2);
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(store.get_sts("example.com")->fetched_at, clock.t);
}

TEST_F(StsEvaluate, ExpiredCacheAndFailedFetchIsNoPolicyWithResultType) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  clock.t += 90000s;
  fetcher.fail(Error::webpki, "certificate has expired");
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-webpki-invalid");
}

TEST_F(StsEvaluate, NoTxtNoCacheIsNoPolicy) {
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_TRUE(d.result_type.empty());
  EXPECT_EQ(fetcher.calls, 0);
}

TEST_F(StsEvaluate, UnrelatedTxtOnlyIsNoPolicy) {
  dns.txt("_mta-sts.example.com", {"v=spf1 -all"});
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(fetcher.calls, 0);
}

TEST_F(StsEvaluate, TwoStsRecordsIsNoPolicy) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;", "v=STSv1; id=two;"});
  fetcher.serve(kEnforce);
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(fetcher.calls, 0);
}

TEST_F(StsEvaluate, FetchFailureNoCacheIsNoPolicyWithFetchError) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.fail(Error::redirect, "HTTP 301");
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-policy-fetch-error");
  EXPECT_FALSE(store.get_sts("example.com"));
  bool mentioned = false;
  for (const auto& r : d.reasons) mentioned |= r.find("301") != std::string::npos;
  EXPECT_TRUE(mentioned);
}

TEST_F(StsEvaluate, InvalidPolicyIsNoPolicyWithPolicyInvalid) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve("version: STSv1\nmode: enforce\nmax_age: 100\n");  // no mx
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-policy-invalid");
}

TEST_F(StsEvaluate, TestingIsNotEnforcedButKept) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve("version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 600\n");
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  ASSERT_TRUE(d.sts);
  EXPECT_EQ(d.sts->mode, StsPolicy::Mode::testing);
  EXPECT_TRUE(store.get_sts("example.com"));
  auto forced = run(sts::Options{.enforce_testing = true});
  EXPECT_EQ(forced.verdict, Verdict::policy);
  EXPECT_EQ(forced.source, Source::mta_sts);
  EXPECT_EQ(forced.level, "secure match=mx1.example.com servername=hostname");
}

TEST_F(StsEvaluate, NoneIsNoPolicy) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve("version: STSv1\nmode: none\nmax_age: 600\n");
  auto d = run(sts::Options{.enforce_testing = true});
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  ASSERT_TRUE(d.sts);
  EXPECT_EQ(d.sts->mode, StsPolicy::Mode::none);
}

TEST_F(StsEvaluate, TxtServfailWithoutCacheIsTempFail) {
  DnsAnswer a;
  a.qname = "_mta-sts.example.com";
  a.qtype = rrtype::TXT;
  a.rcode = rcode::servfail;
  dns.set("_mta-sts.example.com", a);
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::temp_fail);
  EXPECT_NE(d.temp_reason.find("SERVFAIL"), std::string::npos);
}

TEST_F(StsEvaluate, TxtBogusWithoutCacheIsTempFailWithCacheUsesCache) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  DnsAnswer bogus;
  bogus.qname = "_mta-sts.example.com";
  bogus.qtype = rrtype::TXT;
  bogus.dnssec = DnssecState::bogus;
  bogus.why_bogus = "signature expired";
  bogus.havedata = true;
  bogus.rdata = {parse::encode_txt_rdata("v=STSv1; id=evil;")};
  dns.set("_mta-sts.example.com", bogus);
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::temp_fail);
  EXPECT_NE(d.temp_reason.find("signature expired"), std::string::npos);
  EXPECT_EQ(fetcher.calls, 0);

  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  dns.set("_mta-sts.example.com", bogus);
  d = run();
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(fetcher.calls, 1);
}

TEST_F(StsEvaluate, TxtTimeoutWithCacheUsesCache) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve(kEnforce);
  run();
  DnsAnswer t;
  t.timed_out = true;
  dns.set("_mta-sts.example.com", t);
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::policy);
}

TEST_F(StsEvaluate, MaxAgeZeroIsNeverCachedAsFresh) {
  dns.txt("_mta-sts.example.com", {"v=STSv1; id=one;"});
  fetcher.serve("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 0\n");
  auto d = run();
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.ttl, 0u);
  run();
  EXPECT_EQ(fetcher.calls, 2);
}

TEST(StsLevel, WildcardsAndCase) {
  StsPolicy p;
  p.mx = {"*.Example.NET", "mail.example.com", "*.a.b"};
  EXPECT_EQ(sts::postfix_level(p), "secure match=.example.net:mail.example.com:.a.b servername=hostname");
}

}  // namespace
}  // namespace tlsfence
