// Table tests for the _mta-sts TXT record parser (RFC 8461 §3.1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse/sts_txt.h"

namespace tlsfence::parse {
namespace {

using E = StsTxtError;

struct RecordCase {
  const char* name;
  std::string record;
  E error;
  std::string id;
};

class StsTxtRecord : public testing::TestWithParam<RecordCase> {};

TEST_P(StsTxtRecord, Parses) {
  const auto& c = GetParam();
  auto r = parse_sts_txt({c.record});
  EXPECT_EQ(r.error, c.error) << c.record << " -> " << r.detail;
  EXPECT_EQ(r.id, c.id);
  if (!r.ok()) {
    EXPECT_FALSE(r.detail.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, StsTxtRecord,
    testing::Values(
        // RFC 8461 §3.1 example
        RecordCase{"rfc_example", "v=STSv1; id=20160831085700Z;", E::none, "20160831085700Z"},
        RecordCase{"no_trailing_semicolon", "v=STSv1; id=abc123", E::none, "abc123"},
        RecordCase{"no_spaces", "v=STSv1;id=abc", E::none, "abc"},
        RecordCase{"tabs_and_spaces_around_delim", "v=STSv1 \t; \tid=abc \t; ", E::none, "abc"},
        RecordCase{"extension_tolerated", "v=STSv1; id=abc; foo_bar-1.x=some:value/ok;", E::none, "abc"},
        RecordCase{"extension_before_id", "v=STSv1; ext=1; id=X9", E::none, "X9"},
        RecordCase{"id_32_chars", "v=STSv1; id=" + std::string(32, 'a'), E::none, std::string(32, 'a')},
        RecordCase{"id_33_chars", "v=STSv1; id=" + std::string(33, 'a'), E::bad_id, ""},
        RecordCase{"id_bad_chars_dash", "v=STSv1; id=2016-08-31;", E::bad_id, ""},
        RecordCase{"id_bad_chars_underscore", "v=STSv1; id=abc_def;", E::bad_id, ""},
        RecordCase{"id_empty", "v=STSv1; id=;", E::bad_id, ""},
        RecordCase{"id_non_ascii", "v=STSv1; id=caf\xc3\xa9;", E::bad_id, ""},
        RecordCase{"first_id_wins", "v=STSv1; id=first; id=second", E::none, "first"},
        RecordCase{"missing_id", "v=STSv1; foo=bar;", E::missing_id, ""},
        RecordCase{"version_only", "v=STSv1;", E::missing_id, ""},
        RecordCase{"version_only_no_semicolon", "v=STSv1", E::missing_id, ""},
        RecordCase{"id_upper_key", "v=STSv1; ID=abc", E::missing_id, ""},
        RecordCase{"missing_delimiter", "v=STSv1 id=abc", E::syntax, ""},
        RecordCase{"double_semicolon", "v=STSv1;; id=abc", E::syntax, ""},
        RecordCase{"space_in_value", "v=STSv1; id=abc def", E::syntax, ""},
        RecordCase{"field_without_equals", "v=STSv1; id=abc; junk", E::syntax, ""},
        RecordCase{"bad_extension_name", "v=STSv1; id=abc; _x=1", E::syntax, ""},
        RecordCase{"empty_extension_value", "v=STSv1; id=abc; x=", E::syntax, ""},
        RecordCase{"trailing_space_without_semicolon", "v=STSv1; id=abc ", E::syntax, ""},
        // not candidates at all → no record
        RecordCase{"version_not_first", "id=abc; v=STSv1;", E::no_record, ""},
        RecordCase{"leading_space", " v=STSv1; id=abc", E::no_record, ""},
        RecordCase{"lower_case_version", "v=stsv1; id=abc", E::no_record, ""},
        RecordCase{"other_version", "v=STSv10; id=abc", E::no_record, ""},
        RecordCase{"spf", "v=spf1 -all", E::no_record, ""}, RecordCase{"empty_string", "", E::no_record, ""}),
    [](const testing::TestParamInfo<RecordCase>& i) { return std::string(i.param.name); });

TEST(StsTxt, NoRecordsAtAll) {
  auto r = parse_sts_txt({});
  EXPECT_EQ(r.error, E::no_record);
}

TEST(StsTxt, TwoStsRecordsMeanNoPolicy) {
  auto r = parse_sts_txt({"v=STSv1; id=one;", "v=STSv1; id=two;"});
  EXPECT_EQ(r.error, E::several_records);
  EXPECT_NE(r.detail.find('2'), std::string::npos);
}

TEST(StsTxt, TwoRecordsOneInvalidStillSeveral) {
  EXPECT_EQ(parse_sts_txt({"v=STSv1; id=one;", "v=STSv1"}).error, E::several_records);
}

TEST(StsTxt, UnrelatedRecordBesideIsIgnored) {
  auto r = parse_sts_txt({"v=spf1 -all", "v=STSv1; id=20160831085700Z;", "google-site-verification=x"});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.id, "20160831085700Z");
}

TEST(StsTxt, NotFirstIsNotACandidate) {
  EXPECT_FALSE(is_sts_txt_candidate("id=1; v=STSv1"));
  EXPECT_TRUE(is_sts_txt_candidate("v=STSv1"));
  EXPECT_TRUE(is_sts_txt_candidate("v=STSv1 ;id=1"));
  EXPECT_FALSE(is_sts_txt_candidate("v=STSv1x"));
}

}  // namespace
}  // namespace tlsfence::parse
