#include "policy/overrides.h"

#include <gtest/gtest.h>

namespace tlsfence::policy {
namespace {

TEST(Overrides, ExactBeatsSuffixAndSuffixMatchesOnlySubdomains) {
  Overrides o({"example.org encrypt", ".example.org secure match=.example.org", "Other.NET. dane-only"});
  ASSERT_NE(o.find("example.org"), nullptr);
  EXPECT_EQ(o.find("example.org")->level, "encrypt");
  ASSERT_NE(o.find("mx.example.org"), nullptr);
  EXPECT_EQ(o.find("mx.example.org")->level, "secure match=.example.org");
  EXPECT_EQ(o.find("a.b.example.org")->level, "secure match=.example.org");
  EXPECT_EQ(o.find("other.net")->level, "dane-only");
  EXPECT_EQ(o.find("sub.other.net"), nullptr);
  EXPECT_EQ(o.find("example.com"), nullptr);
  EXPECT_EQ(o.find("notexample.org"), nullptr);
}

TEST(Overrides, EmptyHasNoRules) {
  Overrides o;
  EXPECT_TRUE(o.empty());
  EXPECT_EQ(o.find("example.org"), nullptr);
}

struct BadRule {
  const char* rule;
  const char* message_part;
};

class OverridesBad : public ::testing::TestWithParam<BadRule> {};

TEST_P(OverridesBad, RejectedWithTheRuleNamed) {
  try {
    Overrides o({GetParam().rule});
    FAIL() << "accepted: " << GetParam().rule;
  } catch (const OverrideError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().message_part), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("local.override"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, OverridesBad,
                         ::testing::Values(BadRule{"example.org", "expected DOMAIN LEVEL"},
                                           BadRule{"", "expected DOMAIN LEVEL"},
                                           BadRule{"example.org strict", "unknown TLS level \"strict\""},
                                           BadRule{"exa mple.org", "unknown TLS level"},
                                           BadRule{"ex@mple.org encrypt", "is not a domain name"},
                                           BadRule{"-bad.org encrypt", "is not a domain name"},
                                           BadRule{"a..b encrypt", "is not a domain name"},
                                           BadRule{"example.org secure match", "is not name=value"}));

TEST(Overrides, DuplicateRuleRejected) {
  EXPECT_THROW(Overrides({"example.org encrypt", "EXAMPLE.org. verify"}), OverrideError);
}

TEST(Overrides, LevelsAreThePostfixOnes) {
  for (const char* l : {"none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure"}) {
    EXPECT_TRUE(is_postfix_tls_level(l)) << l;
  }
  EXPECT_FALSE(is_postfix_tls_level("DANE"));
  EXPECT_FALSE(is_postfix_tls_level(""));
}

}  // namespace
}  // namespace tlsfence::policy
