// Sendmail STARTTLS=client and delivery lines.
#include <gtest/gtest.h>

#include "parse/sendmail_log.h"

namespace tlsfence::parse {
namespace {

using K = SendmailEventKind;

TEST(SendmailLog, StarttlsClientVerifyValues) {
  struct Row {
    const char* verify;
    std::optional<TlsrptResult> result;
    bool needs_policy;
  } rows[] = {
      {"OK", std::nullopt, false},
      {"TRUSTED", std::nullopt, false},
      {"NO", std::nullopt, false},
      {"FAIL", TlsrptResult::certificate_not_trusted, true},
      {"DANE_FAIL", TlsrptResult::certificate_not_trusted, false},
      {"DANE_NOTLS", TlsrptResult::starttls_not_supported, false},
      {"NONE", TlsrptResult::starttls_not_supported, false},
      {"DANE_TEMP", TlsrptResult::tlsa_invalid, false},
      {"PROTOCOL", TlsrptResult::validation_failure, false},
  };
  for (const auto& row : rows) {
    std::string line = std::string(
                           "Nov 22 06:47:50 sender sm-mta[3131]: 2AM6lo1a003131: STARTTLS=client, "
                           "relay=mx1.example.com., version=TLSv1.3, verify=") +
                       row.verify + ", cipher=TLS_AES_256_GCM_SHA384, bits=256/256";
    auto e = parse_sendmail_line(line);
    ASSERT_TRUE(e) << line;
    EXPECT_EQ(e->kind, K::starttls_client);
    EXPECT_EQ(e->pid, 3131u);
    EXPECT_EQ(e->queue_id, "2AM6lo1a003131");
    EXPECT_EQ(e->host, "mx1.example.com");
    EXPECT_EQ(e->version, "TLSv1.3");
    EXPECT_EQ(e->verify, row.verify);
    EXPECT_EQ(e->cipher, "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(e->result, row.result) << row.verify;
    EXPECT_EQ(e->failure_needs_policy, row.needs_policy) << row.verify;
  }
}

TEST(SendmailLog, StarttlsWithoutQueueIdAndWithIp) {
  auto e = parse_sendmail_line(
      "2026-11-22T06:47:50+00:00 sender sendmail[77]: STARTTLS=client, relay=mx1.example.com. [192.0.2.1], "
      "version=TLSv1.2, verify=OK, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->queue_id.empty());
  EXPECT_EQ(e->host, "mx1.example.com");
  EXPECT_EQ(e->ip, "192.0.2.1");
  EXPECT_FALSE(e->result);
}

// The line after the summary at LogLevel 12+: verifymsg= is OpenSSL's verify text. The first
// row is a real line of the test world (data/sendmail-world.log, MX 127.0.0.17).
TEST(SendmailLog, StarttlsCertVerifymsg) {
  struct Row {
    const char* verifymsg;
    std::optional<TlsrptResult> result;
  } rows[] = {
      {"certificate has expired", TlsrptResult::certificate_expired},
      {"ok", std::nullopt},
      {"unable to get local issuer certificate", TlsrptResult::certificate_not_trusted},
      {"self-signed certificate", TlsrptResult::certificate_not_trusted},
      {"self signed certificate in certificate chain", TlsrptResult::certificate_not_trusted},
      {"hostname mismatch", TlsrptResult::certificate_host_mismatch},
      {"certificate not yet valid", TlsrptResult::validation_failure},
      {"some text no OpenSSL writes", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& row : rows) {
    std::string line = std::string(
                           "Nov 22 12:55:48 sender.test sendmail[4554]: STARTTLS=client, "
                           "cert-subject=/CN=mx1.stsmxexpired.test/O=tlsfence+20test+20world, "
                           "cert-issuer=/O=tlsfence+20test+20world/CN=tlsfence+20Test+20CA, verifymsg=") +
                       row.verifymsg;
    auto e = parse_sendmail_line(line);
    ASSERT_TRUE(e) << line;
    EXPECT_EQ(e->kind, K::starttls_cert);
    EXPECT_EQ(e->pid, 4554u);
    EXPECT_TRUE(e->queue_id.empty());
    EXPECT_TRUE(e->host.empty());
    EXPECT_EQ(e->verifymsg, row.verifymsg);
    EXPECT_EQ(e->result, row.result) << row.verifymsg;
    EXPECT_FALSE(e->failure_needs_policy);
  }
  // the peer's subject may hold ", verifymsg=": the last one counts
  auto e = parse_sendmail_line(
      "Nov 22 12:55:48 sender sendmail[1]: STARTTLS=client, cert-subject=/CN=x, verifymsg=ok, "
      "cert-issuer=/CN=y, verifymsg=certificate has expired");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->verifymsg, "certificate has expired");
  EXPECT_FALSE(
      parse_sendmail_line("Nov 22 12:55:48 sender sendmail[1]: STARTTLS=client, cert-subject=/CN=x"));
}

TEST(SendmailLog, Delivery) {
  auto e = parse_sendmail_line(
      "Nov 22 06:47:51 sender sm-mta[3131]: 2AM6lo1a003131: to=<alice@example.com>,<bob@example.com>, "
      "ctladdr=<root@sender.example> (0/0), delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120442, "
      "relay=mx1.example.com. [192.0.2.1], dsn=2.0.0, stat=Sent (OK id=1vX2Yz-000Abc-Q1)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, K::delivery);
  EXPECT_EQ(e->queue_id, "2AM6lo1a003131");
  EXPECT_EQ(e->recipients, "<alice@example.com>,<bob@example.com>");
  EXPECT_EQ(e->first_recipient_domain, "example.com");
  EXPECT_EQ(e->mailer, "esmtp");
  EXPECT_EQ(e->host, "mx1.example.com");
  EXPECT_EQ(e->ip, "192.0.2.1");
  EXPECT_EQ(e->dsn, "2.0.0");
  EXPECT_EQ(e->stat, "Sent");
  EXPECT_EQ(e->stat_text, "OK id=1vX2Yz-000Abc-Q1");
  auto d = parse_sendmail_line(
      "Nov 22 06:47:51 sender sm-mta[3132]: 2AM6lo1a003132: to=carol@example.org, delay=00:00:05, "
      "xdelay=00:00:05, "
      "mailer=esmtp, pri=120442, relay=mx.example.org. [198.51.100.2], dsn=4.0.0, stat=Deferred: Connection "
      "refused by mx.example.org.");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->first_recipient_domain, "example.org");
  EXPECT_EQ(d->stat, "Deferred:");
}

TEST(SendmailLog, Rejected) {
  for (const char* l : {
           "",
           "Nov 22 06:47:51 sender sm-mta[3131]: 2AM6lo1a003131: from=<a@b>, size=1, class=0, nrcpts=1",
           "Nov 22 06:47:51 sender sm-mta[3131]: STARTTLS=server, relay=x, version=TLSv1.3, verify=NO",
           "Nov 22 06:47:51 sender sm-mta[3131]: STARTTLS=client, relay=x, version=TLSv1.3",
           "stat=Sent garbage",
       }) {
    EXPECT_FALSE(parse_sendmail_line(l)) << l;
  }
}

}  // namespace
}  // namespace tlsfence::parse
