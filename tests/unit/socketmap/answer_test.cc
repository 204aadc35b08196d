// Table tests for the socketmap answer text (src/doors/socketmap/answer.h), per INTERFACE.md.
#include "doors/socketmap/answer.h"

#include <gtest/gtest.h>

#include <string>

namespace tlsfence::socketmap {
namespace {

PolicyDecision policy(std::string level, Source source = Source::dane) {
  PolicyDecision d;
  d.domain = "example.org";
  d.verdict = Verdict::policy;
  d.source = source;
  d.level = std::move(level);
  return d;
}

StsPolicy sts(StsPolicy::Mode mode) {
  StsPolicy p;
  p.mode = mode;
  p.mx = {"mail.example.org", "*.backup.example.org"};
  p.max_age = 86400;
  p.id = "20240101";
  p.lines = {"version: STSv1",
             std::string("mode: ") + (mode == StsPolicy::Mode::enforce ? "enforce" : "testing"),
             "mx: mail.example.org", "mx: *.backup.example.org", "max_age: 86400"};
  return p;
}

PolicyDecision sts_enforce() {
  PolicyDecision d =
      policy("secure match=mail.example.org:.backup.example.org servername=hostname", Source::mta_sts);
  d.sts = sts(StsPolicy::Mode::enforce);
  return d;
}

PolicyDecision sts_testing() {
  PolicyDecision d;
  d.domain = "example.org";
  d.verdict = Verdict::no_policy;
  d.source = Source::mta_sts;
  d.sts = sts(StsPolicy::Mode::testing);
  return d;
}

const std::string kStsAttributes =
    " policy_type=sts policy_domain=example.org mx_host_pattern=mail.example.org"
    " mx_host_pattern=*.backup.example.org { policy_string = version: STSv1 }"
    " { policy_string = mode: MODE } { policy_string = mx: mail.example.org }"
    " { policy_string = mx: *.backup.example.org } { policy_string = max_age: 86400 }";

std::string attributes(std::string_view mode) {
  std::string a = kStsAttributes;
  a.replace(a.find("MODE"), 4, mode);
  return a;
}

TEST(Answer, EveryKind) {
  const AnswerOptions plain;
  EXPECT_EQ(format_answer(policy("dane-only"), plain), "OK dane-only");
  EXPECT_EQ(format_answer(policy("dane"), plain), "OK dane");
  EXPECT_EQ(format_answer(sts_enforce(), plain),
            "OK secure match=mail.example.org:.backup.example.org servername=hostname");
  EXPECT_EQ(format_answer(policy("encrypt protocols=>=TLSv1.2", Source::override_rule), plain),
            "OK encrypt protocols=>=TLSv1.2");

  PolicyDecision none;
  none.domain = "example.org";
  EXPECT_EQ(format_answer(none, plain), "NOTFOUND ");

  PolicyDecision temp;
  temp.verdict = Verdict::temp_fail;
  temp.temp_reason = "DNSSEC validation of example.org MX failed: signature expired";
  EXPECT_EQ(format_answer(temp, plain), "TEMP DNSSEC validation of example.org MX failed: signature expired");
  temp.temp_reason.clear();
  EXPECT_EQ(format_answer(temp, plain), "TEMP policy temporarily unavailable");

  EXPECT_EQ(perm_answer("malformed request"), "PERM malformed request");
  EXPECT_EQ(temp_answer("x\ny"), "TEMP x y");
}

TEST(Answer, TestingIsNotFoundUnlessEnforceTesting) {
  AnswerOptions o;
  EXPECT_EQ(format_answer(sts_testing(), o), "NOTFOUND ");
  o.enforce_testing = true;
  EXPECT_EQ(format_answer(sts_testing(), o),
            "OK secure match=mail.example.org:.backup.example.org servername=hostname");
  o.tlsrpt_attributes = true;
  EXPECT_EQ(
      format_answer(sts_testing(), o),
      "OK secure match=mail.example.org:.backup.example.org servername=hostname" + attributes("testing"));
  // mode none is never enforced
  PolicyDecision none = sts_testing();
  none.sts->mode = StsPolicy::Mode::none;
  EXPECT_EQ(format_answer(none, o), "NOTFOUND ");
}

TEST(Answer, TlsrptAttributesOnlyOnMtaSts) {
  AnswerOptions o;
  o.tlsrpt_attributes = true;
  EXPECT_EQ(
      format_answer(sts_enforce(), o),
      "OK secure match=mail.example.org:.backup.example.org servername=hostname" + attributes("enforce"));
  // DANE won over an MTA-STS policy: Postfix refuses STS attributes on a non-STS policy.
  PolicyDecision dane = policy("dane-only");
  dane.sts = sts(StsPolicy::Mode::enforce);
  EXPECT_EQ(format_answer(dane, o), "OK dane-only");
  EXPECT_EQ(format_answer(policy("encrypt", Source::override_rule), o), "OK encrypt");
  PolicyDecision none;
  EXPECT_EQ(format_answer(none, o), "NOTFOUND ");
}

TEST(Answer, UnsafePolicyLinesAreLeftOut) {
  AnswerOptions o;
  o.tlsrpt_attributes = true;
  PolicyDecision d = sts_enforce();
  d.sts->mx = {"mail.example.org"};
  d.sts->lines = {"version: STSv1\r",    "", "  mode: enforce  ", "ext: {x}", "ext2: caf\xc3\xa9",
                  "mx: mail.example.org"};
  EXPECT_EQ(format_answer(d, o),
            "OK " + d.level +
                " policy_type=sts policy_domain=example.org mx_host_pattern=mail.example.org"
                " { policy_string = version: STSv1 } { policy_string = mode: enforce }"
                " { policy_string = mx: mail.example.org }");
  // A policy_domain Postfix would not accept: no attributes at all, the policy still goes out.
  d.domain = "bad domain";
  EXPECT_EQ(format_answer(d, o), "OK " + d.level);
}

TEST(Answer, ReplyLimitTruncatesAttributesNeverThePolicy) {
  AnswerOptions o;
  o.tlsrpt_attributes = true;
  PolicyDecision d = sts_enforce();
  for (int i = 0; i < 5000; ++i) d.sts->lines.push_back("mx: host" + std::to_string(i) + ".example.org");
  const std::string full_level = "OK " + d.level;
  const std::string a = format_answer(d, o);
  EXPECT_LE(a.size(), limits::socketmap_reply_max);
  EXPECT_EQ(a.substr(0, full_level.size()), full_level);
  EXPECT_EQ(a.back(), '}');  // whole attributes only
  EXPECT_NE(a.find("policy_type=sts"), std::string::npos);

  // Exactly at the limit and one past it, with a small limit to keep the test readable.
  AnswerOptions small;
  small.reply_max = 11;  // "OK dane-only" is 12 bytes: the policy cannot be cut, so TEMP
  EXPECT_EQ(format_answer(policy("dane-only"), small).substr(0, 5), "TEMP ");
  small.reply_max = 12;
  EXPECT_EQ(format_answer(policy("dane-only"), small), "OK dane-only");
}

TEST(Answer, PolicyTooLongOrUnprintableIsTempNeverInvalid) {
  const AnswerOptions o;
  const std::string a = format_answer(policy(std::string(limits::socketmap_reply_max, 'x')), o);
  EXPECT_EQ(a.substr(0, 5), "TEMP ");
  EXPECT_EQ(format_answer(policy("dane\nonly"), o).substr(0, 5), "TEMP ");
  EXPECT_EQ(format_answer(policy(""), o).substr(0, 5), "TEMP ");
  // At the limit exactly: fits.
  const std::string level(limits::socketmap_reply_max - 3, 'y');
  EXPECT_EQ(format_answer(policy(level), o), "OK " + level);
  const std::string past(limits::socketmap_reply_max - 2, 'y');
  EXPECT_EQ(format_answer(policy(past), o).substr(0, 5), "TEMP ");
}

TEST(Answer, TempReasonIsSanitised) {
  PolicyDecision temp;
  temp.verdict = Verdict::temp_fail;
  temp.temp_reason = "line one\r\nline\ttwo \x01\xff  end  ";
  EXPECT_EQ(format_answer(temp, {}), "TEMP line one line two ?? end");
  temp.temp_reason = std::string(5000, 'r');
  EXPECT_LE(format_answer(temp, {}).size(), 1005u);
}

TEST(Answer, SanitizeReason) {
  EXPECT_EQ(sanitize_reason(""), "");
  EXPECT_EQ(sanitize_reason("   "), "");
  EXPECT_EQ(sanitize_reason("a\n\n\nb"), "a b");
  EXPECT_EQ(sanitize_reason("b\xc3\xbc"), "b??");
  EXPECT_EQ(sanitize_reason("abcdef", 3), "abc");
}

TEST(Answer, StsSecureLevel) {
  StsPolicy p = sts(StsPolicy::Mode::testing);
  EXPECT_EQ(sts_secure_level(p), "secure match=mail.example.org:.backup.example.org servername=hostname");
  p.mx = {};
  EXPECT_EQ(sts_secure_level(p), "");
  p.mx = {"mail.example.org", "bad pattern"};
  EXPECT_EQ(sts_secure_level(p), "");
  // enforce-testing with an unusable pattern: TEMP, not a silent NOTFOUND.
  PolicyDecision d = sts_testing();
  d.sts->mx = {"x:y"};
  AnswerOptions o;
  o.enforce_testing = true;
  EXPECT_EQ(format_answer(d, o).substr(0, 5), "TEMP ");
}

TEST(Answer, FromConfig) {
  Config::Socketmap c;
  c.tlsrpt_attributes = true;
  const AnswerOptions o = AnswerOptions::from(c);
  EXPECT_TRUE(o.tlsrpt_attributes);
  EXPECT_FALSE(o.enforce_testing);
  EXPECT_EQ(o.reply_max, limits::socketmap_reply_max);
}

}  // namespace
}  // namespace tlsfence::socketmap
