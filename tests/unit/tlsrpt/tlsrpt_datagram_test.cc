// libtlsrpt datagram parser: the forms libtlsrpt writes, and what must be refused.
#include <gtest/gtest.h>

#include <string>

#include "parse/tlsrpt_datagram.h"
#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

using E = DatagramError;

// As libtlsrpt 0.5 writes it (newline before each policy, "t" and "f" last).
constexpr const char* sts_failure =
    "{\"d\": \"example.com\",\"pr\": \"v=TLSRPTv1; "
    "rua=mailto:r@example.com\"\n,\"policies\":[{\"policy-type\":2,"
    "\"policy-domain\": \"example.com\",\"policy-string\":[\"version: STSv1\",\"mode: enforce\",\"mx: "
    "*.example.com\",\"max_age: "
    "86400\"],\"mx-host\":[\"*.example.com\"],\"failure-details\":[{\"c\":202,\"s\": "
    "\"192.0.2.9\",\"n\": \"mx1.example.com\",\"h\": \"mx1.example.com ESMTP\",\"r\": \"192.0.2.1\",\"a\": "
    "\"more\",\"f\": \"X509_V_ERR_HOSTNAME_MISMATCH\"}],\"t\":1,\"f\":1}]}";

TEST(TlsrptDatagram, StsFailure) {
  auto r = parse_tlsrpt_datagram(sts_failure);
  ASSERT_TRUE(r.datagram) << to_string(r.error) << " " << r.detail;
  const auto& d = *r.datagram;
  EXPECT_EQ(d.domain, "example.com");
  EXPECT_EQ(d.policy_record, "v=TLSRPTv1; rua=mailto:r@example.com");
  ASSERT_EQ(d.policies.size(), 1u);
  const auto& p = d.policies[0];
  EXPECT_EQ(p.type, TlsrptPolicyType::sts);
  EXPECT_EQ(p.domain, "example.com");
  EXPECT_EQ(p.strings.size(), 4u);
  EXPECT_EQ(p.strings[1], "mode: enforce");
  ASSERT_EQ(p.mx_hosts.size(), 1u);
  EXPECT_EQ(p.mx_hosts[0], "*.example.com");
  EXPECT_TRUE(p.failed);
  ASSERT_EQ(p.failures.size(), 1u);
  const auto& f = p.failures[0];
  EXPECT_EQ(f.result, TlsrptResult::certificate_host_mismatch);
  EXPECT_EQ(f.sending_mta_ip, "192.0.2.9");
  EXPECT_EQ(f.receiving_mx_hostname, "mx1.example.com");
  EXPECT_EQ(f.receiving_mx_helo, "mx1.example.com ESMTP");
  EXPECT_EQ(f.receiving_ip, "192.0.2.1");
  EXPECT_EQ(f.additional_information, "more");
  EXPECT_EQ(f.failure_reason_code, "X509_V_ERR_HOSTNAME_MISMATCH");
}

TEST(TlsrptDatagram, TlsaSuccessWithDpvAndNoPolicy) {
  auto r = parse_tlsrpt_datagram(
      R"({"dpv":"1","d":"dane.example","policies":[{"policy-type":1,"policy-domain":"dane.example",)"
      R"("policy-string":["3 1 1 0123ABCD"],"mx-host":["mx.dane.example"],"t":0,"f":0}]})");
  ASSERT_TRUE(r.datagram) << to_string(r.error) << " " << r.detail;
  EXPECT_EQ(r.datagram->version, "1");
  EXPECT_EQ(r.datagram->policies[0].type, TlsrptPolicyType::tlsa);
  EXPECT_FALSE(r.datagram->policies[0].failed);
  auto n =
      parse_tlsrpt_datagram(R"({"dpv":1,"d":"plain.example","policies":[{"policy-type":9,"t":0,"f":0}]})");
  ASSERT_TRUE(n.datagram) << to_string(n.error) << " " << n.detail;
  EXPECT_EQ(n.datagram->policies[0].type, TlsrptPolicyType::no_policy_found);
  EXPECT_TRUE(n.datagram->policies[0].domain.empty());
}

TEST(TlsrptDatagram, Rejected) {
  struct Row {
    std::string bytes;
    E error;
  } rows[] = {
      {"", E::bad_json},
      {"{", E::bad_json},
      {"not json", E::bad_json},
      {"[]", E::not_object},
      {"42", E::not_object},
      {R"({"policies":[]})", E::missing_field},
      {R"({"d":5,"policies":[]})", E::bad_type},
      {R"({"d":"","policies":[{"policy-type":9,"f":0}]})", E::bad_value},
      {R"({"d":"x.example"})", E::missing_field},
      {R"({"d":"x.example","policies":{}})", E::bad_type},
      {R"({"d":"x.example","policies":[]})", E::bad_value},
      {R"({"d":"x.example","policies":[5]})", E::bad_type},
      {R"({"d":"x.example","policies":[{"f":0}]})", E::missing_field},
      {R"({"d":"x.example","policies":[{"policy-type":3,"f":0}]})", E::bad_value},
      {R"({"d":"x.example","policies":[{"policy-type":"two","f":0}]})", E::bad_type},
      {R"({"d":"x.example","policies":[{"policy-type":2}]})", E::missing_field},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":2}]})", E::bad_value},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":1,"policy-string":"x"}]})", E::bad_type},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":1,"mx-host":[1]}]})", E::bad_type},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":1,"failure-details":[{"s":"1"}]}]})",
       E::missing_field},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":1,"failure-details":[{"c":999}]}]})",
       E::bad_value},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":1,"failure-details":[{"c":202,"n":7}]}]})",
       E::bad_type},
      {R"({"d":"x.example","policies":[{"policy-type":2,"f":1,"t":"many"}]})", E::bad_type},
      {R"({"dpv":"2","d":"x.example","policies":[{"policy-type":9,"f":0}]})", E::unsupported_version},
      {R"({"dpv":[],"d":"x.example","policies":[{"policy-type":9,"f":0}]})", E::bad_type},
  };
  for (const auto& row : rows) {
    auto r = parse_tlsrpt_datagram(row.bytes);
    EXPECT_FALSE(r.datagram) << row.bytes;
    EXPECT_EQ(r.error, row.error) << row.bytes << " → " << to_string(r.error) << " " << r.detail;
  }
}

TEST(TlsrptDatagram, SizeLimit) {
  std::string base = R"({"d":"x.example","policies":[{"policy-type":9,"f":0}],"pad":")";
  std::string at = base + std::string(limits::tlsrpt_datagram_max - base.size() - 2, 'a') + "\"}";
  ASSERT_EQ(at.size(), limits::tlsrpt_datagram_max);
  EXPECT_TRUE(parse_tlsrpt_datagram(at).datagram);
  std::string over = base + std::string(limits::tlsrpt_datagram_max - base.size() - 1, 'a') + "\"}";
  EXPECT_EQ(parse_tlsrpt_datagram(over).error, E::too_large);
}

TEST(TlsrptDatagram, ListLimits) {
  std::string many = R"({"d":"x.example","policies":[)";
  for (std::size_t i = 0; i <= limits::tlsrpt_datagram_policies_max; ++i)
    many += std::string(i ? "," : "") + R"({"policy-type":9,"f":0})";
  many += "]}";
  EXPECT_EQ(parse_tlsrpt_datagram(many).error, E::too_many);
}

TEST(TlsrptDatagram, DeepNestingIsNotACrash) {
  std::string deep(30000, '[');
  auto r = parse_tlsrpt_datagram(deep);
  EXPECT_FALSE(r.datagram);
}

}  // namespace
}  // namespace tlsfence::parse
