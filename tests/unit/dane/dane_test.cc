// Table-driven tests of the DANE rules (src/policy/dane.h) over a fake DNS source.
// g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "fake_dns.h"
#include "parse/dns_wire.h"
#include "policy/dane.h"

namespace tlsfence::test {
namespace {

using S = DnssecState;

PolicyDecision run(FakeDns& dns, const std::string& domain) {
  asio::io_context io;
  PolicyDecision out;
  bool done = false;
  asio::co_spawn(io, dane::evaluate(dns, domain), [&](std::exception_ptr e, PolicyDecision d) {
    if (e) std::rethrow_exception(e);
    out = std::move(d);
    done = true;
  });
  io.run();
  EXPECT_TRUE(done);
  return out;
}

struct Case {
  std::string name;
  std::function<void(FakeDns&)> setup;  // domain is always "d.test"
  Verdict verdict;
  std::string level;        // for Verdict::policy
  std::string reason_part;  // must appear in temp_reason (temp_fail) or in some reason line
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

bool reasons_contain(const PolicyDecision& d, const std::string& part) {
  if (d.temp_reason.find(part) != std::string::npos) return true;
  for (const auto& r : d.reasons)
    if (r.find(part) != std::string::npos) return true;
  return false;
}

// Two DANE hosts, the common base for many cases.
void two_hosts(FakeDns& z) {
  z.mx("d.test", {{10, "mx1.d.test"}, {20, "mx2.d.test"}});
  z.host("mx1.d.test", "127.0.0.10");
  z.host("mx2.d.test", "127.0.0.11");
}

const Case kCases[] = {
    {"AllHostsDane",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.tlsa("mx2.d.test", {tlsa_ca()});
     },
     Verdict::policy, "dane-only", "dane-only"},
    {"PartialTlsa",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
     },
     Verdict::policy, "dane", "1 of 2"},
    {"UnusableOnlyTlsa",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_rdata(0, 0, 1, 32), tlsa_rdata(1, 1, 1, 32), tlsa_rdata(3, 1, 1, 16)});
     },
     Verdict::policy, "encrypt", "0 usable of 3"},
    {"TruncatedTlsaRdata",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {std::string("\x03\x01", 2)});
     },
     Verdict::policy, "encrypt", "1 malformed"},
    {"WrongLengthSha512",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_rdata(3, 1, 2, 32)});
     },
     Verdict::policy, "encrypt", "0 usable of 1"},
    {"WrongLengthSha256",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_rdata(3, 1, 1, 64)});
     },
     Verdict::policy, "encrypt", "0 usable of 1"},
    {"UsableBesideMalformed",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {std::string("\x03", 1), tlsa_rdata(3, 1, 1, 31), tlsa_good()});
     },
     Verdict::policy, "dane-only", "1 usable of 3"},
    {"FullCertificateMtype0",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_rdata(3, 0, 0, 900)});
     },
     Verdict::policy, "dane-only", "1 usable of 1"},
    {"DaneAndUnusableHosts",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.tlsa("mx2.d.test", {tlsa_rdata(1, 1, 1, 32)});
     },
     Verdict::policy, "dane", "1 of 2"},
    {"BogusMx", [](FakeDns& z) { z.set("d.test", rrtype::MX, bogus("signature expired")); },
     Verdict::temp_fail, "", "signature expired"},
    {"BogusMxServfail",
     [](FakeDns& z) {
       DnsAnswer a = bogus("no keys have a DS", false);
       a.rcode = rcode::servfail;
       z.set("d.test", rrtype::MX, a);
     },
     Verdict::temp_fail, "", "no keys have a DS"},
    {"BogusTlsaSecureMx",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.set("_25._tcp.mx2.d.test", rrtype::TLSA, bogus("RRSIG expired"));
     },
     Verdict::temp_fail, "", "_25._tcp.mx2.d.test TLSA failed: RRSIG expired"},
    {"InsecureMx",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}}, S::insecure);
       z.host("mx1.d.test", "127.0.0.10", S::insecure);
       z.tlsa("mx1.d.test", {tlsa_good()}, S::insecure);
     },
     Verdict::no_policy, "", "insecure"},
    {"InsecureHostBehindSecureMx",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.insecure.test"}});
       z.host("mx1.insecure.test", "127.0.0.12", S::insecure);
       z.tlsa("mx1.insecure.test", {tlsa_good()}, S::insecure);
     },
     Verdict::no_policy, "", "address records insecure"},
    {"InsecureHostBesideDaneHost",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}, {20, "mx1.insecure.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.host("mx1.insecure.test", "127.0.0.12", S::insecure);
     },
     Verdict::policy, "dane", "address records insecure"},
    {"CnameTlsaAtExpandedName",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx.d.test"}});
       z.rrset("mx.d.test", rrtype::A, {parse::encode_a_rdata("127.0.0.10")}, S::secure, 3600,
               "mx1.other.test");
       z.rrset("mx.d.test", rrtype::AAAA, {}, S::secure, 3600, "mx1.other.test");
       z.tlsa("mx1.other.test", {tlsa_good()});
     },
     Verdict::policy, "dane-only", "alias of mx1.other.test"},
    {"CnameTlsaAtOriginalName",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx.d.test"}});
       z.rrset("mx.d.test", rrtype::A, {parse::encode_a_rdata("127.0.0.10")}, S::secure, 3600,
               "mx1.other.test");
       z.tlsa("mx.d.test", {tlsa_good()});
     },
     Verdict::policy, "dane-only", "no TLSA records at _25._tcp.mx1.other.test"},
    {"CnameChainInsecure",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx.d.test"}});
       z.rrset("mx.d.test", rrtype::A, {parse::encode_a_rdata("127.0.0.10")}, S::insecure, 3600,
               "mx1.insecure.test");
       z.tlsa("mx1.insecure.test", {tlsa_good()});
       z.tlsa("mx.d.test", {tlsa_good()});
     },
     Verdict::no_policy, "", "address records insecure"},
    {"CnameExpandedTlsaInsecure",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx.d.test"}});
       z.rrset("mx.d.test", rrtype::A, {parse::encode_a_rdata("127.0.0.10")}, S::secure, 3600,
               "mx1.other.test");
       z.tlsa("mx1.other.test", {tlsa_good()}, S::insecure);
       z.tlsa("mx.d.test", {tlsa_good()});
     },
     Verdict::no_policy, "", "TLSA RRset at _25._tcp.mx1.other.test is insecure"},
    {"ImplicitMxWithTlsa",
     [](FakeDns& z) {
       z.set("d.test", rrtype::MX, nodata());
       z.host("d.test", "127.0.0.10");
       z.tlsa("d.test", {tlsa_good()});
     },
     Verdict::policy, "dane-only", "implicit MX"},
    {"ImplicitMxNoTlsa",
     [](FakeDns& z) {
       z.set("d.test", rrtype::MX, nodata());
       z.host("d.test", "127.0.0.10");
     },
     Verdict::no_policy, "", "implicit MX"},
    {"ImplicitMxInsecureNodata",
     [](FakeDns& z) {
       z.set("d.test", rrtype::MX, nodata(S::insecure));
       z.host("d.test", "127.0.0.10", S::insecure);
     },
     Verdict::no_policy, "", "insecure"},
    {"NullMx",
     [](FakeDns& z) {
       z.mx("d.test", {{0, "."}});
     },
     Verdict::no_policy, "", "null MX"},
    {"NullMxBesideRealHost",
     [](FakeDns& z) {
       z.mx("d.test", {{0, "."}, {10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_good()});
     },
     Verdict::policy, "dane-only", "1 host(s)"},
    {"Nxdomain", [](FakeDns& z) { z.set("d.test", rrtype::MX, nxdomain()); }, Verdict::no_policy, "",
     "NXDOMAIN"},
    {"NxdomainInsecure", [](FakeDns& z) { z.set("d.test", rrtype::MX, nxdomain(S::insecure)); },
     Verdict::no_policy, "", "NXDOMAIN"},
    {"NxdomainBogus",
     [](FakeDns& z) {
       DnsAnswer a = bogus("NSEC proof missing", false);
       a.rcode = rcode::nxdomain;
       z.set("d.test", rrtype::MX, a);
     },
     Verdict::temp_fail, "", "NSEC proof missing"},
    {"MxServfail", [](FakeDns& z) { z.set("d.test", rrtype::MX, servfail()); }, Verdict::temp_fail, "",
     "SERVFAIL"},
    {"MxTimeout", [](FakeDns& z) { z.set("d.test", rrtype::MX, timed_out()); }, Verdict::temp_fail, "",
     "timed out"},
    {"MxResolverError", [](FakeDns& z) { z.set("d.test", rrtype::MX, resolver_error("out of memory")); },
     Verdict::temp_fail, "", "out of memory"},
    {"MxRefused",
     [](FakeDns& z) {
       DnsAnswer a;
       a.rcode = 5;
       z.set("d.test", rrtype::MX, a);
     },
     Verdict::temp_fail, "", "rcode 5"},
    {"MxIndeterminate",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}}, S::indeterminate);
     },
     Verdict::temp_fail, "", "indeterminate"},
    {"MalformedMxRdata",
     [](FakeDns& z) { z.rrset("d.test", rrtype::MX, {std::string("\x00\x0a\x05mx", 5)}); },
     Verdict::temp_fail, "", "malformed MX"},
    {"AddressServfail",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.set("mx2.d.test", rrtype::A, servfail());
     },
     Verdict::temp_fail, "", "mx2.d.test A failed: SERVFAIL"},
    {"AddressBogus",
     [](FakeDns& z) {
       two_hosts(z);
       z.set("mx1.d.test", rrtype::A, bogus("DS mismatch"));
     },
     Verdict::temp_fail, "", "mx1.d.test A failed: DS mismatch"},
    {"AaaaTimeout",
     [](FakeDns& z) {
       two_hosts(z);
       z.set("mx2.d.test", rrtype::AAAA, timed_out());
     },
     Verdict::temp_fail, "", "mx2.d.test AAAA timed out"},
    {"TlsaServfail",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.set("_25._tcp.mx2.d.test", rrtype::TLSA, servfail());
     },
     Verdict::temp_fail, "", "SERVFAIL"},
    {"TlsaTimeout",
     [](FakeDns& z) {
       two_hosts(z);
       z.set("_25._tcp.mx1.d.test", rrtype::TLSA, timed_out());
     },
     Verdict::temp_fail, "", "_25._tcp.mx1.d.test TLSA timed out"},
    {"AaaaOnlyHost",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx6.d.test"}});
       z.rrset("mx6.d.test", rrtype::AAAA, {parse::encode_aaaa_rdata("::1")});
       z.tlsa("mx6.d.test", {tlsa_good()});
     },
     Verdict::policy, "dane-only", "1 usable of 1"},
    {"TlsaNxdomain",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.set("_25._tcp.mx1.d.test", rrtype::TLSA, nxdomain());
     },
     Verdict::no_policy, "", "NXDOMAIN"},
    {"TlsaNodata",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
     },
     Verdict::no_policy, "", "NODATA"},
    {"TlsaInsecureSecureAddress",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_good()}, S::insecure);
     },
     Verdict::no_policy, "", "is insecure"},
    {"HostWithoutAddressSkipped",
     [](FakeDns& z) {
       two_hosts(z);
       z.tlsa("mx1.d.test", {tlsa_good()});
       z.set("mx2.d.test", rrtype::A, nxdomain());
       z.set("mx2.d.test", rrtype::AAAA, nxdomain());
     },
     Verdict::policy, "dane-only", "no address records"},
    {"NoHostHasAddress",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx1.d.test"}});
     },
     Verdict::no_policy, "", "no address records"},
    {"InvalidMxHostName",
     [](FakeDns& z) {
       z.mx("d.test", {{10, "mx_1.d.test"}, {20, "mx2.d.test"}});
       z.host("mx2.d.test", "127.0.0.11");
       z.tlsa("mx2.d.test", {tlsa_good()});
     },
     Verdict::policy, "dane", "not a valid host name"},
    {"DuplicateMxHosts",
     [](FakeDns& z) {
       z.mx("d.test", {{20, "mx1.d.test"}, {10, "mx1.d.test"}});
       z.host("mx1.d.test", "127.0.0.10");
       z.tlsa("mx1.d.test", {tlsa_good()});
     },
     Verdict::policy, "dane-only", "1 host(s)"},
    {"TooManyHosts",
     [](FakeDns& z) {
       std::vector<std::pair<std::uint16_t, std::string>> hosts;
       for (int i = 0; i < 40; ++i) {
         std::string h = "mx" + std::to_string(i) + ".d.test";
         hosts.emplace_back(static_cast<std::uint16_t>(i), h);
         z.host(h, "127.0.0.10");
         z.tlsa(h, {tlsa_good()});
       }
       z.mx("d.test", hosts);
     },
     Verdict::policy, "dane", "8 further MX host(s)"},
};

