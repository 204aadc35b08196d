// RFC 8461 §4.1 MX host matching.
#include <gtest/gtest.h>

#include <string>

#include "parse/mx_match.h"

namespace tlsfence::parse {
namespace {

struct MatchCase {
  const char* host;
  const char* pattern;
  bool matches;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << c.host << " ~ " << c.pattern;
}

class MxMatch : public testing::TestWithParam<MatchCase> {};

TEST_P(MxMatch, Table) {
  const auto& c = GetParam();
  EXPECT_EQ(mx_matches(c.host, c.pattern), c.matches) << c.host << " vs " << c.pattern;
}

INSTANTIATE_TEST_SUITE_P(
    Table, MxMatch,
    testing::Values(MatchCase{"mail.example.com", "mail.example.com", true},
                    MatchCase{"MAIL.Example.COM", "mail.example.com", true},
                    MatchCase{"mail.example.com", "MAIL.EXAMPLE.COM", true},
                    MatchCase{"mail.example.com.", "mail.example.com", true},
                    MatchCase{"mail.example.com", "mail.example.com.", true},
                    MatchCase{"mail.example.com", "example.com", false},
                    MatchCase{"mail.example.com", "mail.example.co", false},
                    MatchCase{"xmail.example.com", "mail.example.com", false},
                    MatchCase{"mx.example.com", "*.example.com", true},
                    MatchCase{"MX.EXAMPLE.COM.", "*.example.com", true},
                    MatchCase{"mx.example.com", "*.EXAMPLE.com.", true},
                    MatchCase{"a.b.example.com", "*.example.com", false},
                    MatchCase{"example.com", "*.example.com", false},
                    MatchCase{".example.com", "*.example.com", false},
                    MatchCase{"mxexample.com", "*.example.com", false},
                    MatchCase{"mx.example.com.evil", "*.example.com", false},
                    MatchCase{"*.example.com", "*.example.com", false}, MatchCase{"", "*.example.com", false},
                    MatchCase{"mx.example.com", "", false}, MatchCase{"mx.example.com", "*.", false},
                    MatchCase{"mx.example.com", "*", false}),
    [](const testing::TestParamInfo<MatchCase>& i) { return "case" + std::to_string(i.index); });

TEST(MxMatch, OverPolicy) {
  StsPolicy p;
  p.mx = {"mail.example.com", "*.example.net"};
  EXPECT_TRUE(mx_matches("mail.example.com", p));
  EXPECT_TRUE(mx_matches("mx1.example.net", p));
  EXPECT_FALSE(mx_matches("a.mx1.example.net", p));
  EXPECT_FALSE(mx_matches("other.example.com", p));
  EXPECT_FALSE(mx_matches_any("mail.example.com", {}));
}

}  // namespace
}  // namespace tlsfence::parse
