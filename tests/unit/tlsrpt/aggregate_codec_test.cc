// The fleet's JSON form of one host's aggregates (tlsrpt/aggregate_codec.h): round trip, the
// sum of several hosts' into one report's worth, and rows that must be refused with a reason.
#include "tlsrpt/aggregate_codec.h"

#include <gtest/gtest.h>

namespace tlsfence::tlsrpt {
namespace {

PolicyAggregate sts(std::uint64_t ok, std::uint64_t fail) {
  PolicyAggregate a;
  a.policy.type = TlsrptPolicyType::sts;
  a.policy.strings = {"version: STSv1", "mode: enforce", "mx: mx1.example.com", "max_age: 86400"};
  a.policy.domain = "example.com";
  a.policy.mx_hosts = {"mx1.example.com"};
  a.successful_sessions = ok;
  a.failed_sessions = fail;
  if (fail > 0) {
    FailureDetail f;
    f.result = TlsrptResult::certificate_expired;
    f.sending_mta_ip = "192.0.2.1";
    f.receiving_mx_hostname = "mx1.example.com";
    f.receiving_mx_helo = "mx1 ESMTP";
    f.receiving_ip = "198.51.100.7";
    f.failure_reason_code = "X509_V_ERR_CERT_HAS_EXPIRED";
    f.additional_information = "https://example.com/why";
    f.failed_session_count = fail;
    a.failures.push_back(f);
  }
  return a;
}

TEST(AggregateCodec, RoundTripKeepsEveryField) {
  PolicyAggregate dane;
  dane.policy.type = TlsrptPolicyType::tlsa;
  dane.policy.strings = {"3 1 1 ABCD"};
  dane.policy.domain = "example.com";
  dane.successful_sessions = 5;
  const std::vector<PolicyAggregate> in{sts(3, 2), dane};
  std::string error;
  const auto out = aggregates_from_json(aggregates_to_json(in), error);
  ASSERT_TRUE(out) << error;
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].policy, in[0].policy);
  EXPECT_EQ((*out)[0].successful_sessions, 3u);
  EXPECT_EQ((*out)[0].failed_sessions, 2u);
  ASSERT_EQ((*out)[0].failures.size(), 1u);
  const auto& f = (*out)[0].failures[0];
  EXPECT_EQ(f.result, TlsrptResult::certificate_expired);
  EXPECT_EQ(f.sending_mta_ip, "192.0.2.1");
  EXPECT_EQ(f.receiving_mx_helo, "mx1 ESMTP");
  EXPECT_EQ(f.failure_reason_code, "X509_V_ERR_CERT_HAS_EXPIRED");
  EXPECT_EQ(f.additional_information, "https://example.com/why");
  EXPECT_EQ(f.failed_session_count, 2u);
  EXPECT_EQ((*out)[1].policy, dane.policy);
  EXPECT_EQ(total_sessions(*out), 10u);
}

