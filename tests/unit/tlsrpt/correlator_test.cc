// Correlation of Postfix and Sendmail log lines into outcomes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tlsfence/limits.h"
#include "tlsrpt/correlator.h"

namespace tlsfence::tlsrpt {
namespace {

constexpr std::int64_t now = 1795330070;  // 2026-11-22T06:47:50Z

std::vector<Outcome> run(PostfixCorrelator& c, const std::vector<std::string>& lines) {
  std::vector<Outcome> out;
  for (const auto& l : lines) c.feed(l, now, out);
  return out;
}

std::string pf(int pid, const std::string& msg) {
  return "Nov 22 06:47:50 sender postfix/smtp[" + std::to_string(pid) + "]: " + msg;
}

const std::string verified_mx1 =
    "Verified TLS connection established to mx1.example.com[192.0.2.1]:25: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits)";

std::string sent(const std::string& qid, const std::string& rcpt, const std::string& relay) {
  return qid + ": to=<" + rcpt + ">, relay=" + relay +
         ":25, delay=0.4, delays=0.1/0/0.2/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
}

TEST(PostfixCorrelator, SuccessfulSessionOncePerConnection) {
  PostfixCorrelator c;
  auto out =
      run(c, {
                 pf(10, verified_mx1),
                 pf(10, sent("AAAA1", "alice@Example.com", "mx1.example.com[192.0.2.1]")),
                 pf(10, sent("AAAA1", "bob@example.com", "mx1.example.com[192.0.2.1]")),
                 pf(10, sent("BBBB2", "carol@example.com", "mx1.example.com[192.0.2.1]")),  // conn reuse
                 pf(10,
                    "Verified TLS connection reused to mx1.example.com[192.0.2.1]:25: TLSv1.3 with "
                    "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
                 pf(10, sent("CCCC3", "dave@example.com", "mx1.example.com[192.0.2.1]")),
             });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].success());
  EXPECT_EQ(out[0].policy_domain, "example.com");
  EXPECT_EQ(out[0].mx_host, "mx1.example.com");
  EXPECT_EQ(out[0].receiving_ip, "192.0.2.1");
  EXPECT_EQ(out[0].day, utc_day(now));
  EXPECT_EQ(c.stats().reused, 1u);
  EXPECT_EQ(c.stats().uncorrelated, 0u);
}

TEST(PostfixCorrelator, InterleavedProcesses) {
  PostfixCorrelator c;
  auto out =
      run(c, {
                 pf(1, verified_mx1),
                 pf(2,
                    "Anonymous TLS connection established to mx.other.example[198.51.100.5]:25: TLSv1.3 "
                    "with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"),
                 pf(2, sent("QQQQ2", "x@other.example", "mx.other.example[198.51.100.5]")),
                 pf(1, sent("QQQQ1", "y@example.com", "mx1.example.com[192.0.2.1]")),
             });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].policy_domain, "other.example");
  EXPECT_EQ(out[1].policy_domain, "example.com");
}

TEST(PostfixCorrelator, VerificationFailureThenDeferral) {
  PostfixCorrelator c;
  auto out = run(
      c,
      {
          pf(20,
             "certificate verification failed for mx1.bad.example[192.0.2.7]:25: untrusted issuer /CN=Evil"),
          pf(20,
             "Untrusted TLS connection established to mx1.bad.example[192.0.2.7]:25: TLSv1.3 with cipher "
             "TLS_AES_256_GCM_SHA384 (256/256 bits)"),
          pf(20,
             "DDDD4: to=<u@bad.example>, relay=mx1.bad.example[192.0.2.7]:25, delay=1, delays=0/0/1/0, "
             "dsn=4.7.5, status=deferred (Server certificate not verified)"),
      });
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].failure);
  EXPECT_EQ(*out[0].failure, TlsrptResult::certificate_not_trusted);
  EXPECT_EQ(out[0].failure_reason_code, "untrusted issuer /CN=Evil");
  EXPECT_EQ(out[0].policy_domain, "bad.example");
}

