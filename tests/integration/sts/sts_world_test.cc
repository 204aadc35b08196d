// MTA-STS against the test world: the real HTTPS fetcher (OpenSSL, nginx, test CA, the odd
// HTTPS stand-ins), the real libunbound resolver over knot, and sts::evaluate on top.
// pragma: g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "dns/unbound_resolver.h"
#include "https/sts_https_fetcher.h"
#include "parse/sts_policy.h"
#include "policy/memory_sts_store.h"
#include "policy/sts.h"

#include "world_env.h"

namespace tlsfence {
namespace {

using Error = StsFetchResult::Error;
using namespace std::chrono_literals;

using world_test::world;

constexpr auto kFetchTimeout = 3s;

https::StsFetcherOptions world_fetch_options(bool allow_private = true) {
  https::StsFetcherOptions o;
  o.ca_file = world().at("WORLD_CA");
  o.port = 443;
  o.allow_private_addresses = allow_private;
  o.timeout = kFetchTimeout;
  return o;
}

// Counts fetches so tests can tell a cache hit from a re-fetch.
class CountingFetcher : public StsFetcher {
 public:
  explicit CountingFetcher(StsFetcher& inner) : inner_(inner) {}
  Task<StsFetchResult> fetch(std::string domain) override {
    ++calls;
    co_return co_await inner_.fetch(std::move(domain));
  }
  int calls = 0;

 private:
  StsFetcher& inner_;
};

class StsWorld : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(world().count("WORLD_UNBOUND_CONF")) << "test world not up (world.env missing)";
    io_ = new asio::io_context;
    Config::Dns d;
    d.unbound_conf = world().at("WORLD_UNBOUND_CONF");
    d.trust_anchor_file = "";
    d.timeout_seconds = 3;
    resolver_ = new dns::UnboundResolver(*io_, d);
    fetcher_ = https::make_sts_fetcher(*resolver_, world_fetch_options()).release();
  }
  static void TearDownTestSuite() {
    delete fetcher_;
    delete resolver_;
    delete io_;
  }
  template <typename T>
  static T run(Task<T> task) {
    std::optional<T> out;
    io_->restart();
    asio::co_spawn(*io_, std::move(task), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    io_->run();
    EXPECT_TRUE(out.has_value());
    return out ? std::move(*out) : T{};
  }
  static StsFetchResult fetch(const std::string& domain) { return run(fetcher_->fetch(domain)); }
  static StsFetchResult fetch_with(StsFetcher& f, const std::string& domain) { return run(f.fetch(domain)); }
  PolicyDecision evaluate(const std::string& domain, StsFetcher& fetcher, sts::Options options = {}) {
    return run(sts::evaluate(*resolver_, fetcher, store_, clock_, domain, options));
  }
  PolicyDecision evaluate(const std::string& domain) { return evaluate(domain, *fetcher_); }

  static asio::io_context* io_;
  static dns::UnboundResolver* resolver_;
  static StsFetcher* fetcher_;
  policy::MemoryStsStore store_;
  SystemClock clock_;
};
asio::io_context* StsWorld::io_ = nullptr;
dns::UnboundResolver* StsWorld::resolver_ = nullptr;
StsFetcher* StsWorld::fetcher_ = nullptr;

TEST_F(StsWorld, GoodEnforcePolicyFetchedAndParsed) {
  auto r = fetch("sts.test");
  ASSERT_TRUE(r.ok()) << to_string(r.error) << ": " << r.detail;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.address, "127.0.0.20");
  auto p = parse::parse_sts_policy(r.body);
  ASSERT_TRUE(p.ok()) << p.detail;
  EXPECT_EQ(p.policy.mode, StsPolicy::Mode::enforce);
  EXPECT_EQ(p.policy.max_age, 86400u);
  EXPECT_EQ(p.policy.mx, (std::vector<std::string>{"mx1.sts.test", "*.mx.sts.test"}));
}

TEST_F(StsWorld, GoodEnforceDecision) {
  auto d = evaluate("sts.test");
  EXPECT_EQ(d.verdict, Verdict::policy);
  EXPECT_EQ(d.source, Source::mta_sts);
  EXPECT_EQ(d.level, "secure match=mx1.sts.test:.mx.sts.test servername=hostname");
  ASSERT_TRUE(d.sts);
  EXPECT_FALSE(d.sts->id.empty());
  EXPECT_EQ(d.sts->lines.size(), 5u);
  EXPECT_GT(d.ttl, 86000u);
}