TEST(AggregateCodec, BytesThatAreNotUtf8AreReplacedNotThrown) {
  auto a = sts(0, 1);
  a.failures[0].receiving_mx_helo = std::string("mx\xff\xfe", 4);
  std::string error;
  const auto out = aggregates_from_json(aggregates_to_json({a}), error);
  ASSERT_TRUE(out) << error;
  EXPECT_EQ((*out)[0].failures[0].receiving_mx_helo, "mx\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(AggregateCodec, MergeSumsEqualPoliciesAndDetails) {
  std::vector<PolicyAggregate> sum{sts(3, 1)};
  auto other = sts(4, 2);
  other.failures[0].receiving_mx_helo = "another EHLO";  // does not split a group: the first kept
  FailureDetail second = other.failures[0];
  second.result = TlsrptResult::sts_webpki_invalid;
  second.failed_session_count = 1;
  other.failures[0].failed_session_count = 1;
  other.failures.push_back(second);
  PolicyAggregate none;
  none.policy.type = TlsrptPolicyType::no_policy_found;
  none.policy.domain = "example.com";
  none.successful_sessions = 7;
  merge_aggregates(sum, {other, none});
  ASSERT_EQ(sum.size(), 2u);
  EXPECT_EQ(sum[0].successful_sessions, 7u);
  EXPECT_EQ(sum[0].failed_sessions, 3u);
  ASSERT_EQ(sum[0].failures.size(), 2u);
  EXPECT_EQ(sum[0].failures[0].failed_session_count, 2u);
  EXPECT_EQ(sum[0].failures[0].receiving_mx_helo, "mx1 ESMTP");
  EXPECT_EQ(sum[0].failures[1].result, TlsrptResult::sts_webpki_invalid);
  EXPECT_EQ(sum[1].successful_sessions, 7u);
  EXPECT_EQ(total_sessions(sum), 17u);
}

TEST(AggregateCodec, PoliciesDifferingInAnyPartStayApart) {
  std::vector<PolicyAggregate> sum{sts(1, 0)};
  auto other_mx = sts(1, 0);
  other_mx.policy.mx_hosts = {"mx2.example.com"};
  auto other_strings = sts(1, 0);
  other_strings.policy.strings.back() = "max_age: 604800";
  merge_aggregates(sum, {other_mx, other_strings});
  EXPECT_EQ(sum.size(), 3u);
}

struct Bad {
  const char* json;
  const char* error;
};

class AggregateCodecRefuses : public ::testing::TestWithParam<Bad> {};

TEST_P(AggregateCodecRefuses, NamesWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(aggregates_from_json(GetParam().json, error));
  EXPECT_EQ(error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, AggregateCodecRefuses,
    ::testing::Values(
        Bad{"", "not JSON"}, Bad{"{broken", "not JSON"}, Bad{R"({"type":"sts"})", "not a list of policies"},
        Bad{"[1]", "policy 1: not an object"},
        Bad{R"([{"strings":[]}])", "policy 1: \"type\" missing or not a string"},
        Bad{R"([{"type":"starttls"}])", "policy 1: unknown policy type \"starttls\""},
        Bad{R"([{"type":"sts","strings":[1],"domain":"d","mx":[],"ok":1,"fail":0,"details":[]}])",
            "policy 1: \"strings\" holds a non-string"},
        Bad{R"([{"type":"sts","strings":[],"domain":"d","mx":[],"ok":-1,"fail":0,"details":[]}])",
            "policy 1: \"ok\" missing or not a count"},
        Bad{R"([{"type":"sts","strings":[],"domain":"d","mx":[],"ok":1.5,"fail":0,"details":[]}])",
            "policy 1: \"ok\" missing or not a count"},
        Bad{R"([{"type":"sts","strings":[],"domain":"d","mx":[],"ok":9007199254740993,"fail":0,"details":[]}])",
            "policy 1: \"ok\" missing or not a count"},
        Bad{R"([{"type":"sts","strings":[],"domain":"d","mx":[],"ok":1,"fail":0}])",
            "policy 1: \"details\" missing or not a list"},
        Bad{R"([{"type":"sts","strings":[],"domain":"d","mx":[],"ok":1,"fail":1,"details":[{"result":"nope"}]}])",
            "policy 1 detail 1: unknown result type \"nope\""},
        Bad{R"([{"type":"sts","strings":[],"domain":"d","mx":[],"ok":1,"fail":1,"details":[{"result":"starttls-not-supported","sip":"","mx":"","helo":"","rip":"","code":"","info":"","n":2}]}])",
            "policy 1: its details count 2 failed sessions, more than its 1"}));

TEST(AggregateCodec, AnEmptyListIsNoPolicies) {
  std::string error;
  const auto out = aggregates_from_json("[]", error);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->empty());
}

}  // namespace
}  // namespace tlsfence::tlsrpt
