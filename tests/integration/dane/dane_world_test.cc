// DANE evaluation and the libunbound resolver against the test world: real knot-signed
// zones, real libunbound validation (tests/world/DOMAINS.md, "DANE / DNSSEC").
// pragma: g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "dns/unbound_resolver.h"
#include "parse/dns_wire.h"
#include "policy/dane.h"

#include "world_env.h"

namespace tlsfence {
namespace {

using world_test::world;

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

constexpr std::uint32_t kTimeout = 3;

Config::Dns world_dns() {
  Config::Dns d;
  d.unbound_conf = world().at("WORLD_UNBOUND_CONF");
  d.trust_anchor_file = "";
  d.timeout_seconds = kTimeout;
  return d;
}

// One resolver (one ub_ctx) for the whole binary, as in the daemon.
class World : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(world().count("WORLD_UNBOUND_CONF")) << "test world not up (world.env missing)";
    io_ = new asio::io_context;
    resolver_ = new dns::UnboundResolver(*io_, world_dns());
  }
  static void TearDownTestSuite() {
    delete resolver_;
    delete io_;
  }
  template <typename T>
  static T run(Task<T> task) {
    std::optional<T> out;
    io_->restart();
    asio::co_spawn(*io_, std::move(task), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    io_->run();  // returns once nothing is in flight: the resolver leaves the loop idle
    EXPECT_TRUE(out.has_value());
    return out ? std::move(*out) : T{};
  }
  static PolicyDecision evaluate(const std::string& domain) {
    return run(dane::evaluate(*resolver_, domain));
  }
  static DnsAnswer query(const std::string& name, std::uint16_t type) {
    return run(resolver_->query(name, type));
  }

  static asio::io_context* io_;
  static dns::UnboundResolver* resolver_;
};
asio::io_context* World::io_ = nullptr;
dns::UnboundResolver* World::resolver_ = nullptr;

std::string explain(const PolicyDecision& d) {
  std::string s = "verdict=" + std::string(to_string(d.verdict)) + " level=" + d.level +
                  " temp=" + d.temp_reason + " mx=" + std::string(to_string(d.mx_dnssec)) + "\n";
  for (const auto& r : d.reasons) s += "  " + r + "\n";
  return s;
}

struct Expect {
  std::string domain;
  Verdict verdict;
  std::string level;
  DnssecState mx_dnssec;
  std::string reason_part;
};
void PrintTo(const Expect& e, std::ostream* os) {
  *os << e.domain;
}

class DaneWorld : public World, public ::testing::WithParamInterface<Expect> {};

TEST_P(DaneWorld, Decides) {
  const Expect& e = GetParam();
  PolicyDecision d = evaluate(e.domain);
  EXPECT_EQ(d.verdict, e.verdict) << explain(d);
  EXPECT_EQ(d.level, e.level) << explain(d);
  EXPECT_EQ(d.mx_dnssec, e.mx_dnssec) << explain(d);
  bool found = d.temp_reason.find(e.reason_part) != std::string::npos;
  for (const auto& r : d.reasons) found = found || r.find(e.reason_part) != std::string::npos;
  EXPECT_TRUE(found) << "missing \"" << e.reason_part << "\"\n" << explain(d);
  if (d.verdict == Verdict::temp_fail) {
    EXPECT_EQ(d.result_type, "dnssec-invalid");
  } else {
    EXPECT_GT(d.ttl, 0u) << explain(d);
  }
}

using S = DnssecState;
const Expect kDomains[] = {
    {"dane.test", Verdict::policy, "dane-only", S::secure, "every MX host"},
    {"partial.test", Verdict::policy, "dane", S::secure, "1 of 2"},
    {"unusable.test", Verdict::policy, "encrypt", S::secure, "0 usable of 3"},
    {"danefail.test", Verdict::policy, "dane-only", S::secure, "1 usable of 1"},
    {"expired.test", Verdict::temp_fail, "", S::bogus, "DNSSEC validation of expired.test MX failed"},
    {"bogus.test", Verdict::temp_fail, "", S::bogus, "DNSSEC validation of bogus.test MX failed"},
    {"bogustlsa.test", Verdict::temp_fail, "", S::secure, "_25._tcp.mx1.bogustlsa.test TLSA failed"},
    {"insecure.test", Verdict::no_policy, "", S::insecure, "DNSSEC insecure"},
    {"insecurehost.test", Verdict::no_policy, "", S::secure, "address records insecure"},
    {"nullmx.test", Verdict::no_policy, "", S::secure, "null MX"},
    {"implicit.test", Verdict::policy, "dane-only", S::secure, "implicit MX"},
    {"crosszone.test", Verdict::policy, "dane-only", S::secure, "_25._tcp.mx1.dane.test"},
    {"cname.test", Verdict::policy, "dane-only", S::secure, "alias of mx1.dane.test"},
    {"nosuch.test", Verdict::no_policy, "", S::secure, "NXDOMAIN"},
    {"nostarttls.test", Verdict::no_policy, "", S::secure, "no TLSA"},
    {"stsdane.test", Verdict::policy, "dane-only", S::secure, "every MX host"},
    {"sts.test", Verdict::no_policy, "", S::secure, "no TLSA"},
};

INSTANTIATE_TEST_SUITE_P(Dane, DaneWorld, ::testing::ValuesIn(kDomains), [](const auto& info) {
  std::string n = info.param.domain.substr(0, info.param.domain.find('.'));
  return n;
});

TEST_F(World, HangTimesOutWithinDnsTimeout) {
  auto start = std::chrono::steady_clock::now();
  PolicyDecision d = evaluate("hang.test");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(d.verdict, Verdict::temp_fail) << explain(d);
  EXPECT_NE(d.temp_reason.find("timed out"), std::string::npos) << explain(d);
  EXPECT_LT(took, std::chrono::seconds(kTimeout + 1));
  EXPECT_GE(took, std::chrono::milliseconds(kTimeout * 1000 - 100));
  EXPECT_EQ(resolver_->in_flight(), 0u);
}

TEST_F(World, DaneHostsCarryTheWorldTlsa) {
  PolicyDecision d = evaluate("dane.test");
  ASSERT_EQ(d.dane_hosts.size(), 2u) << explain(d);
  EXPECT_EQ(d.dane_hosts[0].name, "mx1.dane.test");
  EXPECT_EQ(d.dane_hosts[0].preference, 10);
  ASSERT_EQ(d.dane_hosts[0].tlsa.size(), 1u);
  EXPECT_EQ(d.dane_hosts[0].tlsa[0].usage, 3);
  EXPECT_EQ(d.dane_hosts[0].tlsa[0].selector, 1);
  EXPECT_EQ(hex(d.dane_hosts[0].tlsa[0].data), world().at("WORLD_TLSA_GOOD"));
  EXPECT_EQ(d.dane_hosts[1].name, "mx2.dane.test");
  ASSERT_EQ(d.dane_hosts[1].tlsa.size(), 1u);
  EXPECT_EQ(d.dane_hosts[1].tlsa[0].usage, 2);
  EXPECT_EQ(d.dane_hosts[1].tlsa[0].selector, 0);
  EXPECT_EQ(hex(d.dane_hosts[1].tlsa[0].data), world().at("WORLD_TLSA_CA"));
}

TEST_F(World, CnameHostUsesExpandedTlsaBase) {
  PolicyDecision d = evaluate("cname.test");
  ASSERT_EQ(d.dane_hosts.size(), 1u) << explain(d);
  EXPECT_EQ(d.dane_hosts[0].name, "mx.cname.test");
  EXPECT_EQ(d.dane_hosts[0].tlsa_base, "mx1.dane.test");
}

TEST_F(World, ResolverAnswersSecureData) {
  DnsAnswer a = query("mx1.dane.test", rrtype::A);
  EXPECT_EQ(a.dnssec, S::secure);
  EXPECT_EQ(a.rcode, rcode::noerror);
  ASSERT_EQ(a.rdata.size(), 1u);
  EXPECT_EQ(parse::parse_a_rdata(a.rdata[0]), "127.0.0.10");
  EXPECT_GT(a.ttl, 0u);
  EXPECT_EQ(a.qname, "mx1.dane.test");
}

TEST_F(World, ResolverReportsBogusWithReason) {
  DnsAnswer a = query("expired.test", rrtype::MX);
  EXPECT_EQ(a.dnssec, S::bogus);
  EXPECT_FALSE(a.why_bogus.empty());
}

TEST_F(World, ResolverReportsNxdomainAndNodata) {
  DnsAnswer nx = query("nosuch.test", rrtype::MX);
  EXPECT_TRUE(nx.nxdomain());
  EXPECT_EQ(nx.dnssec, S::secure);
  DnsAnswer nd = query("implicit.test", rrtype::MX);
  EXPECT_TRUE(nd.nodata());
  EXPECT_EQ(nd.dnssec, S::secure);
}

TEST_F(World, ResolverFollowsCname) {
  DnsAnswer a = query("mx.cname.test", rrtype::A);
  EXPECT_EQ(a.dnssec, S::secure);
  EXPECT_EQ(a.canonname, "mx1.dane.test");
}

TEST_F(World, ResolverInsecureZone) {
  DnsAnswer a = query("insecure.test", rrtype::MX);
  EXPECT_EQ(a.dnssec, S::insecure);
  EXPECT_TRUE(a.havedata);
}

TEST(ResolverLifetime, DestroyedWithQueryInFlight) {
  asio::io_context io;
  auto resolver = std::make_unique<dns::UnboundResolver>(io, world_dns());
  std::optional<DnsAnswer> got;
  asio::co_spawn(io, resolver->query("hang.test", rrtype::MX),
                 [&](std::exception_ptr, DnsAnswer a) { got = a; });
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_EQ(resolver->in_flight(), 1u);
  resolver.reset();
  io.restart();
  io.run_for(std::chrono::seconds(2));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error, "resolver shut down");
  EXPECT_EQ(got->dnssec, S::indeterminate);
}

