// Requirements and verdicts of `tlsfence check` (src/check/verdict.h) on made-up decisions and
// probe results: which MX failure fails the check, and the exit status.
#include "check/verdict.h"

#include <gtest/gtest.h>

namespace tlsfence::check {
namespace {

ProbeResult good_probe(const std::string& host, bool dane_ok = true) {
  ProbeResult p;
  p.host = host;
  p.address = "192.0.2.1";
  p.stage = ProbeStage::done;
  p.starttls_offered = true;
  p.tls = true;
  p.pkix_chain_ok = true;
  p.name_matches = true;
  p.dane_checked = true;
  p.dane_ok = dane_ok;
  if (!dane_ok) p.dane_error = "No matching DANE TLSA records";
  return p;
}

ProbeResult no_starttls(const std::string& host) {
  ProbeResult p;
  p.host = host;
  p.address = "192.0.2.2";
  p.stage = ProbeStage::starttls;
  p.error = "STARTTLS not offered in the EHLO reply";
  return p;
}

CheckReport report(Verdict v, Source s, std::string level, std::vector<std::string> hosts) {
  CheckReport r;
  r.domain = "example.test";
  r.decision.domain = r.domain;
  r.decision.verdict = v;
  r.decision.source = s;
  r.decision.level = std::move(level);
  for (auto& h : hosts) r.hosts.push_back(HostCheck{.name = h});
  return r;
}

DaneHost dane_host(const std::string& name, bool dane) {
  DaneHost h;
  h.name = name;
  h.tlsa_base = name;
  h.tlsa_state = DnssecState::secure;
  TlsaRecord t;
  t.usage = 3;
  t.selector = 1;
  t.matching_type = 1;
  t.data = std::string(32, 'x');
  t.usable = dane;
  h.tlsa.push_back(t);
  h.dane = dane;
  return h;
}

TEST(CheckVerdict, DaneOnlyAllMatch) {
  auto r = report(Verdict::policy, Source::dane, "dane-only", {"mx1.example.test"});
  r.decision.dane_hosts.push_back(dane_host("mx1.example.test", true));
  assign_requirements(r);
  ASSERT_EQ(r.hosts[0].requirement, Requirement::dane);
  ASSERT_TRUE(r.hosts[0].dane);
  r.hosts[0].probes.push_back(good_probe("mx1.example.test"));
  judge(r);
  EXPECT_EQ(r.overall, Overall::ok);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.verdict.rfind("OK: delivery would be verified", 0), 0u) << r.verdict;
}

TEST(CheckVerdict, DaneTlsaMismatchFails) {
  auto r = report(Verdict::policy, Source::dane, "dane-only", {"mx1.example.test"});
  r.decision.dane_hosts.push_back(dane_host("mx1.example.test", true));
  assign_requirements(r);
  r.hosts[0].probes.push_back(good_probe("mx1.example.test", /*dane_ok=*/false));
  judge(r);
  EXPECT_EQ(r.overall, Overall::fail);
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.verdict.find("does not match the TLSA records"), std::string::npos) << r.verdict;
}

TEST(CheckVerdict, NoStarttlsUnderPolicyFails) {
  auto r = report(Verdict::policy, Source::override_rule, "encrypt", {"mx1.example.test"});
  assign_requirements(r);
  ASSERT_EQ(r.hosts[0].requirement, Requirement::tls);
  r.hosts[0].probes.push_back(no_starttls("mx1.example.test"));
  judge(r);
  EXPECT_EQ(r.overall, Overall::fail);
  EXPECT_EQ(r.verdict,
            "FAIL: MX mx1.example.test (192.0.2.2) does not offer STARTTLS but the policy requires TLS");
  EXPECT_EQ(r.exit_status, 1);
}

TEST(CheckVerdict, NoPolicyNeverFails) {
  auto r = report(Verdict::no_policy, Source::none, "", {"mx1.example.test"});
  assign_requirements(r);
  EXPECT_EQ(r.hosts[0].requirement, Requirement::none);
  r.hosts[0].probes.push_back(no_starttls("mx1.example.test"));
  judge(r);
  EXPECT_EQ(r.overall, Overall::no_policy);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.verdict.rfind("no policy", 0), 0u);
  EXPECT_TRUE(r.hosts[0].ok);
}

