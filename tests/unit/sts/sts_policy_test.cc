// Table tests for the MTA-STS policy parser (RFC 8461 §3.2, errata 6253 and 7282).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse/sts_policy.h"
#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

using E = StsPolicyError;
using Mode = StsPolicy::Mode;

// RFC 8461 §3.2, first example (CRLF line ends)
const std::string kRfcEnforce =
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
    "mx: backupmx.example.com\r\nmax_age: 604800\r\n";
// RFC 8461 §3.2, second example (bare LF, no final terminator)
const std::string kRfcTesting =
    "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\n"
    "mx: mx.backup-example.com\nmax_age: 1296000";

const std::string kHead = "version: STSv1\r\nmode: enforce\r\n";

struct Case {
  const char* name;
  std::string body;
  E error;
  std::size_t line = 0;  // expected error line (0: no line / not checked)
};

class StsPolicyTable : public testing::TestWithParam<Case> {};

TEST_P(StsPolicyTable, Parses) {
  const auto& c = GetParam();
  auto r = parse_sts_policy(c.body);
  EXPECT_EQ(r.error, c.error) << r.detail;
  if (c.line) {
    EXPECT_EQ(r.line, c.line) << r.detail;
  }
  if (!r.ok()) {
    EXPECT_FALSE(r.detail.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, StsPolicyTable,
    testing::Values(
        Case{"rfc_enforce", kRfcEnforce, E::none}, Case{"rfc_testing", kRfcTesting, E::none},
        Case{"lf_only", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86400\n", E::none},
        Case{"mixed_crlf_lf", "version: STSv1\r\nmode: enforce\nmx: a.example\r\nmax_age: 86400", E::none},
        Case{"trailing_spaces_and_tabs",
             "version: STSv1  \r\nmode: enforce\t\r\nmx: a.example \t\r\nmax_age: 86400 ", E::none},
        Case{"no_space_after_colon", "version:STSv1\nmode:enforce\nmx:a.example\nmax_age:86400", E::none},
        Case{"tab_after_colon", "version:\tSTSv1\nmode: enforce\nmx: a.example\nmax_age: 86400", E::none},
        Case{"version_not_first", "mode: enforce\nmx: a.example\nmax_age: 1\nversion: STSv1\n", E::none},
        Case{"mode_none_without_mx", "version: STSv1\nmode: none\nmax_age: 86400\n", E::none},
        Case{"extension_ignored",
             kHead + "mx: a.example\r\nmax_age: 1\r\nx-foo.bar_1: any value here: ok\r\n", E::none},
        Case{"extension_utf8", kHead + "mx: a.example\r\nmax_age: 1\r\nnote: caf\xc3\xa9\r\n", E::none},
        Case{"max_age_zero", kHead + "mx: a.example\r\nmax_age: 0\r\n", E::none},
        Case{"max_age_10_digits", kHead + "mx: a.example\r\nmax_age: 9999999999\r\n", E::none},
        Case{"duplicate_mode_first_wins", kHead + "mode: doubt\r\nmx: a.example\r\nmax_age: 1\r\n", E::none},
        // failures
        Case{"empty", "", E::empty},
        Case{"garbage_html", "<html><body>Not here</body></html>\n", E::syntax, 1},
        Case{"garbage_binary", std::string("\x89PNG\r\n\x1a\n\0\0", 10), E::syntax, 1},
        Case{"missing_mx_enforce", "version: STSv1\nmode: enforce\nmax_age: 86400\n", E::missing_mx},
        Case{"missing_mx_testing", "version: STSv1\nmode: testing\nmax_age: 86400\n", E::missing_mx},
        Case{"mode_doubt", "version: STSv1\nmode: doubt\nmx: a.example\nmax_age: 86400\n", E::bad_mode, 2},
        Case{"mode_upper_case", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 86400\n", E::bad_mode,
             2},
        Case{"missing_mode", "version: STSv1\nmx: a.example\nmax_age: 86400\n", E::missing_mode},
        Case{"key_upper_case_is_extension", "version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 1\n",
             E::missing_mode},
        Case{"missing_version", "mode: enforce\nmx: a.example\nmax_age: 86400\n", E::missing_version},
        Case{"bad_version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 86400\n", E::bad_version,
             1},
        Case{"missing_max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", E::missing_max_age},
        Case{"max_age_non_numeric", kHead + "mx: a.example\r\nmax_age: 1d\r\n", E::bad_max_age, 4},
        Case{"max_age_negative", kHead + "mx: a.example\r\nmax_age: -1\r\n", E::bad_max_age, 4},
        Case{"max_age_plus", kHead + "mx: a.example\r\nmax_age: +1\r\n", E::bad_max_age, 4},
        Case{"max_age_empty", kHead + "mx: a.example\r\nmax_age:\r\n", E::bad_max_age, 4},
        Case{"max_age_11_digits", kHead + "mx: a.example\r\nmax_age: 10000000000\r\n", E::bad_max_age, 4},
        Case{"max_age_inner_space", kHead + "mx: a.example\r\nmax_age: 86 400\r\n", E::bad_max_age, 4},
        Case{"blank_line_between", "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n",
             E::blank_line, 2},
        Case{"blank_line_at_end", kHead + "mx: a.example\r\nmax_age: 1\r\n\r\n", E::blank_line, 5},
        Case{"whitespace_only_line", kHead + "  \r\nmx: a.example\r\nmax_age: 1\r\n", E::blank_line, 3},
        Case{"leading_space", " version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", E::syntax, 1},
        Case{"space_before_colon", "version : STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", E::syntax,
             1},
        Case{"no_colon", kHead + "mx a.example\r\nmax_age: 1\r\n", E::syntax, 3},
        Case{"bare_cr_line_end", "version: STSv1\rmode: enforce\rmx: a.example\rmax_age: 1\r", E::syntax, 1},
        Case{"nul_byte", kHead + std::string("mx: a.exa\0mple\r\nmax_age: 1\r\n", 27), E::syntax, 3},
        Case{"bad_utf8_in_extension", kHead + "mx: a.example\r\nmax_age: 1\r\nnote: \xff\r\n", E::syntax, 5},
        Case{"empty_extension_value", kHead + "mx: a.example\r\nmax_age: 1\r\nnote:\r\n", E::syntax, 5},
        Case{"ip_literal_mx", kHead + "mx: [192.0.2.1]\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"bare_ipv4_mx", kHead + "mx: 192.0.2.1\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"ipv6_mx", kHead + "mx: 2001:db8::1\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"double_wildcard_mx", kHead + "mx: *.*.example\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"inner_wildcard_mx", kHead + "mx: mail.*.example\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"partial_label_wildcard_mx", kHead + "mx: mx*.example\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"bare_star_mx", kHead + "mx: *\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"empty_mx", kHead + "mx:\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"mx_trailing_dot", kHead + "mx: a.example.\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"mx_underscore", kHead + "mx: a_b.example\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"mx_two_values", kHead + "mx: a.example b.example\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"mx_label_hyphen_edge", kHead + "mx: -a.example\r\nmax_age: 1\r\n", E::bad_mx, 3},
        Case{"mx_label_too_long", kHead + "mx: " + std::string(64, 'a') + ".example\r\nmax_age: 1\r\n",
             E::bad_mx, 3}),
    [](const testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(StsPolicy, RfcEnforceExampleFields) {
  auto r = parse_sts_policy(kRfcEnforce);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.policy.mode, Mode::enforce);
  EXPECT_EQ(r.policy.max_age, 604800u);
  EXPECT_EQ(r.policy.mx,
            (std::vector<std::string>{"mail.example.com", "*.example.net", "backupmx.example.com"}));
  EXPECT_EQ(r.policy.lines,
            (std::vector<std::string>{"version: STSv1", "mode: enforce", "mx: mail.example.com",
                                      "mx: *.example.net", "mx: backupmx.example.com", "max_age: 604800"}));
  EXPECT_TRUE(r.policy.id.empty());
}

TEST(StsPolicy, RfcTestingExampleFields) {
  auto r = parse_sts_policy(kRfcTesting);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.policy.mode, Mode::testing);
  EXPECT_EQ(r.policy.max_age, 1296000u);
  EXPECT_EQ(r.policy.mx.size(), 3u);
  EXPECT_EQ(r.policy.lines.size(), 6u);
}

TEST(StsPolicy, TrailingWhitespaceIsNotPartOfValues) {
  auto r = parse_sts_policy("version: STSv1 \nmode: enforce  \nmx: a.example\t\nmax_age: 60 \n");
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.policy.mode, Mode::enforce);
  EXPECT_EQ(r.policy.mx, std::vector<std::string>{"a.example"});
  EXPECT_EQ(r.policy.max_age, 60u);
}

TEST(StsPolicy, MaxAgeAtLimitAndCappedAbove) {
  auto at = parse_sts_policy(kHead + "mx: a.example\nmax_age: 31557600\n");
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at.policy.max_age, limits::sts_max_age_max);
  auto above = parse_sts_policy(kHead + "mx: a.example\nmax_age: 31557601\n");
  ASSERT_TRUE(above.ok()) << above.detail;
  EXPECT_EQ(above.policy.max_age, limits::sts_max_age_max);
  auto ten = parse_sts_policy(kHead + "mx: a.example\nmax_age: 9999999999\n");
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(ten.policy.max_age, limits::sts_max_age_max);
  auto leading_zeros = parse_sts_policy(kHead + "mx: a.example\nmax_age: 0000000060\n");
  ASSERT_TRUE(leading_zeros.ok());
  EXPECT_EQ(leading_zeros.policy.max_age, 60u);
}

TEST(StsPolicy, DuplicateKeysFirstWinsMxAccumulates) {
  auto r = parse_sts_policy(
      "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 100\nmax_age: 200\n"
      "mx: *.b.example\nversion: STSv9\n");
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.policy.mode, Mode::testing);
  EXPECT_EQ(r.policy.max_age, 100u);
  EXPECT_EQ(r.policy.mx, (std::vector<std::string>{"a.example", "*.b.example"}));
}

TEST(StsPolicy, ModeNoneKeepsMx) {
  auto r = parse_sts_policy("version: STSv1\nmode: none\nmx: a.example\nmax_age: 5\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.policy.mode, Mode::none);
  EXPECT_EQ(r.policy.mx.size(), 1u);
}

TEST(StsPolicy, MxPatternCountAtLimitAndOnePast) {
  std::string body = kHead + "max_age: 1\n";
  for (std::size_t i = 0; i < limits::sts_mx_patterns_max; ++i)
    body += "mx: m" + std::to_string(i) + ".example\n";
  auto at = parse_sts_policy(body);
  ASSERT_TRUE(at.ok()) << at.detail;
  EXPECT_EQ(at.policy.mx.size(), limits::sts_mx_patterns_max);
  auto past = parse_sts_policy(body + "mx: one-more.example\n");
  EXPECT_EQ(past.error, E::too_many_mx);
}

TEST(StsPolicy, MxPatternValidity) {
  EXPECT_TRUE(is_valid_mx_pattern("mail.example.com"));
  EXPECT_TRUE(is_valid_mx_pattern("*.example.com"));
  EXPECT_TRUE(is_valid_mx_pattern("MX1.Example.COM"));
  EXPECT_TRUE(is_valid_mx_pattern("localhost"));
  EXPECT_TRUE(is_valid_mx_pattern("xn--bcher-kva.example"));
  EXPECT_TRUE(is_valid_mx_pattern("1mail.example"));
  EXPECT_TRUE(is_valid_mx_pattern("mx.123example"));
  EXPECT_FALSE(is_valid_mx_pattern("*.1.2.3"));
  EXPECT_FALSE(is_valid_mx_pattern("*example.com"));
  EXPECT_FALSE(is_valid_mx_pattern("*."));
  EXPECT_FALSE(is_valid_mx_pattern("a..example"));
  EXPECT_FALSE(is_valid_mx_pattern(".example"));
  EXPECT_FALSE(is_valid_mx_pattern(std::string(250, 'a') + ".com"));
}

}  // namespace
}  // namespace tlsfence::parse
