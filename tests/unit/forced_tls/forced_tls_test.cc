// Forced-TLS rules: parsing (errors name the rule) and matching, table-driven.
#include "policy/forced_tls.h"

#include <gtest/gtest.h>

namespace tlsfence::policy {
namespace {

Config::Reception reception_with(std::vector<std::string> senders, std::vector<std::string> rcpt_domains = {},
                                 std::vector<std::string> sasl = {}, std::vector<std::string> nets = {}) {
  Config::Reception r;
  r.forced_tls_sender = std::move(senders);
  r.forced_tls_recipient_domain = std::move(rcpt_domains);
  r.forced_tls_sasl_user = std::move(sasl);
  r.forced_tls_client_network = std::move(nets);
  return r;
}

TEST(ForcedTls, EmptyMatchesNothing) {
  const ForcedTls m = ForcedTls::from_config(Config::Reception{});
  EXPECT_TRUE(m.empty());
  MessageFacts f{"a@b.example", "user", "192.0.2.1", {"x@y.example"}};
  EXPECT_FALSE(m.forced(f));
  EXPECT_EQ(m.why(f), ForcedBy::none);
}

TEST(ForcedTls, SenderRules) {
  const ForcedTls m = ForcedTls::from_config(reception_with(
      {"Doctor@Clinic.Example", "@law.example", "health.example", ".sub.example", "b\xc3\xbc.example"}));
  EXPECT_FALSE(m.empty());
  struct Case {
    const char* sender;
    bool forced;
  } cases[] = {
      {"doctor@clinic.example", true},     // exact address, case-insensitive
      {"<DOCTOR@CLINIC.EXAMPLE>", true},   // brackets stripped
      {"doctor@clinic.example.", true},    // trailing dot
      {"nurse@clinic.example", false},     // other user at an address rule's domain
      {"doctor@x.clinic.example", false},  // address rule: no subdomains
      {"anyone@law.example", true},        // @domain: that domain
      {"anyone@LAW.example", true},
      {"anyone@office.law.example", false},  // @domain: not subdomains
      {"a@health.example", true},            // domain: itself…
      {"a@ward.health.example", true},       // …and subdomains
      {"a@unhealth.example", false},         // not a suffix match on labels
      {"a@sub.example", false},              // .domain: subdomains only
      {"a@x.sub.example", true},
      {"a@xn--b-eha.example", true},  // U-label rule matches the A-label
      {"a@b\xc3\xbc.example", true},  // and the U-label
      {"", false},                    // null sender
      {"<>", false},
      {"health.example", false},  // no @
      {"a@[192.0.2.1]", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.sender);
    EXPECT_EQ(m.sender_forced(c.sender), c.forced);
    MessageFacts f;
    f.sender = c.sender;
    EXPECT_EQ(m.why(f), c.forced ? ForcedBy::sender : ForcedBy::none);
  }
}

TEST(ForcedTls, RecipientDomainRules) {
  const ForcedTls m = ForcedTls::from_config(reception_with({}, {"partner.example", ".group.example"}));
  EXPECT_TRUE(m.recipient_forced("a@partner.example"));
  EXPECT_TRUE(m.recipient_forced("<a@PARTNER.example>"));
  EXPECT_TRUE(m.recipient_forced("a@mx.partner.example"));
  EXPECT_FALSE(m.recipient_forced("a@group.example"));
  EXPECT_TRUE(m.recipient_forced("a@eu.group.example"));
  EXPECT_FALSE(m.recipient_forced("postmaster"));
  EXPECT_FALSE(m.recipient_forced("a@other.example"));
  MessageFacts f;
  f.recipients = {"a@other.example", "b@partner.example"};
  EXPECT_EQ(m.why(f), ForcedBy::recipient_domain);
  f.recipients = {"a@other.example"};
  EXPECT_FALSE(m.forced(f));
}

TEST(ForcedTls, SaslUsers) {
  const ForcedTls m = ForcedTls::from_config(reception_with({}, {}, {"Alice", "bob@clinic.example"}));
  EXPECT_TRUE(m.sasl_user_forced("alice"));
  EXPECT_TRUE(m.sasl_user_forced("ALICE"));
  EXPECT_TRUE(m.sasl_user_forced("bob@clinic.example"));
  EXPECT_FALSE(m.sasl_user_forced("bob"));
  EXPECT_FALSE(m.sasl_user_forced(""));
  MessageFacts f;
  f.sasl_user = "alice";
  EXPECT_EQ(m.why(f), ForcedBy::sasl_user);
}

TEST(ForcedTls, ClientNetworks) {
  const ForcedTls m = ForcedTls::from_config(reception_with(
      {}, {}, {}, {"192.0.2.0/24", "198.51.100.7", "2001:db8::/32", "10.0.0.0/8", "0.0.0.0/0 "}));
  (void)m;
  const ForcedTls n = ForcedTls::from_config(
      reception_with({}, {}, {}, {"192.0.2.128/25", "198.51.100.7", "2001:db8:1::/48", "fe80::1/128"}));
  struct Case {
    const char* addr;
    bool forced;
  } cases[] = {
      {"192.0.2.128", true},        {"192.0.2.255", true},
      {"192.0.2.127", false},       {"198.51.100.7", true},
      {"198.51.100.8", false},      {"2001:db8:1::25", true},
      {"2001:DB8:1:ffff::1", true}, {"2001:db8:2::1", false},
      {"[2001:db8:1::25]", true},   {"IPv6:2001:db8:1::25", true},
      {"::ffff:192.0.2.200", true},  // IPv4-mapped matches the IPv4 rule
      {"::ffff:192.0.2.1", false},  {"fe80::1%eth0", true},
      {"unknown", false},           {"", false},
      {"192.0.2", false},           {"1.2.3.4.5", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.addr);
    EXPECT_EQ(n.client_forced(c.addr), c.forced);
  }
  EXPECT_TRUE(m.client_forced("203.0.113.9"));  // 0.0.0.0/0: every IPv4 client
  EXPECT_FALSE(m.client_forced("2001:db9::1"));
  MessageFacts f;
  f.client_address = "192.0.2.130";
  EXPECT_EQ(n.why(f), ForcedBy::client_network);
}

TEST(ForcedTls, WhyOrder) {
  const ForcedTls m =
      ForcedTls::from_config(reception_with({"@s.example"}, {"r.example"}, {"alice"}, {"192.0.2.0/24"}));
  MessageFacts f{"a@s.example", "alice", "192.0.2.1", {"b@r.example"}};
  EXPECT_EQ(m.why(f), ForcedBy::sender);
  f.sender = "a@other.example";
  EXPECT_EQ(m.why(f), ForcedBy::sasl_user);
  f.sasl_user.clear();
  EXPECT_EQ(m.why(f), ForcedBy::client_network);
  f.client_address = "203.0.113.1";
  EXPECT_EQ(m.why(f), ForcedBy::recipient_domain);
  EXPECT_EQ(to_string(ForcedBy::recipient_domain), "recipient-domain");
}

TEST(ForcedTls, BadRulesAreNamed) {
  struct Case {
    Config::Reception reception;
    const char* message_part;
  } cases[] = {
      {reception_with({"a@"}), "forced-tls-sender: bad rule \"a@\""},
      {reception_with({"@"}), "forced-tls-sender: bad rule \"@\""},
      {reception_with({""}), "forced-tls-sender: bad rule \"\": empty rule"},
      {reception_with({"a b@example.org"}), "forced-tls-sender: bad rule \"a b@example.org\""},
      {reception_with({"bad_domain.example"}), "forced-tls-sender: bad rule \"bad_domain.example\""},
      {reception_with({"[192.0.2.1]"}), "forced-tls-sender: bad rule \"[192.0.2.1]\""},
      {reception_with({}, {"a@b.example"}), "forced-tls-recipient-domain: bad rule \"a@b.example\""},
      {reception_with({}, {"-bad-.example"}), "forced-tls-recipient-domain: bad rule \"-bad-.example\""},
      {reception_with({}, {"."}), "forced-tls-recipient-domain: bad rule \".\""},
      {reception_with({}, {}, {"two words"}), "forced-tls-sasl-user: bad rule \"two words\""},
      {reception_with({}, {}, {" "}), "forced-tls-sasl-user: bad rule \" \": empty rule"},
      {reception_with({}, {}, {}, {"192.0.2.0/33"}),
       "forced-tls-client-network: bad rule \"192.0.2.0/33\": bad prefix length"},
      {reception_with({}, {}, {}, {"192.0.2.1/24"}),
       "forced-tls-client-network: bad rule \"192.0.2.1/24\": host bits"},
      {reception_with({}, {}, {}, {"2001:db8::/129"}),
       "forced-tls-client-network: bad rule \"2001:db8::/129\""},
      {reception_with({}, {}, {}, {"2001:db8::1/32"}), "host bits"},
      {reception_with({}, {}, {}, {"192.0.2.0/"}), "bad prefix length"},
      {reception_with({}, {}, {}, {"192.0.2.0/x"}), "bad prefix length"},
      {reception_with({}, {}, {}, {"192.0.2.0/-1"}), "bad prefix length"},
      {reception_with({}, {}, {}, {"example.org"}),
       "forced-tls-client-network: bad rule \"example.org\": not an IP address"},
      {reception_with({}, {}, {}, {"[::1]"}), "not an IP address"},
      {reception_with({}, {}, {}, {"192.0.2.256"}), "not an IP address"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message_part);
    try {
      (void)ForcedTls::from_config(c.reception);
      ADD_FAILURE() << "no error";
    } catch (const ForcedTlsError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << e.what();
    }
  }
}

TEST(ForcedTls, AddressHelpers) {
  EXPECT_EQ(address_domain("a@b.example"), "b.example");
  EXPECT_EQ(address_domain("\"a@x\"@b.example"), "b.example");
  EXPECT_EQ(address_domain("postmaster"), "");
  EXPECT_EQ(strip_angle_brackets(" <a@b> "), "a@b");
  EXPECT_EQ(strip_angle_brackets("<>"), "");
  EXPECT_EQ(strip_angle_brackets("a@b"), "a@b");
}

}  // namespace
}  // namespace tlsfence::policy
