// _smtp._tls record parser (RFC 8460 §3): table of accepted and rejected records.
#include <gtest/gtest.h>

#include <string>

#include "parse/tlsrpt_record.h"
#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

using E = TlsrptRecordError;
using S = TlsrptRua::Scheme;

TEST(TlsrptRecord, SingleMailto) {
  auto r = parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:reports@example.com");
  ASSERT_TRUE(r.record) << to_string(r.error);
  ASSERT_EQ(r.record->rua.size(), 1u);
  EXPECT_EQ(r.record->rua[0].scheme, S::mailto);
  EXPECT_EQ(r.record->rua[0].target, "reports@example.com");
  EXPECT_EQ(r.record->rua[0].uri, "mailto:reports@example.com");
}

TEST(TlsrptRecord, SeveralUrisWithSpacesAndTrailingDelimiter) {
  auto r =
      parse_tlsrpt_record("v=TLSRPTv1;rua=mailto:a@example.com , https://reporting.example.com/v1/tlsrpt ;");
  ASSERT_TRUE(r.record) << to_string(r.error);
  ASSERT_EQ(r.record->rua.size(), 2u);
  EXPECT_EQ(r.record->rua[0].target, "a@example.com");
  EXPECT_EQ(r.record->rua[1].scheme, S::https);
  EXPECT_EQ(r.record->rua[1].target, "https://reporting.example.com/v1/tlsrpt");
}

TEST(TlsrptRecord, PercentEncodingDecoded) {
  auto r =
      parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:tls%2Breports@example.com,https://r.example/a%2Cb%3Bc%2F");
  ASSERT_TRUE(r.record) << to_string(r.error);
  ASSERT_EQ(r.record->rua.size(), 2u);
  EXPECT_EQ(r.record->rua[0].target, "tls+reports@example.com");
  // In an https: URL only the §3 delimiters are decoded; %2F stays as published.
  EXPECT_EQ(r.record->rua[1].target, "https://r.example/a,b;c%2F");
}

TEST(TlsrptRecord, UnknownFieldsIgnored) {
  auto r = parse_tlsrpt_record("v=TLSRPTv1; ext-1=foo; rua=mailto:a@example.com; x.y=1");
  ASSERT_TRUE(r.record) << to_string(r.error);
  EXPECT_EQ(r.record->rua.size(), 1u);
}

TEST(TlsrptRecord, MailtoQueryDropped) {
  auto r = parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@example.com?subject=x");
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->rua[0].target, "a@example.com");
}

TEST(TlsrptRecord, BadSchemeSkippedOrFatal) {
  auto only_bad = parse_tlsrpt_record("v=TLSRPTv1; rua=ftp://example.com/x");
  EXPECT_FALSE(only_bad.record);
  EXPECT_EQ(only_bad.error, E::no_usable_rua);
  auto http = parse_tlsrpt_record("v=TLSRPTv1; rua=http://example.com/x");
  EXPECT_EQ(http.error, E::no_usable_rua);
  auto mixed = parse_tlsrpt_record("v=TLSRPTv1; rua=ftp://example.com/x,mailto:a@example.com");
  ASSERT_TRUE(mixed.record);
  EXPECT_EQ(mixed.record->rua.size(), 1u);
  EXPECT_EQ(mixed.record->skipped_uris, 1u);
}

struct Bad {
  const char* txt;
  E error;
};

TEST(TlsrptRecord, Rejected) {
  const Bad table[] = {
      {"", E::not_tlsrpt},
      {"rua=mailto:a@example.com; v=TLSRPTv1", E::not_tlsrpt},  // version not first
      {"v=tlsrptv1; rua=mailto:a@example.com", E::not_tlsrpt},  // %s: case-sensitive
      {"v=TLSRPTv10; rua=mailto:a@example.com", E::not_tlsrpt},
      {" v=TLSRPTv1; rua=mailto:a@example.com", E::not_tlsrpt},
      {"v=TLSRPTv1", E::no_rua},
      {"v=TLSRPTv1;", E::no_rua},
      {"v=TLSRPTv1; ext=1", E::no_rua},
      {"v=TLSRPTv1; rua", E::bad_syntax},
      {"v=TLSRPTv1 rua=mailto:a@example.com", E::bad_syntax},
      {"v=TLSRPTv1; rua=mailto:a@example.com; bad field=1", E::bad_syntax},
      {"v=TLSRPTv1; rua=mailto:a@example.com; ext=", E::bad_syntax},
      {"v=TLSRPTv1; rua=mailto:noatsign", E::no_usable_rua},
      {"v=TLSRPTv1; rua=mailto:a%ZZ@example.com", E::no_usable_rua},
      {"v=TLSRPTv1; rua=https://", E::no_usable_rua},
      {"v=TLSRPTv1; rua=", E::no_usable_rua},
  };
  for (const auto& row : table) {
    auto r = parse_tlsrpt_record(row.txt);
    EXPECT_FALSE(r.record) << row.txt;
    EXPECT_EQ(r.error, row.error) << row.txt << " → " << to_string(r.error);
  }
}

TEST(TlsrptRecord, LengthLimit) {
  std::string at = "v=TLSRPTv1; rua=mailto:a@example.com; x=";
  at.append(limits::tlsrpt_record_max - at.size(), 'a');
  EXPECT_TRUE(parse_tlsrpt_record(at).record);
  EXPECT_EQ(parse_tlsrpt_record(at + "a").error, E::too_long);
}

TEST(TlsrptRecord, RuaUriLimit) {
  std::string txt = "v=TLSRPTv1; rua=";
  for (std::size_t i = 0; i <= limits::tlsrpt_rua_max; ++i)
    txt += (i ? "," : "") + std::string("mailto:a@b.example");
  auto r = parse_tlsrpt_record(txt);
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->rua.size(), limits::tlsrpt_rua_max);
  EXPECT_EQ(r.record->skipped_uris, 1u);
}

TEST(TlsrptRecord, SelectAmongTxtRecords) {
  auto one = select_tlsrpt_record({"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"});
  ASSERT_TRUE(one.record);
  auto two =
      select_tlsrpt_record({"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"});
  EXPECT_FALSE(two.record);
  EXPECT_EQ(two.error, E::several_records);
  auto none = select_tlsrpt_record({"v=spf1 -all"});
  EXPECT_EQ(none.error, E::no_record);
  auto broken = select_tlsrpt_record({"v=TLSRPTv1; rua=ftp://x"});
  EXPECT_EQ(broken.error, E::no_usable_rua);
}

TEST(TlsrptRecord, PercentDecode) {
  EXPECT_EQ(percent_decode("a%40b%2c"), std::optional<std::string>("a@b,"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%g0"));
}

}  // namespace
}  // namespace tlsfence::parse