TEST_F(StsWorld, TestingIsNotFoundButKept) {
  auto d = evaluate("ststesting.test");
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  ASSERT_TRUE(d.sts);
  EXPECT_EQ(d.sts->mode, StsPolicy::Mode::testing);
  auto forced = evaluate("ststesting.test", *fetcher_, sts::Options{.enforce_testing = true});
  EXPECT_EQ(forced.verdict, Verdict::policy);
  EXPECT_EQ(forced.level, "secure match=mx1.sts.test servername=hostname");
}

TEST_F(StsWorld, NoneIsNotFound) {
  auto d = evaluate("stsnone.test");
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  ASSERT_TRUE(d.sts);
  EXPECT_EQ(d.sts->mode, StsPolicy::Mode::none);
}

TEST_F(StsWorld, RedirectIsNotFollowed) {
  auto r = fetch("stsredirect.test");
  EXPECT_EQ(r.error, Error::redirect) << r.detail;
  EXPECT_EQ(r.http_status, 301);
  EXPECT_TRUE(r.body.empty());
  auto d = evaluate("stsredirect.test");
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-policy-fetch-error");
}

TEST_F(StsWorld, HtmlContentTypeRefused) {
  auto r = fetch("stshtml.test");
  EXPECT_EQ(r.error, Error::content_type) << r.detail;
  EXPECT_NE(r.detail.find("text/html"), std::string::npos);
  EXPECT_EQ(evaluate("stshtml.test").result_type, "sts-policy-fetch-error");
}

TEST_F(StsWorld, SeventyKiBBodyRefused) {
  auto r = fetch("stsbig.test");
  EXPECT_EQ(r.error, Error::too_large) << r.detail;
  EXPECT_TRUE(r.body.empty());
}

TEST_F(StsWorld, OversizedChunkedBodyRefusedWhileReading) {
  auto start = std::chrono::steady_clock::now();
  auto r = fetch("stschunked.test");
  EXPECT_EQ(r.error, Error::too_large) << r.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, kFetchTimeout);
  EXPECT_EQ(evaluate("stschunked.test").result_type, "sts-policy-fetch-error");
}

TEST_F(StsWorld, NotFoundStatus) {
  auto r = fetch("sts404.test");
  EXPECT_EQ(r.error, Error::http_status) << r.detail;
  EXPECT_EQ(r.http_status, 404);
  auto d = evaluate("sts404.test");
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-policy-fetch-error");
}

TEST_F(StsWorld, WrongNameCertificateIsWebPkiInvalid) {
  auto r = fetch("stswrongcert.test");
  EXPECT_EQ(r.error, Error::webpki) << r.detail;
  auto d = evaluate("stswrongcert.test");
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-webpki-invalid");
}

TEST_F(StsWorld, ExpiredCertificateIsWebPkiInvalid) {
  auto r = fetch("stsexpired.test");
  EXPECT_EQ(r.error, Error::webpki) << r.detail;
  EXPECT_NE(r.detail.find("expired"), std::string::npos) << r.detail;
  EXPECT_EQ(evaluate("stsexpired.test").result_type, "sts-webpki-invalid");
}

TEST_F(StsWorld, UntrustedCaIsWebPkiInvalid) {
  // OpenSSL's default store does not know the test CA.
  auto opts = world_fetch_options();
  opts.ca_file.clear();
  auto fetcher = https::make_sts_fetcher(*resolver_, opts);
  auto r = fetch_with(*fetcher, "sts.test");
  EXPECT_EQ(r.error, Error::webpki) << r.detail;
}

TEST_F(StsWorld, HangingServerHitsTheDeadline) {
  auto start = std::chrono::steady_clock::now();
  auto r = fetch("stshang.test");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, Error::timeout) << r.detail;
  EXPECT_GE(took, kFetchTimeout - 100ms);
  EXPECT_LT(took, kFetchTimeout + 1500ms);
  auto d = evaluate("stshang.test");
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-policy-fetch-error");
}

TEST_F(StsWorld, HangingDnsHitsTheFetchDeadline) {
  // mta-sts.hang.test is under a delegation to a server that never answers; the resolver's
  // own timeout (3 s) is longer than this fetch's deadline (1 s).
  auto opts = world_fetch_options();
  opts.timeout = 1s;
  auto fetcher = https::make_sts_fetcher(*resolver_, opts);
  auto start = std::chrono::steady_clock::now();
  std::optional<StsFetchResult> result;
  std::chrono::steady_clock::duration took{};
  io_->restart();
  asio::co_spawn(*io_, fetcher->fetch("hang.test"), [&](std::exception_ptr e, StsFetchResult r) {
    if (e) std::rethrow_exception(e);
    took = std::chrono::steady_clock::now() - start;
    result = std::move(r);
  });
  io_->run();  // also waits for the abandoned lookups to end
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error, Error::timeout) << result->detail;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 2500ms);
}

