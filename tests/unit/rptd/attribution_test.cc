#include "rptd/attribution.h"

#include <gtest/gtest.h>

namespace tlsfence::rptd {
namespace {

PolicyDecision dane_decision() {
  PolicyDecision d;
  d.domain = "Dane.Example";
  d.source = Source::dane;
  DaneHost h;
  h.name = "mx1.dane.example";
  h.dane = true;
  h.tlsa.push_back({3, 1, 1, std::string("\x01\xab", 2), true});
  h.tlsa.push_back({0, 0, 1, std::string("\x02", 1), false});  // unusable: not reported
  DaneHost other;
  other.name = "mx2.dane.example";
  other.dane = false;
  other.tlsa.push_back({2, 0, 1, std::string("\x03", 1), true});
  d.dane_hosts = {h, other};
  return d;
}

TEST(PolicyFromDecision, Table) {
  {
    auto p = policy_from_decision(dane_decision());
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type, TlsrptPolicyType::tlsa);
    EXPECT_EQ(p->domain, "dane.example");
    EXPECT_EQ(p->strings, std::vector<std::string>{"3 1 1 01ab"});
    EXPECT_EQ(p->mx_hosts, std::vector<std::string>{"mx1.dane.example"});
  }
  {
    PolicyDecision d;
    d.domain = "sts.example";
    d.source = Source::mta_sts;
    StsPolicy s;
    s.mode = StsPolicy::Mode::testing;
    s.mx = {"*.sts.example"};
    s.lines = {"version: STSv1", "mode: testing", "mx: *.sts.example", "max_age: 86400"};
    d.sts = s;
    auto p = policy_from_decision(d);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type, TlsrptPolicyType::sts);
    EXPECT_EQ(p->strings, s.lines);
    EXPECT_EQ(p->mx_hosts, s.mx);
    d.sts->mode = StsPolicy::Mode::none;
    EXPECT_FALSE(policy_from_decision(d));
  }
  {
    PolicyDecision d;
    d.domain = "none.example";
    EXPECT_FALSE(policy_from_decision(d));
    auto dane = dane_decision();
    dane.dane_hosts[0].dane = false;
    EXPECT_FALSE(policy_from_decision(dane));  // no DANE host: nothing to report under tlsa
  }
}

TEST(Attributor, MissingCacheFileMeansNoPolicy) {
  Attributor a("/nonexistent/cache.db");
  EXPECT_FALSE(a.policy("sts.example"));
  tlsrpt::Outcome o;
  o.policy_domain = "sts.example";
  a.attribute(o);
  EXPECT_EQ(o.policy.type, TlsrptPolicyType::no_policy_found);
}

}  // namespace
}  // namespace tlsfence::rptd
