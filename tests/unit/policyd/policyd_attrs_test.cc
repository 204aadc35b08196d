// Table tests for the policy delegation attribute parser (src/parse/policyd_attrs.h).
#include "parse/policyd_attrs.h"

#include <gtest/gtest.h>

#include <string>

#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

using Status = PolicydParser::Status;

struct Case {
  const char* name;
  std::string input;
  Status status;
  PolicydError error;
  std::size_t attributes;
};

std::string line_of(std::size_t value_len) {
  return "x=" + std::string(value_len - 2, 'a') + "\n";
}

std::string attrs(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += "a" + std::to_string(i) + "=v\n";
  return s;
}

TEST(PolicydAttrs, Table) {
  const Case cases[] = {
      {"typical", "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=a@b.example\n\n",
       Status::request, PolicydError::none, 3},
      {"crlf", "request=smtpd_access_policy\r\n\r\n", Status::request, PolicydError::none, 1},
      {"empty request", "\n", Status::request, PolicydError::none, 0},
      {"empty value", "sender=\n\n", Status::request, PolicydError::none, 1},
      {"value with =", "ccert_subject=CN=a=b\n\n", Status::request, PolicydError::none, 1},
      {"utf8 value", "sender=j\xc3\xb6rg@b\xc3\xbc.example\n\n", Status::request, PolicydError::none, 1},
      {"tab in value", "helo_name=a\tb\n\n", Status::request, PolicydError::none, 1},
      {"no empty line", "request=smtpd_access_policy\n", Status::need_more, PolicydError::none, 0},
      {"no newline at all", "request=smtpd", Status::need_more, PolicydError::none, 0},
      {"nothing", "", Status::need_more, PolicydError::none, 0},
      {"no =", "request\n\n", Status::error, PolicydError::malformed_line, 0},
      {"empty name", "=value\n\n", Status::error, PolicydError::malformed_line, 0},
      {"NUL", std::string("sender=a\0b\n\n", 12), Status::error, PolicydError::binary_data, 0},
      {"NUL in partial line", std::string("sender=a\0b", 10), Status::error, PolicydError::binary_data, 0},
      {"control byte",
       "sender=a\x01"
       "b\n\n",
       Status::error, PolicydError::binary_data, 0},
      {"DEL", "sender=a\x7f\n\n", Status::error, PolicydError::binary_data, 0},
      {"bare CR inside", "sender=a\rb\n\n", Status::error, PolicydError::binary_data, 0},
      {"line at limit", line_of(limits::policy_line_max) + "\n", Status::request, PolicydError::none, 1},
      {"line at limit + CR", line_of(limits::policy_line_max).insert(limits::policy_line_max, "\r") + "\n",
       Status::request, PolicydError::none, 1},
      {"line one past limit", line_of(limits::policy_line_max + 1) + "\n", Status::error,
       PolicydError::line_too_long, 0},
      {"1 MiB without newline", std::string(1 << 20, 'a'), Status::error, PolicydError::line_too_long, 0},
      {"attributes at limit", attrs(limits::policy_attributes_max) + "\n", Status::request,
       PolicydError::none, limits::policy_attributes_max},
      {"attributes one past limit", attrs(limits::policy_attributes_max + 1) + "\n", Status::error,
       PolicydError::too_many_attributes, 0},
      {"thousands of attributes", attrs(5000), Status::error, PolicydError::too_many_attributes, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto r = parse_policyd_request(c.input);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.error, c.error);
    EXPECT_EQ(r.request.attributes.size(), c.attributes);
  }
}

TEST(PolicydAttrs, ValuesAndLookup) {
  const auto r = parse_policyd_request("request=smtpd_access_policy\nccert_subject=CN=x=y\nfoo=1\nfoo=2\n\n");
  ASSERT_EQ(r.status, Status::request);
  EXPECT_EQ(r.request.get("request"), "smtpd_access_policy");
  EXPECT_EQ(r.request.get("ccert_subject"), "CN=x=y");
  EXPECT_EQ(r.request.get("foo"), "1");  // first of a repeated name
  EXPECT_EQ(r.request.find("missing"), nullptr);
  EXPECT_EQ(r.request.get("missing"), "");
}

