// The fleet link's rules with an injected clock: back-off growth, cap, jitter bounds, reset;
// one state change per transition (never one per failed retry); control payloads.
#include <gtest/gtest.h>

#include "fleet/link.h"
#include "fleet/policy_store.h"

namespace tlsfence::fleet {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesUpToTheCapWithJitterAndResets) {
  Backoff b(500ms, 8s, 42);
  const SteadyTime t0{};
  std::chrono::milliseconds expected = 500ms;
  for (int i = 0; i < 8; ++i) {
    const SteadyTime next = b.failed(t0);
    EXPECT_EQ(b.current(), expected) << i;
    EXPECT_GE(next - t0, expected * 3 / 4) << i;
    EXPECT_LE(next - t0, expected) << i;
    expected = std::min(expected * 2, std::chrono::milliseconds(8s));
  }
  EXPECT_EQ(b.current(), 8s);
  b.succeeded();
  EXPECT_EQ(b.current(), 0ms);
  b.failed(t0);
  EXPECT_EQ(b.current(), 500ms);
}

TEST(LinkTracker, OneChangePerTransition) {
  LinkTracker t;
  EXPECT_EQ(t.state(), LinkState::starting);
  auto c = t.failed("connection refused");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->from, LinkState::starting);
  EXPECT_EQ(c->to, LinkState::down);
  EXPECT_EQ(c->reason, "connection refused");
  EXPECT_FALSE(t.failed("connection refused"));  // retries fail quietly
  EXPECT_FALSE(t.failed("timeout"));             // even with another reason
  c = t.connected();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->from, LinkState::down);
  EXPECT_EQ(c->to, LinkState::up);
  EXPECT_FALSE(t.connected());
  c = t.failed("server closed the connection");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->from, LinkState::up);
  c = t.incompatible("schema version 9");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, LinkState::incompatible);
  EXPECT_FALSE(t.incompatible("schema version 9"));
  EXPECT_STREQ(to_string(LinkState::incompatible), "incompatible");
}

TEST(ControlMessage, ParsesOnlyWellFormedPayloads) {
  auto m = parse_control("flush mx1 example.org");
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.op, "flush");
  EXPECT_EQ(m.host, "mx1");
  EXPECT_EQ(m.domain, "example.org");
  m = parse_control("refreshed mx2 *");
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.domain, "");
  for (const char* bad : {"", "flush", "flush mx1", "flush mx1 a b", "drop mx1 a", "flush  a"})
    EXPECT_FALSE(parse_control(bad).ok) << bad;
  // What the CLI sends is what the daemon parses.
  const auto st = flush_statements("example.org", "mx3");
  ASSERT_EQ(st.size(), 3u);
  m = parse_control(*st.back().params.at(1));
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.host, "mx3");
  EXPECT_EQ(m.domain, "example.org");
  m = parse_control(*refreshed_statements("", "mx3").back().params.at(1));
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.op, "refreshed");
  EXPECT_EQ(m.domain, "");
}

}  // namespace
}  // namespace tlsfence::fleet
