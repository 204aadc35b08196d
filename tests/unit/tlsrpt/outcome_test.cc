// Outcome helpers: days, attribution, datagram conversion.
#include <gtest/gtest.h>

#include "parse/tlsrpt_datagram.h"
#include "tlsrpt/outcome.h"

namespace tlsfence::tlsrpt {
namespace {

TEST(Outcome, Days) {
  EXPECT_EQ(utc_day(0), 0);
  EXPECT_EQ(utc_day(86399), 0);
  EXPECT_EQ(utc_day(86400), 1);
  EXPECT_EQ(utc_day(-1), -1);
  EXPECT_EQ(day_string(utc_day(1795330070)), "2026-11-22");
  EXPECT_EQ(parse_day("2026-11-22"), utc_day(1795330070));
  EXPECT_FALSE(parse_day("2026-02-30"));
  EXPECT_FALSE(parse_day("2026-1-22"));
  EXPECT_FALSE(parse_day("yesterday!"));
  EXPECT_EQ(normalize_domain("Example.COM."), "example.com");
}

TEST(Outcome, AttributionResolvesSoftFailures) {
  Outcome o;
  o.policy_domain = "example.com";
  o.failure = TlsrptResult::certificate_not_trusted;
  o.failure_needs_policy = true;
  Outcome none = o;
  attribute(none, std::nullopt);
  EXPECT_TRUE(none.success());
  EXPECT_EQ(none.policy.type, TlsrptPolicyType::no_policy_found);
  EXPECT_EQ(none.policy.domain, "example.com");
  Outcome sts = o;
  attribute(sts,
            ReportPolicy{TlsrptPolicyType::sts, {"version: STSv1", "mode: enforce"}, "", {"*.example.com"}});
  ASSERT_FALSE(sts.success());
  EXPECT_EQ(*sts.failure, TlsrptResult::certificate_not_trusted);
  EXPECT_EQ(sts.policy.domain, "example.com");
  EXPECT_EQ(sts.policy.mx_hosts.size(), 1u);
}

TEST(Outcome, FromDatagram) {
  auto r = parse::parse_tlsrpt_datagram(
      R"({"d":"example.com","policies":[{"policy-type":2,"policy-domain":"Example.com","policy-string":["mode: enforce"],)"
      R"("mx-host":["*.example.com"],"failure-details":[{"c":204,"s":"192.0.2.9","n":"mx1.example.com","r":"192.0.2.1"}],)"
      R"("t":1,"f":1},{"policy-type":9,"t":0,"f":0}]})");
  ASSERT_TRUE(r.datagram);
  auto out = outcomes_from_datagram(*r.datagram, 1795330070);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].day, utc_day(1795330070));
  EXPECT_EQ(out[0].policy_domain, "example.com");
  EXPECT_EQ(out[0].policy.type, TlsrptPolicyType::sts);
  ASSERT_TRUE(out[0].failure);
  EXPECT_EQ(*out[0].failure, TlsrptResult::certificate_expired);
  EXPECT_EQ(out[0].sending_ip, "192.0.2.9");
  EXPECT_EQ(out[0].mx_host, "mx1.example.com");
  EXPECT_EQ(out[0].receiving_ip, "192.0.2.1");
  EXPECT_TRUE(out[1].success());
  EXPECT_EQ(out[1].policy_domain, "example.com");
  EXPECT_EQ(out[1].policy.type, TlsrptPolicyType::no_policy_found);
}

}  // namespace
}  // namespace tlsfence::tlsrpt