TEST(PolicydAttrs, IncrementalByteByByteAndPipelined) {
  const std::string two =
      "request=smtpd_access_policy\nrecipient=a@one.example\n\n"
      "request=smtpd_access_policy\nrecipient=b@two.example\n\n";
  PolicydParser p;
  std::vector<std::string> recipients;
  for (char ch : two) {
    p.feed(std::string_view(&ch, 1));
    for (auto r = p.next(); r.status != Status::need_more; r = p.next()) {
      ASSERT_EQ(r.status, Status::request);
      recipients.emplace_back(r.request.get("recipient"));
    }
  }
  EXPECT_EQ(recipients, (std::vector<std::string>{"a@one.example", "b@two.example"}));
  EXPECT_FALSE(p.in_request());

  PolicydParser q;
  q.feed(two);
  EXPECT_EQ(q.next().request.get("recipient"), "a@one.example");
  EXPECT_EQ(q.next().request.get("recipient"), "b@two.example");
  EXPECT_EQ(q.next().status, Status::need_more);
}

TEST(PolicydAttrs, TruncatedRequestIsVisible) {
  PolicydParser p;
  EXPECT_FALSE(p.in_request());
  p.feed("request=smtpd_access_policy\n");
  EXPECT_EQ(p.next().status, Status::need_more);
  EXPECT_TRUE(p.in_request());
  p.feed("sender=x");
  EXPECT_EQ(p.next().status, Status::need_more);
  EXPECT_TRUE(p.in_request());
}

TEST(PolicydAttrs, SmallerLimitsAreHonoured) {
  PolicydParser lines(PolicydParser::Limits{8, 4});
  lines.feed("a=123456\n");  // 8 bytes: at the limit
  EXPECT_EQ(lines.next().status, Status::need_more);
  lines.feed("b=1234567\n");  // 9 bytes
  EXPECT_EQ(lines.next().error, PolicydError::line_too_long);

  PolicydParser attributes(PolicydParser::Limits{64, 2});
  attributes.feed("a=1\nb=2\n\n");
  EXPECT_EQ(attributes.next().request.attributes.size(), 2u);
  attributes.feed("a=1\nb=2\nc=3\n\n");
  EXPECT_EQ(attributes.next().error, PolicydError::too_many_attributes);
}

TEST(PolicydAttrs, ErrorIsSticky) {
  PolicydParser p;
  p.feed("bad line\n");
  EXPECT_EQ(p.next().error, PolicydError::malformed_line);
  p.feed("request=smtpd_access_policy\n\n");
  const auto r = p.next();
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.error, PolicydError::malformed_line);
}

TEST(PolicydAttrs, LongLineDetectedBeforeNewline) {
  PolicydParser p;
  std::string chunk(4096, 'a');
  chunk[0] = 'x';
  chunk[1] = '=';
  p.feed(chunk);
  EXPECT_EQ(p.next().status, Status::need_more);
  p.feed(std::string(4096, 'a'));
  EXPECT_EQ(p.next().status, Status::need_more);  // 8192 bytes: still within the limit
  p.feed("aa");
  EXPECT_EQ(p.next().error, PolicydError::line_too_long);
}

TEST(PolicydAttrs, EncodeReply) {
  EXPECT_EQ(encode_policyd_reply("DUNNO"), "action=DUNNO\n\n");
  EXPECT_EQ(encode_policyd_reply("FILTER tlsfence-encrypt:"), "action=FILTER tlsfence-encrypt:\n\n");
  EXPECT_EQ(encode_policyd_reply("REJECT a\nb\r\0c"), "action=REJECT a b \n\n");
  EXPECT_EQ(encode_policyd_reply(std::string_view("REJECT a\nb\r\0c", 13)), "action=REJECT a b  c\n\n");
}

TEST(PolicydAttrs, ErrorNames) {
  EXPECT_EQ(to_string(PolicydError::line_too_long), "line too long");
  EXPECT_EQ(to_string(PolicydError::too_many_attributes), "too many attributes");
  EXPECT_EQ(to_string(PolicydError::binary_data), "binary data");
  EXPECT_EQ(to_string(PolicydError::malformed_line), "malformed line");
}

}  // namespace
}  // namespace tlsfence::parse
