// Table tests for the netstring codec (src/parse/netstring.h).
#include "parse/netstring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

struct Case {
  std::string name;
  std::string input;
  NetstringStatus status;
  std::string data;  // complete: the payload
  std::size_t consumed;
  NetstringError error;
};

TEST(NetstringDecode, Table) {
  const std::size_t max = limits::socketmap_request_max;
  const std::vector<Case> cases = {
      {"simple", "13:tlspolicy a.b,", NetstringStatus::complete, "tlspolicy a.b", 17, NetstringError::none},
      {"empty data", "0:,", NetstringStatus::complete, "", 3, NetstringError::none},
      {"trailing bytes stay", "1:a,2:bc,", NetstringStatus::complete, "a", 4, NetstringError::none},
      {"leading zeros accepted (Postfix does)", "003:abc,", NetstringStatus::complete, "abc", 8,
       NetstringError::none},
      {"binary data with NUL", std::string("3:a\0b,", 6), NetstringStatus::complete, std::string("a\0b", 3),
       6, NetstringError::none},
      {"comma inside data", "3:a,b,", NetstringStatus::complete, "a,b", 6, NetstringError::none},
      {"nothing yet", "", NetstringStatus::incomplete, "", 0, NetstringError::none},
      {"length digits only", "12", NetstringStatus::incomplete, "", 0, NetstringError::none},
      {"data missing", "5:ab", NetstringStatus::incomplete, "", 0, NetstringError::none},
      {"comma missing at end", "2:ab", NetstringStatus::incomplete, "", 0, NetstringError::none},
      {"empty length", ":abc,", NetstringStatus::error, "", 0, NetstringError::empty_length},
      {"non-digit length", "1a:x,", NetstringStatus::error, "", 0, NetstringError::non_digit_length},
      {"sign", "-1:x,", NetstringStatus::error, "", 0, NetstringError::non_digit_length},
      {"space before colon", "1 :x,", NetstringStatus::error, "", 0, NetstringError::non_digit_length},
      {"garbage", "GET / HTTP/1.0\r\n", NetstringStatus::error, "", 0, NetstringError::non_digit_length},
      {"wrong terminator", "3:abc;", NetstringStatus::error, "", 0, NetstringError::missing_comma},
      {"terminator newline", "3:abc\n", NetstringStatus::error, "", 0, NetstringError::missing_comma},
      {"too long, seen before data", "10001:", NetstringStatus::error, "", 0, NetstringError::too_long},
      {"too long while digits arrive", "20000", NetstringStatus::error, "", 0, NetstringError::too_long},
      {"huge", "99999999999999999999999999:", NetstringStatus::error, "", 0, NetstringError::too_long},
      {"many leading zeros", std::string(30, '0') + ":", NetstringStatus::error, "", 0,
       NetstringError::length_overflow},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const NetstringResult r = decode_netstring(c.input, max);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.error, c.error);
    if (c.status == NetstringStatus::complete) {
      EXPECT_EQ(r.data, c.data);
      EXPECT_EQ(r.consumed, c.consumed);
    }
  }
}

TEST(NetstringDecode, LimitAndOnePast) {
  const std::size_t max = limits::socketmap_request_max;
  const std::string at = encode_netstring(std::string(max, 'x'));
  const NetstringResult ok = decode_netstring(at, max);
  ASSERT_EQ(ok.status, NetstringStatus::complete);
  EXPECT_EQ(ok.data.size(), max);
  EXPECT_EQ(ok.consumed, at.size());

  const std::string past = encode_netstring(std::string(max + 1, 'x'));
  const NetstringResult bad = decode_netstring(past, max);
  EXPECT_EQ(bad.status, NetstringStatus::error);
  EXPECT_EQ(bad.error, NetstringError::too_long);
  // Only the length prefix is needed to refuse it.
  EXPECT_EQ(decode_netstring("10001:", max).error, NetstringError::too_long);
}

TEST(NetstringDecoder, ByteByByteGivesTheSameNetstrings) {
  const std::string stream = "13:tlspolicy a.b,0:,21:tlspolicy example.org,";
  NetstringDecoder dec(100);
  std::vector<std::string> got;
  for (char ch : stream) {
    dec.feed(std::string_view(&ch, 1));
    for (;;) {
      const NetstringResult r = dec.next();
      ASSERT_NE(r.status, NetstringStatus::error);
      if (r.status == NetstringStatus::incomplete) break;
      got.emplace_back(r.data);
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"tlspolicy a.b", "", "tlspolicy example.org"}));
  EXPECT_EQ(dec.pending(), 0u);
}

TEST(NetstringDecoder, PrepareCommitAndPartialTail) {
  NetstringDecoder dec(100);
  const std::string first = "3:abc,4:de";
  auto area = dec.prepare(64);
  ASSERT_GE(area.size(), 64u);
  std::copy(first.begin(), first.end(), area.begin());
  dec.commit(first.size());
  NetstringResult r = dec.next();
  ASSERT_EQ(r.status, NetstringStatus::complete);
  EXPECT_EQ(r.data, "abc");
  EXPECT_EQ(dec.next().status, NetstringStatus::incomplete);
  EXPECT_EQ(dec.pending(), 4u);  // "4:de" waits
  dec.feed("fg,");
  r = dec.next();
  ASSERT_EQ(r.status, NetstringStatus::complete);
  EXPECT_EQ(r.data, "defg");
  EXPECT_EQ(dec.pending(), 0u);
}

TEST(NetstringDecoder, ErrorIsSticky) {
  NetstringDecoder dec(100);
  dec.feed("3:abc;3:abc,");
  EXPECT_EQ(dec.next().error, NetstringError::missing_comma);
  EXPECT_TRUE(dec.failed());
  EXPECT_EQ(dec.next().error, NetstringError::missing_comma);
}

TEST(NetstringDecoder, OversizedIsRefusedBeforeItsData) {
  NetstringDecoder dec(limits::socketmap_request_max);
  dec.feed("20000:");
  const NetstringResult r = dec.next();
  EXPECT_EQ(r.status, NetstringStatus::error);
  EXPECT_EQ(r.error, NetstringError::too_long);
}

TEST(NetstringEncode, Table) {
  EXPECT_EQ(encode_netstring(""), "0:,");
  EXPECT_EQ(encode_netstring("NOTFOUND "), "9:NOTFOUND ,");
  EXPECT_EQ(encode_netstring("OK dane-only"), "12:OK dane-only,");
  std::string out = "x";
  append_netstring(out, "ab");
  EXPECT_EQ(out, "x2:ab,");
  EXPECT_EQ(encode_netstring(std::string(100'000, 'a')).substr(0, 7), "100000:");
}

TEST(NetstringErrors, HaveText) {
  for (auto e : {NetstringError::empty_length, NetstringError::non_digit_length,
                 NetstringError::length_overflow, NetstringError::too_long, NetstringError::missing_comma})
    EXPECT_FALSE(to_string(e).empty());
}

}  // namespace
}  // namespace tlsfence::parse
