// No report loops: the sessions that delivered the sidecar's own report mail (Message-ID
// "<tlsfence-report.…>", logged by Postfix's cleanup(8) and in Sendmail's from= line) are not
// counted — with Postfix 3.7 lines, Postfix 3.10 TLSRPT lines and Sendmail lines, on synthetic
// lines and on the real captures of the test world's MTAs with one Message-ID made ours.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tlsrpt/correlator.h"

namespace tlsfence::tlsrpt {
namespace {

constexpr std::int64_t now = 1795330070;  // 2026-11-22T06:47:50Z

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] != '#') lines.push_back(l);
  return lines;
}

template <class Correlator>
std::vector<Outcome> run(Correlator& c, const std::vector<std::string>& lines) {
  std::vector<Outcome> out;
  for (const auto& l : lines) c.feed(l, now, out);
  return out;
}

// Makes the Message-ID of the n-th message-id line ours; returns its queue id.
std::string make_own(std::vector<std::string>& lines, std::string_view marker, int n = 0) {
  for (auto& l : lines) {
    const auto at = l.find(marker);
    if (at == std::string::npos || n-- > 0) continue;
    l.insert(at + marker.size(), own_message_id_prefix);
    const auto colon = l.rfind(": ", at);
    const auto start = l.rfind(' ', colon - 1);
    return l.substr(start + 1, colon - start - 1);
  }
  ADD_FAILURE() << "no " << marker << " line";
  return {};
}

std::string pf(const std::string& prog, int pid, const std::string& msg) {
  return "Nov 22 06:47:50 sender postfix/" + prog + "[" + std::to_string(pid) + "]: " + msg;
}

TEST(OwnReports, ParsesCleanupMessageIdAndSendmailMsgid) {
  // The event's fields are views into the line: keep it alive while they are read.
  const std::string line = pf("cleanup", 7, "8EB73126030: message-id=<tlsfence-report.ab.1@s.example>");
  auto ev = parse::parse_postfix_line(line);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->kind, parse::PostfixEventKind::message_id);
  EXPECT_EQ(ev->queue_id, "8EB73126030");
  EXPECT_EQ(ev->message_id, "tlsfence-report.ab.1@s.example");
  EXPECT_FALSE(parse::parse_postfix_line(pf("cleanup", 7, "8EB73126030: message-id=")));
  EXPECT_FALSE(parse::parse_postfix_line(pf("cleanup", 7, "warning: header Subject: x")));
  EXPECT_FALSE(parse::parse_postfix_line(pf("qmgr", 7, "8EB73126030: message-id=<x@y>")));
  auto sm = parse::parse_sendmail_line(
      "Nov 22 12:57:02 sender.test sendmail[6579]: 6AMCv2DF006579: from=<tlsrpt-noreply@sender.test>, "
      "size=251, class=0, nrcpts=1, msgid=<tlsfence-report.1f.2@sender.test>, proto=ESMTP, daemon=MTA, "
      "relay=localhost [127.0.0.1]");
  ASSERT_TRUE(sm);
  EXPECT_EQ(sm->kind, parse::SendmailEventKind::queued);
  EXPECT_EQ(sm->queue_id, "6AMCv2DF006579");
  EXPECT_EQ(sm->message_id, "tlsfence-report.1f.2@sender.test");
}

TEST(OwnReports, PostfixSessionOfOwnReportNotCountedOthersAre) {
  const std::string tls =
      "Verified TLS connection established to mx1.example.com[192.0.2.1]:25: TLSv1.3 with cipher "
      "TLS_AES_256_GCM_SHA384 (256/256 bits)";
  auto sent = [](const std::string& qid, const std::string& rcpt) {
    return qid + ": to=<" + rcpt +
           ">, relay=mx1.example.com[192.0.2.1]:25, delay=0.4, delays=0.1/0/0.2/0.1, "
           "dsn=2.0.0, status=sent (250 2.0.0 Ok)";
  };
  PostfixCorrelator c;
  auto out =
      run(c, {
                 pf("cleanup", 3, "AAAA1: message-id=<tlsfence-report.0123.1795330000@sender.example>"),
                 pf("cleanup", 3, "BBBB2: message-id=<20261122.1@sender.example>"),
                 pf("smtp", 10, tls),
                 pf("smtp", 10, sent("AAAA1", "tlsrpt@example.com")),
                 pf("smtp", 11, tls),
                 pf("smtp", 11, sent("BBBB2", "user@example.com")),
                 // a failure known only from the delivery status, of our own report
                 pf("smtp", 12,
                    "AAAA1: to=<tlsrpt@example.com>, relay=mx1.example.com[192.0.2.1]:25, "
                    "delay=1, delays=1/0/0/0, "
                    "dsn=4.7.4, status=deferred (TLS is required, but was not offered by "
                    "host mx1.example.com[192.0.2.1])"),
             });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].policy_domain, "example.com");
  EXPECT_EQ(c.stats().own_reports, 2u);
  EXPECT_EQ(c.stats().uncorrelated, 0u);
}

TEST(OwnReports, OwnQueueIdsAreBounded) {
  OwnQueueIds ids(2);
  ids.add("A1111");
  ids.add("B2222");
  ids.add("B2222");
  EXPECT_TRUE(ids.contains("A1111"));
  ids.add("C3333");
  EXPECT_FALSE(ids.contains("A1111"));
  EXPECT_TRUE(ids.contains("B2222"));
  EXPECT_TRUE(ids.contains("C3333"));
}

TEST(OwnReports, RealPostfix37CaptureWithOneMessageMadeOurs) {
  auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/postfix-world.log");
  PostfixCorrelator base;
  const auto all = run(base, lines);
  const std::string qid = make_own(lines, "message-id=<");
  PostfixCorrelator c;
  const auto out = run(c, lines);
  EXPECT_EQ(out.size() + 1, all.size());
  EXPECT_EQ(c.stats().own_reports, 1u);
  EXPECT_EQ(c.stats().uncorrelated, base.stats().uncorrelated);
  EXPECT_EQ(all.front().policy_domain, "dane.test") << qid;
  EXPECT_NE(out.front().policy_domain, "dane.test");  // the first message was ours
}

TEST(OwnReports, RealPostfix310TlsrptLinesWithOneMessageMadeOurs) {
  auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/postfix310-world.log");
  PostfixCorrelator base;
  const auto all = run(base, lines);
  make_own(lines, "message-id=<", 1);  // the second message: danefail.test, a failure
  PostfixCorrelator c;
  const auto out = run(c, lines);
  ASSERT_EQ(out.size() + 1, all.size());
  EXPECT_EQ(c.stats().own_reports, 1u);
  std::size_t danefail_all = 0, danefail = 0;
  for (const auto& o : all) danefail_all += o.policy_domain == "danefail.test";
  for (const auto& o : out) danefail += o.policy_domain == "danefail.test";
  EXPECT_EQ(danefail + 1, danefail_all);
}

TEST(OwnReports, RealSendmailCaptureWithOneMessageMadeOurs) {
  auto lines = read_lines(TLSFENCE_TLSRPT_DATA "/sendmail-world.log");
  SendmailCorrelator base;
  const auto all = run(base, lines);
  make_own(lines, "msgid=<");
  SendmailCorrelator c;
  const auto out = run(c, lines);
  ASSERT_EQ(out.size() + 1, all.size());
  EXPECT_EQ(c.stats().own_reports, 1u);
  EXPECT_EQ(all.front().policy_domain, "dane.test");
  EXPECT_NE(out.front().policy_domain, "dane.test");
}

}  // namespace
}  // namespace tlsfence::tlsrpt
