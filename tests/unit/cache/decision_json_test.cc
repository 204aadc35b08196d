#include "policy/decision_json.h"

#include <gtest/gtest.h>

namespace tlsfence::policy {
namespace {

using std::chrono::seconds;

PolicyDecision full_decision() {
  PolicyDecision d;
  d.domain = "example.com";
  d.verdict = Verdict::policy;
  d.source = Source::dane;
  d.level = "dane-only";
  d.temp_reason = "";
  d.result_type = "dnssec-invalid";
  d.mx_dnssec = DnssecState::secure;
  DaneHost h;
  h.name = "mx1.example.com";
  h.tlsa_base = "mx1.example.net";
  h.preference = 10;
  h.address_state = DnssecState::secure;
  h.tlsa_state = DnssecState::bogus;
  h.tlsa.push_back(TlsaRecord{3, 1, 1, std::string("\x00\xff\x10 abc", 7), true});
  h.tlsa.push_back(TlsaRecord{255, 0, 2, "", false});
  h.dane = true;
  h.note = "secure TLSA";
  d.dane_hosts.push_back(h);
  d.dane_hosts.push_back(DaneHost{.name = "mx2.example.com", .preference = 65535});
  d.sts = StsPolicy{StsPolicy::Mode::enforce,
                    {"mx1.example.com", "*.example.net"},
                    604800,
                    "20240101T00",
                    {"version: STSv1", "mode: enforce"}};
  d.ttl = 4294967295u;
  d.decided_at = std::chrono::system_clock::time_point{seconds{1'700'000'000}};
  d.reasons = {"first", "second \"quoted\" ü"};
  return d;
}

void expect_same(const PolicyDecision& a, const PolicyDecision& b) {
  EXPECT_EQ(decision_to_json(a), decision_to_json(b));
  EXPECT_EQ(a.domain, b.domain);
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.result_type, b.result_type);
  EXPECT_EQ(a.mx_dnssec, b.mx_dnssec);
  ASSERT_EQ(a.dane_hosts.size(), b.dane_hosts.size());
  for (std::size_t i = 0; i < a.dane_hosts.size(); ++i) {
    const auto &x = a.dane_hosts[i], &y = b.dane_hosts[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.tlsa_base, y.tlsa_base);
    EXPECT_EQ(x.preference, y.preference);
    EXPECT_EQ(x.address_state, y.address_state);
    EXPECT_EQ(x.tlsa_state, y.tlsa_state);
    EXPECT_EQ(x.dane, y.dane);
    EXPECT_EQ(x.note, y.note);
    ASSERT_EQ(x.tlsa.size(), y.tlsa.size());
    for (std::size_t k = 0; k < x.tlsa.size(); ++k) {
      EXPECT_EQ(x.tlsa[k].usage, y.tlsa[k].usage);
      EXPECT_EQ(x.tlsa[k].selector, y.tlsa[k].selector);
      EXPECT_EQ(x.tlsa[k].matching_type, y.tlsa[k].matching_type);
      EXPECT_EQ(x.tlsa[k].data, y.tlsa[k].data);
      EXPECT_EQ(x.tlsa[k].usable, y.tlsa[k].usable);
    }
  }
  ASSERT_EQ(a.sts.has_value(), b.sts.has_value());
  if (a.sts) {
    EXPECT_EQ(a.sts->mode, b.sts->mode);
    EXPECT_EQ(a.sts->mx, b.sts->mx);
    EXPECT_EQ(a.sts->max_age, b.sts->max_age);
    EXPECT_EQ(a.sts->id, b.sts->id);
    EXPECT_EQ(a.sts->lines, b.sts->lines);
  }
  EXPECT_EQ(a.ttl, b.ttl);
  EXPECT_EQ(a.decided_at, b.decided_at);
  EXPECT_EQ(a.reasons, b.reasons);
}

TEST(DecisionJson, FullDecisionRoundTrips) {
  const PolicyDecision d = full_decision();
  auto back = decision_from_json_text(decision_to_json_text(d));
  ASSERT_TRUE(back) << back.error;
  expect_same(d, *back.value);
}

TEST(DecisionJson, DefaultDecisionRoundTrips) {
  PolicyDecision d;
  d.domain = "x.test";
  d.verdict = Verdict::temp_fail;
  d.temp_reason = "SERVFAIL";
  auto back = decision_from_json_text(decision_to_json_text(d));
  ASSERT_TRUE(back) << back.error;
  expect_same(d, *back.value);
  EXPECT_FALSE(back.value->sts.has_value());
}

TEST(DecisionJson, EncodingUsesNamesHexAndUnixSeconds) {
  auto j = decision_to_json(full_decision());
  EXPECT_EQ(j["verdict"], "policy");
  EXPECT_EQ(j["source"], "dane");
  EXPECT_EQ(j["mx_dnssec"], "secure");
  EXPECT_EQ(j["decided_at"], 1'700'000'000);
  EXPECT_EQ(j["dane_hosts"][0]["tlsa"][0]["data"], "00ff1020616263");
  EXPECT_EQ(j["dane_hosts"][0]["tlsa_dnssec"], "bogus");
  EXPECT_EQ(j["sts"]["mode"], "enforce");
}

TEST(DecisionJson, CachedStsRoundTrips) {
  CachedSts c{full_decision().sts.value(), std::chrono::system_clock::time_point{seconds{1'600'000'123}}};
  auto back = cached_sts_from_json_text(cached_sts_to_json_text(c));
  ASSERT_TRUE(back) << back.error;
  EXPECT_EQ(back.value->fetched_at, c.fetched_at);
  EXPECT_EQ(back.value->policy.mx, c.policy.mx);
  EXPECT_EQ(back.value->policy.id, c.policy.id);
  EXPECT_EQ(back.value->policy.max_age, c.policy.max_age);
  EXPECT_EQ(back.value->policy.mode, c.policy.mode);
  EXPECT_EQ(back.value->policy.lines, c.policy.lines);
}

TEST(DecisionJson, InvalidUtf8IsReplacedNotThrown) {
  PolicyDecision d;
  d.domain = "x.test";
  d.reasons = {std::string("bad \xff\xfe byte")};
  std::string text;
  ASSERT_NO_THROW(text = decision_to_json_text(d));
  EXPECT_TRUE(decision_from_json_text(text));
}

TEST(DecisionJson, BadInputGivesErrorsNotExceptions) {
  const char* bad[] = {
      "",
      "{",
      "null",
      "[]",
      "42",
      "{\"verdict\":\"policy\"}",                              // no domain
      "{\"domain\":\"a\"}",                                    // no verdict
      "{\"domain\":7,\"verdict\":\"policy\"}",                 // wrong type
      "{\"domain\":\"a\",\"verdict\":\"maybe\"}",              // unknown enum
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"ttl\":-1}",  // out of range
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"ttl\":4294967296}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"ttl\":1.5}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"decided_at\":99999999999999999999}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"reasons\":[1]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"reasons\":\"x\"}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"dane_hosts\":[{\"tlsa\":[{\"data\":\"abc\"}]}]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"dane_hosts\":[{\"tlsa\":[{\"data\":\"zz\"}]}]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"dane_hosts\":[{\"tlsa\":[{\"usage\":256}]}]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"dane_hosts\":[{\"preference\":70000}]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"dane_hosts\":[3]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"sts\":{\"mode\":\"strict\"}}",
      "{\"domain\":\"a\",\"verdict\":\"policy\",\"sts\":[]}",
      "{\"domain\":\"a\",\"verdict\":\"policy\"} trailing",
      "\"\xff\"",
  };
  for (const char* text : bad) {
    JsonResult<PolicyDecision> r;
    ASSERT_NO_THROW(r = decision_from_json_text(text)) << text;
    EXPECT_FALSE(r) << text;
    EXPECT_FALSE(r.error.empty()) << text;
  }
  EXPECT_FALSE(cached_sts_from_json_text("{\"fetched_at\":1}"));
  EXPECT_FALSE(cached_sts_from_json_text("{\"policy\":{\"mode\":\"enforce\",\"mx\":[true]}}"));
  EXPECT_FALSE(cached_sts_from_json_text("garbage"));
}

TEST(DecisionJson, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100'000, '[');
  EXPECT_FALSE(decision_from_json_text(deep));
  deep += std::string(100'000, ']');
  EXPECT_FALSE(decision_from_json_text(deep));
}

TEST(DecisionJson, UnknownKeysAreIgnored) {
  auto r = decision_from_json_text("{\"domain\":\"a.test\",\"verdict\":\"no-policy\",\"future\":{\"x\":1}}");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.value->verdict, Verdict::no_policy);
}

}  // namespace
}  // namespace tlsfence::policy