class DaneTable : public ::testing::TestWithParam<Case> {};

TEST_P(DaneTable, Decides) {
  const Case& c = GetParam();
  FakeDns dns;
  c.setup(dns);
  PolicyDecision d = run(dns, "d.test");
  std::string all;
  for (const auto& r : d.reasons) all += "  " + r + "\n";
  EXPECT_EQ(d.domain, "d.test");
  EXPECT_EQ(d.verdict, c.verdict) << all;
  EXPECT_EQ(d.level, c.level) << all;
  EXPECT_TRUE(reasons_contain(d, c.reason_part)) << "missing \"" << c.reason_part << "\" in\n"
                                                 << all << "temp_reason: " << d.temp_reason;
  EXPECT_FALSE(d.reasons.empty());
  if (c.verdict == Verdict::temp_fail) {
    EXPECT_EQ(d.result_type, "dnssec-invalid");
    EXPECT_FALSE(d.temp_reason.empty());
    EXPECT_EQ(d.ttl, 0u);
  } else {
    EXPECT_TRUE(d.temp_reason.empty());
  }
  EXPECT_EQ(d.source, c.verdict == Verdict::policy ? Source::dane : Source::none);
}

INSTANTIATE_TEST_SUITE_P(Dane, DaneTable, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

TEST(Dane, HostsInPreferenceOrderWithTlsa) {
  FakeDns z;
  z.mx("d.test", {{30, "c.d.test"}, {10, "a.d.test"}, {20, "b.d.test"}});
  for (auto h : {"a.d.test", "b.d.test", "c.d.test"}) {
    z.host(h, "127.0.0.10");
    z.tlsa(h, {tlsa_good(), tlsa_rdata(0, 0, 1, 32)});
  }
  PolicyDecision d = run(z, "d.test");
  ASSERT_EQ(d.dane_hosts.size(), 3u);
  EXPECT_EQ(d.dane_hosts[0].name, "a.d.test");
  EXPECT_EQ(d.dane_hosts[0].preference, 10);
  EXPECT_EQ(d.dane_hosts[1].name, "b.d.test");
  EXPECT_EQ(d.dane_hosts[2].name, "c.d.test");
  for (const auto& h : d.dane_hosts) {
    EXPECT_TRUE(h.dane);
    EXPECT_EQ(h.address_state, S::secure);
    EXPECT_EQ(h.tlsa_state, S::secure);
    EXPECT_EQ(h.tlsa_base, h.name);
    ASSERT_EQ(h.tlsa.size(), 2u);
    EXPECT_TRUE(h.tlsa[0].usable);
    EXPECT_FALSE(h.tlsa[1].usable);
    EXPECT_FALSE(h.note.empty());
  }
  EXPECT_EQ(d.mx_dnssec, S::secure);
}

TEST(Dane, TtlIsTheSmallestInvolved) {
  FakeDns z;
  z.mx("d.test", {{10, "mx1.d.test"}, {20, "mx2.d.test"}}, S::secure, 3600);
  z.host("mx1.d.test", "127.0.0.10", S::secure, 600);
  z.host("mx2.d.test", "127.0.0.11", S::secure, 900);
  z.tlsa("mx1.d.test", {tlsa_good()}, S::secure, 1200);
  z.tlsa("mx2.d.test", {tlsa_good()}, S::secure, 120);
  EXPECT_EQ(run(z, "d.test").ttl, 120u);

  FakeDns n;
  n.set("d.test", rrtype::MX, nxdomain(S::secure, 42));
  EXPECT_EQ(run(n, "d.test").ttl, 42u);
}

TEST(Dane, CnameRecordsTheTlsaBase) {
  FakeDns z;
  z.mx("d.test", {{10, "mx.d.test"}});
  z.rrset("mx.d.test", rrtype::A, {parse::encode_a_rdata("127.0.0.10")}, S::secure, 3600, "mx1.other.test.");
  z.tlsa("mx1.other.test", {tlsa_good()});
  z.tlsa("mx.d.test", {tlsa_rdata(1, 1, 1, 32)});
  PolicyDecision d = run(z, "d.test");
  ASSERT_EQ(d.dane_hosts.size(), 1u);
  EXPECT_EQ(d.dane_hosts[0].name, "mx.d.test");
  EXPECT_EQ(d.dane_hosts[0].tlsa_base, "mx1.other.test");
  EXPECT_EQ(d.level, "dane-only");
  // The original name's TLSA is not consulted once the expanded name has an RRset.
  for (const auto& q : z.queries) EXPECT_NE(q.first, "_25._tcp.mx.d.test");
}

TEST(Dane, InsecureMxAsksNothingElse) {
  FakeDns z;
  z.mx("d.test", {{10, "mx1.d.test"}}, S::insecure);
  PolicyDecision d = run(z, "d.test");
  EXPECT_EQ(d.mx_dnssec, S::insecure);
  EXPECT_EQ(z.queries.size(), 1u);
}

TEST(Dane, NoTlsaLookupForInsecureAddress) {
  FakeDns z;
  z.mx("d.test", {{10, "mx1.insecure.test"}});
  z.host("mx1.insecure.test", "127.0.0.12", S::insecure);
  run(z, "d.test");
  for (const auto& q : z.queries) EXPECT_NE(q.second, rrtype::TLSA) << q.first;
}

TEST(Dane, BogusTlsaNamesTheHost) {
  FakeDns z;
  two_hosts(z);
  z.tlsa("mx1.d.test", {tlsa_good()});
  z.set("_25._tcp.mx2.d.test", rrtype::TLSA, bogus("signature expired"));
  PolicyDecision d = run(z, "d.test");
  EXPECT_EQ(d.verdict, Verdict::temp_fail);
  ASSERT_FALSE(d.dane_hosts.empty());
  EXPECT_EQ(d.dane_hosts.back().name, "mx2.d.test");
  EXPECT_EQ(d.dane_hosts.back().tlsa_state, S::bogus);
}

}  // namespace
}  // namespace tlsfence::test
