// Shared reception rules (src/policy/reception.h): bogus detection, refusal text, lookup
// key, and the bounded wait that leaves the lookup running.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "policy/reception.h"

#include <gtest/gtest.h>

#include "fake_lookup.h"

namespace tlsfence::policy {
namespace {

using namespace std::chrono_literals;
using tlsfence::testing::FakeLookup;

TEST(Reception, OptionsFromConfig) {
  Config::Reception r;
  r.wait_seconds = 3;
  r.on_dnssec_bogus = BogusAction::reject;
  r.forced_tls_transport = "tlsfence-verify";
  const auto o = ReceptionOptions::from_config(r);
  EXPECT_EQ(o.wait, 3000ms);
  EXPECT_EQ(o.on_dnssec_bogus, BogusAction::reject);
  EXPECT_EQ(o.forced_tls_transport, "tlsfence-verify");
}

TEST(Reception, DnssecBogus) {
  PolicyDecision d = FakeLookup::bogus();
  EXPECT_TRUE(dnssec_bogus(d));
  d.mx_dnssec = DnssecState::indeterminate;  // result type alone is enough
  EXPECT_TRUE(dnssec_bogus(d));
  d.result_type.clear();
  EXPECT_FALSE(dnssec_bogus(d));
  d.mx_dnssec = DnssecState::bogus;  // MX state alone is enough
  EXPECT_TRUE(dnssec_bogus(d));
  d.verdict = Verdict::policy;  // a cached policy served instead: not a refusal
  EXPECT_FALSE(dnssec_bogus(d));
  EXPECT_FALSE(dnssec_bogus(FakeLookup::servfail()));
  EXPECT_FALSE(dnssec_bogus(FakeLookup::dane_only()));
}

TEST(Reception, BogusRefusal) {
  PolicyDecision d = FakeLookup::bogus();
  d.domain = "bad%s.example\r\n";
  EXPECT_FALSE(bogus_refusal(d, BogusAction::continue_));
  const auto defer = bogus_refusal(d, BogusAction::defer);
  ASSERT_TRUE(defer);
  EXPECT_FALSE(defer->permanent);
  EXPECT_EQ(defer->text,
            "DNSSEC validation failed for recipient domain bad?s.example??; mail to it cannot be delivered "
            "securely now, try again later");
  const auto reject = bogus_refusal(d, BogusAction::reject);
  ASSERT_TRUE(reject);
  EXPECT_TRUE(reject->permanent);
  EXPECT_FALSE(bogus_refusal(FakeLookup::servfail(), BogusAction::reject));
}

TEST(Reception, RecipientLookupKey) {
  EXPECT_EQ(recipient_lookup_key("a@Example.ORG"), "Example.ORG");
  EXPECT_EQ(recipient_lookup_key("<a@example.org>"), "example.org");
  EXPECT_EQ(recipient_lookup_key("postmaster"), "");
  EXPECT_EQ(recipient_lookup_key(""), "");
  EXPECT_EQ(recipient_lookup_key("a@[192.0.2.1]"), "[192.0.2.1]");
}

TEST(Reception, DecideWithinReturnsAFastDecision) {
  asio::io_context io;
  FakeLookup lookup;
  lookup.set("dane.example", {FakeLookup::dane_only(), 10ms});
  std::optional<PolicyDecision> got;
  asio::co_spawn(
      io, [&]() -> Task<void> { got = co_await decide_within(lookup, "dane.example", 2s); }, asio::detached);
  const auto start = std::chrono::steady_clock::now();
  io.run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->level, "dane-only");
}

TEST(Reception, DecideWithinGivesUpButTheLookupFinishes) {
  asio::io_context io;
  FakeLookup lookup;
  lookup.set("slow.example", {FakeLookup::dane_only(), 300ms});
  std::optional<PolicyDecision> got = FakeLookup::servfail();
  std::chrono::steady_clock::duration took{};
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        const auto start = std::chrono::steady_clock::now();
        got = co_await decide_within(lookup, "slow.example", 20ms);
        took = std::chrono::steady_clock::now() - start;
      },
      asio::detached);
  io.run();
  EXPECT_FALSE(got);
  EXPECT_LT(took, 250ms);
  EXPECT_EQ(lookup.finished, std::vector<std::string>{"slow.example"});
}

TEST(Reception, PrefetchRunsToCompletion) {
  asio::io_context io;
  FakeLookup lookup;
  lookup.set("slow.example", {FakeLookup::dane_only(), 50ms});
  prefetch(lookup, "slow.example", io.get_executor());
  EXPECT_TRUE(lookup.finished.empty());
  io.run();
  EXPECT_EQ(lookup.finished, std::vector<std::string>{"slow.example"});
}

TEST(Reception, DecideWithinSurvivesAThrowingLookup) {
  asio::io_context io;
  FakeLookup lookup;
  FakeLookup::Entry e{FakeLookup::dane_only()};
  e.throws = true;
  lookup.set("throws.example", e);
  std::optional<PolicyDecision> got = FakeLookup::servfail();
  asio::co_spawn(
      io, [&]() -> Task<void> { got = co_await decide_within(lookup, "throws.example", 1s); },
      asio::detached);
  io.run();
  EXPECT_FALSE(got);
}

}  // namespace
}  // namespace tlsfence::policy