TEST(PostfixCorrelator, NonFinalNoteThenNextMx) {
  PostfixCorrelator c;
  auto out =
      run(c, {
                 pf(30, "EEEE5: TLS is required, but was not offered by host mx1.notls.example[192.0.2.9]"),
                 pf(30,
                    "Verified TLS connection established to mx2.notls.example[192.0.2.10]:25: TLSv1.3 with "
                    "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
                 pf(30, sent("EEEE5", "v@notls.example", "mx2.notls.example[192.0.2.10]")),
             });
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(out[0].failure);
  EXPECT_EQ(*out[0].failure, TlsrptResult::starttls_not_supported);
  EXPECT_EQ(out[0].mx_host, "mx1.notls.example");
  EXPECT_EQ(out[0].policy_domain, "notls.example");
  EXPECT_TRUE(out[1].success());
  EXPECT_EQ(out[1].mx_host, "mx2.notls.example");
}

TEST(PostfixCorrelator, FailureOnlyInDeliveryStatusCountedOnce) {
  PostfixCorrelator c;
  std::string line =
      "FFFF6: to=<%s@notls.example>, relay=mx.notls.example[192.0.2.9]:25, delay=1, delays=0/0/1/0, "
      "dsn=4.7.4, "
      "status=deferred (TLS is required, but was not offered by host mx.notls.example[192.0.2.9])";
  std::string a = line, b = line;
  a.replace(a.find("%s"), 2, "a");
  b.replace(b.find("%s"), 2, "b");
  auto out = run(c, {pf(40, a), pf(40, b)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(*out[0].failure, TlsrptResult::starttls_not_supported);
}

TEST(PostfixCorrelator, PlaintextAndGarbageProduceNothing) {
  PostfixCorrelator c;
  std::string huge(limits::log_line_max + 1, 'x');
  auto out = run(
      c, {pf(50, sent("GGGG7", "p@plain.example", "mx.plain.example[192.0.2.50]")), "garbage", "", huge,
          pf(50, "warning: something"), pf(51, sent("HHHH8", "no-at-sign", "mx.plain.example[192.0.2.50]"))});
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c.stats().too_long, 1u);
  EXPECT_EQ(c.stats().lines, 6u);
}

TEST(PostfixCorrelator, UnclosedSessionCountedAsUncorrelated) {
  PostfixCorrelator c;
  auto out = run(c, {pf(60, verified_mx1), pf(60, verified_mx1),
                     pf(60, sent("IIII9", "a@example.com", "mx1.example.com[192.0.2.1]"))});
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(c.stats().uncorrelated, 1u);
}

TEST(PostfixCorrelator, TlsrptLinesWinOverClassicLines) {
  PostfixCorrelator c;
  auto ts = [](const std::string& m) {
    return "2026-11-22T06:47:50.000001+00:00 sender postfix/smtp[70]: " + m;
  };
  auto out =
      run(c, {
                 ts(verified_mx1),
                 ts("TLSRPT: status=success, domain=example.com, receiving_mx=mx1.example.com[192.0.2.1]"),
                 ts(sent("JJJJ1", "a@example.com", "mx1.example.com[192.0.2.1]")),
                 ts("certificate verification failed for mx1.example.com[192.0.2.1]:25: self-signed "
                    "certificate"),
                 ts("TLSRPT: status=failure, domain=example.com, receiving_mx=mx1.example.com[192.0.2.1], "
                    "failure_type=certificate_not_trusted, failure_reason=self-signed certificate"),
                 ts("KKKK2: to=<b@example.com>, relay=mx1.example.com[192.0.2.1]:25, delay=1, "
                    "delays=0/0/1/0, dsn=4.7.5, status=deferred (Server certificate not verified)"),
             });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].success());
  ASSERT_TRUE(out[1].failure);
  EXPECT_EQ(*out[1].failure, TlsrptResult::certificate_not_trusted);
  EXPECT_EQ(out[1].failure_reason_code, "self-signed certificate");
}

TEST(PostfixCorrelator, StateIsBounded) {
  PostfixCorrelator c(CorrelatorOptions{0, 16});
  std::vector<Outcome> out;
  for (int pid = 1; pid <= 1000; ++pid) c.feed(pf(pid, verified_mx1), now, out);
  EXPECT_TRUE(out.empty());
  EXPECT_GE(c.stats().uncorrelated, 900u);
}

