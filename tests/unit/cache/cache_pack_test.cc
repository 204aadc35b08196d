#include "policy/cache_pack.h"

#include <gtest/gtest.h>

#include "policy/decision_json.h"

namespace tlsfence::policy {
namespace {

TEST(PackedDecision, RoundTripIsLossless) {
  PolicyDecision d;
  d.domain = "example.com";
  d.verdict = Verdict::temp_fail;
  d.source = Source::mta_sts;
  d.level = "secure match=.example.com servername=hostname";
  d.temp_reason = "SERVFAIL";
  d.result_type = "sts-policy-fetch-error";
  d.mx_dnssec = DnssecState::bogus;
  DaneHost h;
  h.name = "mx.example.com";
  h.tlsa_base = "mx.example.net";
  h.preference = 65535;
  h.address_state = DnssecState::secure;
  h.tlsa_state = DnssecState::insecure;
  h.tlsa.push_back(TlsaRecord{3, 1, 2, std::string("\0\x80\xff", 3), true});
  h.dane = true;
  h.note = "n";
  d.dane_hosts = {h, DaneHost{}};
  d.sts = StsPolicy{StsPolicy::Mode::testing, {"a", "*.b"}, 31557600, "id", {"l1", "", "l3"}};
  d.ttl = 4294967295u;
  d.decided_at = std::chrono::system_clock::time_point{std::chrono::nanoseconds{-1234567891011}};
  d.reasons = {std::string(300, 'r'), ""};

  const PackedDecision p = PackedDecision::pack(d);
  EXPECT_EQ(p.domain(), "example.com");
  EXPECT_EQ(p.verdict(), Verdict::temp_fail);
  const PolicyDecision back = p.unpack();
  EXPECT_EQ(decision_to_json(back), decision_to_json(d));
  EXPECT_EQ(back.decided_at, d.decided_at);  // sub-second precision kept in memory
  EXPECT_LT(p.bytes(), 700u);
}

TEST(PackedDecision, EmptyDecision) {
  const PackedDecision p = PackedDecision::pack(PolicyDecision{});
  EXPECT_EQ(p.domain(), "");
  EXPECT_EQ(p.verdict(), Verdict::no_policy);
  EXPECT_EQ(decision_to_json(p.unpack()), decision_to_json(PolicyDecision{}));
  EXPECT_FALSE(PackedDecision{});
  EXPECT_EQ(PackedDecision{}.unpack().domain, "");
}

}  // namespace
}  // namespace tlsfence::policy
