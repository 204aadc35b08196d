// The SMTP reply parser of `tlsfence check` (src/check/smtp_reply.h): multi-line replies,
// EHLO keywords, limits and malformed input.
#include "check/smtp_reply.h"

#include <gtest/gtest.h>

namespace tlsfence::check {
namespace {

TEST(SmtpReply, SingleLine) {
  auto p = parse_reply("220 mx.example ESMTP Postfix\r\n");
  ASSERT_EQ(p.status, ReplyStatus::complete);
  EXPECT_EQ(p.reply.code, 220);
  ASSERT_EQ(p.reply.lines.size(), 1u);
  EXPECT_EQ(p.reply.lines[0], "mx.example ESMTP Postfix");
  EXPECT_EQ(p.consumed, 30u);
}

TEST(SmtpReply, MultiLineEhlo) {
  const std::string text =
      "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-starttls\r\n250 8BITMIME\r\n221 rest";
  auto p = parse_reply(text);
  ASSERT_EQ(p.status, ReplyStatus::complete);
  EXPECT_EQ(p.reply.code, 250);
  ASSERT_EQ(p.reply.lines.size(), 5u);
  EXPECT_EQ(text.substr(p.consumed), "221 rest");
  EXPECT_EQ(ehlo_keywords(p.reply), (std::vector<std::string>{"PIPELINING", "SIZE", "STARTTLS", "8BITMIME"}));
  EXPECT_TRUE(ehlo_offers(p.reply, "STARTTLS"));
  EXPECT_TRUE(ehlo_offers(p.reply, "StartTLS"));
  EXPECT_FALSE(ehlo_offers(p.reply, "AUTH"));
}

TEST(SmtpReply, StarttlsOnlyAsWholeKeyword) {
  auto p = parse_reply("250-mx.example STARTTLS\r\n250-XSTARTTLS\r\n250-STARTTLSX\r\n250 HELP\r\n");
  ASSERT_EQ(p.status, ReplyStatus::complete);
  // The first line is the greeting, not a keyword; the others do not spell STARTTLS exactly.
  EXPECT_FALSE(ehlo_offers(p.reply, "STARTTLS"));
  auto q = parse_reply("250-mx\r\n250 starttls extra-param\r\n");
  EXPECT_TRUE(ehlo_offers(q.reply, "STARTTLS"));
}

TEST(SmtpReply, NotOffersWhenNot250) {
  auto p = parse_reply("550-nope\r\n550 STARTTLS\r\n");
  ASSERT_EQ(p.status, ReplyStatus::complete);
  EXPECT_FALSE(ehlo_offers(p.reply, "STARTTLS"));
  EXPECT_TRUE(ehlo_keywords(p.reply).empty());
}

TEST(SmtpReply, BareLfAndCodeOnly) {
  auto p = parse_reply("250-a\n250\n");
  ASSERT_EQ(p.status, ReplyStatus::complete);
  EXPECT_EQ(p.reply.lines, (std::vector<std::string>{"a", ""}));
}

TEST(SmtpReply, Incomplete) {
  EXPECT_EQ(parse_reply("").status, ReplyStatus::incomplete);
  EXPECT_EQ(parse_reply("220 mx").status, ReplyStatus::incomplete);
  EXPECT_EQ(parse_reply("250-mx\r\n250-SIZE\r\n").status, ReplyStatus::incomplete);
  EXPECT_EQ(parse_reply("250-mx\r\n250-SIZE\r\n250 HE").status, ReplyStatus::incomplete);
}

TEST(SmtpReply, BadReplies) {
  for (const char* bad : {"hello\r\n", "22\r\n", "2x0 a\r\n", "099 a\r\n", "600 a\r\n", "220_a\r\n",
                          "250-a\r\n251 b\r\n", "\r\n", "SSH-2.0-OpenSSH\r\n"}) {
    auto p = parse_reply(bad);
    EXPECT_EQ(p.status, ReplyStatus::error) << bad;
    EXPECT_FALSE(p.error.empty()) << bad;
  }
}

TEST(SmtpReply, LineLengthLimit) {
  // At the limit (CRLF included): accepted; one past: refused, with or without a line end.
  std::string at = "220 " + std::string(smtp_line_max - 6, 'a') + "\r\n";
  ASSERT_EQ(at.size(), smtp_line_max);
  EXPECT_EQ(parse_reply(at).status, ReplyStatus::complete);
  std::string past = "220 " + std::string(smtp_line_max - 5, 'a') + "\r\n";
  EXPECT_EQ(parse_reply(past).status, ReplyStatus::error);
  // A huge banner without a line end is refused once it passes the limit, not buffered forever.
  EXPECT_EQ(parse_reply(std::string(smtp_line_max - 1, '2')).status, ReplyStatus::incomplete);
  EXPECT_EQ(parse_reply(std::string(smtp_line_max, '2')).status, ReplyStatus::error);
}

TEST(SmtpReply, LineCountLimit) {
  std::string at;
  for (std::size_t i = 0; i + 1 < smtp_reply_lines_max; ++i) at += "250-x\r\n";
  EXPECT_EQ(parse_reply(at + "250 end\r\n").status, ReplyStatus::complete);
  EXPECT_EQ(parse_reply(at + "250-x\r\n250 end\r\n").status, ReplyStatus::error);
}

TEST(SmtpReply, PrintableHidesControls) {
  EXPECT_EQ(printable(std::string("a\x1b[2J\x00z", 7)), "a?[2J?z");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace tlsfence::check