TEST(SendmailCorrelator, StarttlsThenDelivery) {
  SendmailCorrelator c;
  std::vector<Outcome> out;
  auto sm = [](const std::string& m) { return "Nov 22 06:47:50 sender sm-mta[900]: " + m; };
  c.feed(sm("2AM6lo1a000900: STARTTLS=client, relay=mx1.example.com., version=TLSv1.3, verify=FAIL, "
            "cipher=TLS_AES_256_GCM_SHA384, bits=256/256"),
         now, out);
  c.feed(sm("2AM6lo1a000900: to=<a@Example.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=1, "
            "relay=mx1.example.com. [192.0.2.1], dsn=2.0.0, stat=Sent (OK)"),
         now, out);
  c.feed(sm("2AM6lo1a000901: to=<b@example.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=1, "
            "relay=mx1.example.com. [192.0.2.1], dsn=2.0.0, stat=Sent (OK)"),
         now, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].policy_domain, "example.com");
  EXPECT_EQ(out[0].mx_host, "mx1.example.com");
  EXPECT_EQ(out[0].receiving_ip, "192.0.2.1");
  ASSERT_TRUE(out[0].failure);
  EXPECT_TRUE(out[0].failure_needs_policy);
  EXPECT_EQ(out[0].failure_reason_code, "verify=FAIL");
  Outcome opportunistic = out[0];
  attribute(opportunistic, std::nullopt);
  EXPECT_TRUE(opportunistic.success());
}

// LogLevel 12+: the certificate line between summary and delivery names why verify=FAIL
// (lines of the test world's capture, data/sendmail-world.log).
TEST(SendmailCorrelator, VerifymsgRefinesVerifyFail) {
  auto sm = [](const std::string& m) { return "Nov 22 12:55:48 sender.test sendmail[4554]: " + m; };
  const std::string fail =
      "STARTTLS=client, relay=mx1.stsmxexpired.test., version=TLSv1.3, verify=FAIL, "
      "cipher=TLS_AES_256_GCM_SHA384, bits=256/256";
  const std::string ok =
      "STARTTLS=client, relay=mx1.stsmxexpired.test., version=TLSv1.3, verify=OK, "
      "cipher=TLS_AES_256_GCM_SHA384, bits=256/256";
  auto cert = [](const char* msg) {
    return std::string(
               "STARTTLS=client, cert-subject=/CN=mx1.stsmxexpired.test/O=tlsfence+20test+20world, "
               "cert-issuer=/O=tlsfence+20test+20world/CN=tlsfence+20Test+20CA, verifymsg=") +
           msg;
  };
  const std::string delivery =
      "6AMCtm43004552: to=<user@stsmxexpired.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, "
      "pri=30259, relay=mx1.stsmxexpired.test. [127.0.0.17], dsn=2.0.0, stat=Sent (Ok: queued as "
      "5CDA0AA20DE)";
  struct Case {
    std::string summary;
    const char* verifymsg;  // nullptr: no certificate line (LogLevel below 12)
    std::optional<TlsrptResult> want;
  } cases[] = {
      {fail, "certificate has expired", TlsrptResult::certificate_expired},
      {fail, "unable to get local issuer certificate", TlsrptResult::certificate_not_trusted},
      {fail, "some text no OpenSSL writes", TlsrptResult::certificate_not_trusted},
      {fail, nullptr, TlsrptResult::certificate_not_trusted},
      {ok, "ok", std::nullopt},
      {ok, "certificate has expired", std::nullopt},  // only a FAIL is refined
  };
  for (const auto& k : cases) {
    SendmailCorrelator c;
    std::vector<Outcome> out;
    c.feed(sm(k.summary), now, out);
    if (k.verifymsg) c.feed(sm(cert(k.verifymsg)), now, out);
    c.feed(sm(delivery), now, out);
    ASSERT_EQ(out.size(), 1u) << k.summary;
    EXPECT_EQ(out[0].policy_domain, "stsmxexpired.test");
    EXPECT_EQ(out[0].mx_host, "mx1.stsmxexpired.test");
    EXPECT_EQ(out[0].receiving_ip, "127.0.0.17");
    EXPECT_EQ(out[0].failure, k.want) << (k.verifymsg ? k.verifymsg : "(none)");
    if (k.want) {
      EXPECT_TRUE(out[0].failure_needs_policy);
      EXPECT_EQ(out[0].failure_reason_code, "verify=FAIL");
    }
    EXPECT_EQ(c.stats().uncorrelated, 0u);
  }
}

}  // namespace
}  // namespace tlsfence::tlsrpt