TEST(CheckVerdict, TempIsExitOne) {
  auto r = report(Verdict::temp_fail, Source::none, "", {});
  r.decision.temp_reason = "DNSSEC validation of bogus.test MX failed";
  assign_requirements(r);
  judge(r);
  EXPECT_EQ(r.overall, Overall::temp);
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.verdict.find("bogus.test"), std::string::npos);
}

TEST(CheckVerdict, StsWrongCertificateAndUnlistedHost) {
  auto r = report(Verdict::policy, Source::mta_sts, "secure match=mx1.example.test servername=hostname",
                  {"mx1.example.test", "other.example.net"});
  StsPolicy sts;
  sts.mode = StsPolicy::Mode::enforce;
  sts.mx = {"mx1.example.test"};
  r.decision.sts = sts;
  assign_requirements(r);
  EXPECT_EQ(r.hosts[0].requirement, Requirement::sts);
  EXPECT_TRUE(r.hosts[0].listed);
  EXPECT_FALSE(r.hosts[1].listed);
  auto bad = good_probe("mx1.example.test");
  bad.name_matches = false;
  bad.chain.push_back(CertInfo{.dns_names = {"wrong.test"}});
  r.hosts[0].probes.push_back(bad);
  r.hosts[1].probes.push_back(good_probe("other.example.net"));
  judge(r);
  EXPECT_EQ(r.overall, Overall::fail);
  ASSERT_EQ(r.details.size(), 2u);
  EXPECT_NE(r.details[0].find("not valid for mx1.example.test (names: wrong.test)"), std::string::npos);
  EXPECT_NE(r.details[1].find("not listed in the MTA-STS policy"), std::string::npos);
}

TEST(CheckVerdict, StsUntrustedChainFails) {
  auto r = report(Verdict::policy, Source::mta_sts, "secure", {"mx1.example.test"});
  r.decision.sts = StsPolicy{.mode = StsPolicy::Mode::enforce, .mx = {"*.example.test"}};
  assign_requirements(r);
  auto p = good_probe("mx1.example.test");
  p.pkix_chain_ok = false;
  p.pkix_error = "self-signed certificate";
  r.hosts[0].probes.push_back(p);
  judge(r);
  EXPECT_EQ(r.overall, Overall::fail);
  EXPECT_NE(r.verdict.find("not trusted (self-signed certificate)"), std::string::npos);
}

TEST(CheckVerdict, StsTestingReportsButPasses) {
  auto r = report(Verdict::no_policy, Source::none, "", {"mx1.example.test"});
  r.decision.sts = StsPolicy{.mode = StsPolicy::Mode::testing, .mx = {"mx1.example.test"}};
  assign_requirements(r);
  EXPECT_EQ(r.hosts[0].requirement, Requirement::sts);
  EXPECT_FALSE(r.hosts[0].enforced);
  r.hosts[0].probes.push_back(no_starttls("mx1.example.test"));
  judge(r);
  EXPECT_EQ(r.overall, Overall::no_policy);
  EXPECT_EQ(r.exit_status, 0);
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0].rfind("under enforce: ", 0), 0u);
}

TEST(CheckVerdict, DanePartialHostWithoutTlsaIsOpportunistic) {
  auto r = report(Verdict::policy, Source::dane, "dane", {"mx1.example.test", "mx2.example.test"});
  r.decision.dane_hosts.push_back(dane_host("mx1.example.test", true));
  assign_requirements(r);
  EXPECT_EQ(r.hosts[0].requirement, Requirement::dane);
  EXPECT_EQ(r.hosts[1].requirement, Requirement::none);
  r.hosts[0].probes.push_back(good_probe("mx1.example.test"));
  r.hosts[1].probes.push_back(no_starttls("mx2.example.test"));
  judge(r);
  EXPECT_EQ(r.overall, Overall::ok) << r.verdict;
}

TEST(CheckVerdict, PolicyHostWithoutAddressFails) {
  auto r = report(Verdict::policy, Source::override_rule, "encrypt", {"mx1.example.test"});
  assign_requirements(r);
  judge(r);
  EXPECT_EQ(r.overall, Overall::fail);
  EXPECT_NE(r.verdict.find("no address"), std::string::npos);
}

}  // namespace
}  // namespace tlsfence::check