TEST_F(StsWorld, SsrfGuardRefusesLoopbackWhenNotAllowed) {
  auto fetcher = https::make_sts_fetcher(*resolver_, world_fetch_options(/*allow_private=*/false));
  auto r = fetch_with(*fetcher, "sts.test");
  EXPECT_EQ(r.error, Error::address_refused) << r.detail;
  EXPECT_NE(r.detail.find("127.0.0.20"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("loopback"), std::string::npos) << r.detail;
  auto d = evaluate("sts.test", *fetcher);
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_EQ(d.result_type, "sts-policy-fetch-error");
}

TEST_F(StsWorld, NoSuchPolicyHostIsDnsError) {
  auto r = fetch("nosuch.test");
  EXPECT_EQ(r.error, Error::dns) << r.detail;
}

TEST_F(StsWorld, TwoStsTxtRecordsMeanNoPolicyWithoutFetching) {
  CountingFetcher counting(*fetcher_);
  auto d = evaluate("stsbadtxt.test", counting);
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_FALSE(d.sts);
  EXPECT_EQ(counting.calls, 0);
}

TEST_F(StsWorld, NoTxtIsNoPolicy) {
  CountingFetcher counting(*fetcher_);
  auto d = evaluate("dane.test", counting);
  EXPECT_EQ(d.verdict, Verdict::no_policy);
  EXPECT_TRUE(d.result_type.empty());
  EXPECT_EQ(counting.calls, 0);
}

int sh(const std::string& cmd) {
  return std::system(cmd.c_str());
}

TEST_F(StsWorld, TxtIdChangeLeadsToRefetch) {
  const std::string script = world().at("WORLD_DIR") + "/sts-id.sh";
  const std::filesystem::path served =
      std::filesystem::path(world().at("WORLD_RUN")) / "www/mta-sts.stsid.test/.well-known/mta-sts.txt";
  std::ifstream in(served, std::ios::binary);
  std::stringstream original;
  original << in.rdbuf();
  ASSERT_FALSE(original.str().empty());
  const std::filesystem::path saved = std::filesystem::temp_directory_path() / "tlsfence-sts-original.txt";
  const std::filesystem::path next = std::filesystem::temp_directory_path() / "tlsfence-sts-next.txt";
  { std::ofstream(saved, std::ios::binary) << original.str(); }
  {
    std::ofstream(next, std::ios::binary)
        << "version: STSv1\r\nmode: enforce\r\nmx: *.mx.sts.test\r\nmax_age: 600\r\n";
  }
  const std::string id1 = "tfa" + std::to_string(std::time(nullptr));
  const std::string id2 = "tfb" + std::to_string(std::time(nullptr));

  // libunbound may keep the 1 s TXT up to about 2 s (whole-second TTL clock): poll.
  CountingFetcher counting(*fetcher_);
  auto evaluate_until_id = [&](const std::string& id) {
    PolicyDecision d;
    for (int i = 0; i < 40; ++i) {
      d = evaluate("stsid.test", counting);
      if (d.sts && d.sts->id == id) break;
      std::this_thread::sleep_for(200ms);
    }
    return d;
  };
  ASSERT_EQ(sh(script + " " + id1 + " " + saved.string()), 0);
  auto first = evaluate_until_id(id1);
  EXPECT_EQ(first.verdict, Verdict::policy);
  EXPECT_EQ(first.level, "secure match=mx1.sts.test servername=hostname");
  ASSERT_TRUE(first.sts);
  EXPECT_EQ(first.sts->id, id1);

  counting.calls = 0;
  auto again = evaluate("stsid.test", counting);  // same id: served from the cache
  EXPECT_EQ(again.verdict, Verdict::policy);
  EXPECT_EQ(counting.calls, 0);

  ASSERT_EQ(sh(script + " " + id2 + " " + next.string()), 0);
  auto changed = evaluate_until_id(id2);
  EXPECT_EQ(counting.calls, 1);  // polls that still saw id1 were cache hits
  EXPECT_EQ(changed.verdict, Verdict::policy);
  EXPECT_EQ(changed.level, "secure match=.mx.sts.test servername=hostname");
  ASSERT_TRUE(changed.sts);
  EXPECT_EQ(changed.sts->id, id2);
  EXPECT_EQ(changed.sts->max_age, 600u);
  EXPECT_EQ(store_.get_sts("stsid.test")->policy.id, id2);

  // restore the world's own state
  EXPECT_EQ(sh(script + " world1 " + saved.string()), 0);
  std::filesystem::remove(saved);
  std::filesystem::remove(next);
}

}  // namespace
}  // namespace tlsfence