TEST(ResolverConfig, BadUnboundConfIsAStartupError) {
  asio::io_context io;
  Config::Dns d;
  d.trust_anchor_file = "";
  d.unbound_conf = "/nonexistent/unbound.conf";
  EXPECT_THROW(dns::UnboundResolver(io, d), dns::DnsConfigError);
  std::filesystem::path bad = std::filesystem::temp_directory_path() / "tlsfence-dane-bad.conf";
  std::ofstream(bad) << "server:\n    no-such-option: yes\n";
  d.unbound_conf = bad;
  try {
    dns::UnboundResolver r(io, d);
    ADD_FAILURE() << "accepted a bad unbound-conf";
  } catch (const dns::DnsConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("dns.unbound-conf"), std::string::npos) << e.what();
  }
  std::filesystem::remove(bad);
}

TEST(ResolverConfig, BadForwarderIsAStartupError) {
  asio::io_context io;
  Config::Dns d;
  d.trust_anchor_file = "";
  for (std::string f : {"not-an-ip", "127.0.0.1@", "127.0.0.1@99999", "127.0.0.1:53", ""}) {
    d.forwarder = {f};
    try {
      dns::UnboundResolver r(io, d);
      ADD_FAILURE() << "accepted forwarder " << f;
    } catch (const dns::DnsConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("dns.forwarder"), std::string::npos) << e.what();
    }
  }
  d.forwarder = {"127.0.0.153", "127.0.0.153@53", "::1@5353"};
  EXPECT_NO_THROW(dns::UnboundResolver(io, d));
}

TEST(ResolverConfig, TrustAnchorCopiedIntoStateDir) {
  auto base = std::filesystem::temp_directory_path() / ("tlsfence-dane-ta-" + std::to_string(::getpid()));
  std::filesystem::create_directories(base / "ro");
  auto anchor = base / "ro" / "root.key";
  std::ofstream(anchor)
      << ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
  asio::io_context io;
  Config::Dns d;
  d.trust_anchor_file = anchor;
  dns::UnboundResolver r(io, d, base / "state");
  EXPECT_EQ(r.trust_anchor_in_use(), (base / "state" / "root.key").string());
  EXPECT_TRUE(std::filesystem::exists(base / "state" / "root.key"));
  d.trust_anchor_file = (base / "missing.key").string();
  EXPECT_THROW(dns::UnboundResolver(io, d, base / "state"), dns::DnsConfigError);
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace tlsfence
