// Text and JSON rendering of a CheckReport (see output.h).
#include "check/output.h"

#include <sstream>

#include "check/verdict.h"
#include "policy/decision_json.h"

namespace tlsfence::check {
namespace {

using nlohmann::json;

std::string rrset_line(const RRsetView& v) {
  if (!v.looked_up) return "not looked up";
  std::string s = v.status + ", DNSSEC " + std::string(to_string(v.dnssec));
  if (!v.why_bogus.empty()) s += " (" + v.why_bogus + ")";
  if (v.status == "ok") s += ", TTL " + std::to_string(v.ttl);
  return s;
}

json rrset_json(const RRsetView& v) {
  return json{{"name", v.name},
              {"type", type_name(v.type)},
              {"status", v.looked_up ? v.status : "not looked up"},
              {"dnssec", to_string(v.dnssec)},
              {"why_bogus", v.why_bogus},
              {"ttl", v.ttl},
              {"records", v.records}};
}

json cert_json(const CertInfo& c) {
  return json{{"subject", c.subject},
              {"issuer", c.issuer},
              {"dns_names", c.dns_names},
              {"not_before", c.not_before},
              {"not_after", c.not_after},
              {"expired", c.expired},
              {"not_yet_valid", c.not_yet_valid}};
}

json probe_json(const ProbeResult& p, const std::string& failure) {
  json chain = json::array();
  for (const auto& c : p.chain) chain.push_back(cert_json(c));
  json j{{"address", p.address},
         {"port", p.port},
         {"stage", to_string(p.stage)},
         {"error", p.error},
         {"timed_out", p.timed_out},
         {"banner", p.banner},
         {"ehlo_keywords", p.ehlo_keywords},
         {"starttls", p.starttls_offered},
         {"tls", p.tls},
         {"tls_version", p.tls_version},
         {"cipher", p.cipher},
         {"certificates", std::move(chain)},
         {"pkix",
          {{"chain_trusted", p.pkix_chain_ok}, {"error", p.pkix_error}, {"name_matches", p.name_matches}}},
         {"dane", p.dane_checked ? json{{"ok", p.dane_ok}, {"match", p.dane_match}, {"error", p.dane_error}}
                                 : json(nullptr)},
         {"ok", failure.empty()},
         {"failure", failure}};
  return j;
}

void probe_text(std::ostream& o, const ProbeResult& p, const std::string& failure, bool enforced) {
  o << "    probe " << p.address << " port " << p.port << ": ";
  if (p.stage == ProbeStage::done) {
    o << "TLS " << p.tls_version << " " << p.cipher << "\n";
  } else {
    o << "stopped at " << to_string(p.stage) << ": " << p.error << "\n";
  }
  if (!p.banner.empty()) o << "      banner: " << p.banner_code << " " << p.banner << "\n";
  if (!p.ehlo_keywords.empty()) {
    o << "      EHLO:";
    for (const auto& k : p.ehlo_keywords) o << " " << k;
    o << (p.starttls_offered ? "" : "  (no STARTTLS)") << "\n";
  }
  for (std::size_t i = 0; i < p.chain.size(); ++i) {
    const CertInfo& c = p.chain[i];
    o << "      cert[" << i << "]: subject " << c.subject << "\n";
    o << "               issuer  " << c.issuer << "\n";
    o << "               valid   " << c.not_before << " .. " << c.not_after
      << (c.expired         ? "  EXPIRED"
          : c.not_yet_valid ? "  NOT YET VALID"
                            : "")
      << "\n";
    if (i == 0) {
      o << "               names  ";
      for (const auto& n : c.dns_names) o << " " << n;
      o << "\n";
    }
  }
  if (p.tls) {
    o << "      PKIX: chain " << (p.pkix_chain_ok ? "trusted" : "NOT trusted (" + p.pkix_error + ")")
      << ", name " << p.host << (p.name_matches ? " matches" : " does NOT match") << "\n";
  }
  if (p.dane_checked) {
    o << "      DANE: " << (p.dane_ok ? "TLSA " + p.dane_match : "NO MATCH (" + p.dane_error + ")") << "\n";
  }
  if (!failure.empty())
    o << "      => " << (enforced ? "FAIL: " : "note: ") << failure << "\n";
  else if (p.stage == ProbeStage::done)
    o << "      => ok\n";
}

}  // namespace

std::string report_text(const CheckReport& r) {
  const PolicyDecision& d = r.decision;
  std::ostringstream o;
  o << "domain:   " << r.domain << "\n";
  o << "policy:   " << (r.answer.empty() ? std::string(to_string(d.verdict)) : r.answer) << "  (source "
    << to_string(d.source) << (d.result_type.empty() ? "" : ", RFC 8460 " + d.result_type) << ")\n";
  o << "MX:       " << rrset_line(r.mx) << (r.null_mx ? ", null MX (RFC 7505)" : "")
    << (r.implicit_mx ? ", none: implicit MX " + r.domain : "") << "\n";
  for (const auto& rec : r.mx.records) o << "            MX " << rec << "\n";

  for (const HostCheck& h : r.hosts) {
    o << "\nMX host " << h.name << " (preference " << h.preference << ")\n";
    o << "  A:      " << rrset_line(h.a);
    for (const auto& a : h.a.records) o << " " << a;
    o << "\n  AAAA:   " << rrset_line(h.aaaa);
    for (const auto& a : h.aaaa.records) o << " " << a;
    o << "\n  TLSA:   _25._tcp." << h.name << ": " << rrset_line(h.tlsa) << "\n";
    for (const auto& t : h.tlsa.records) o << "            " << t << "\n";
    o << "  requires: " << to_string(h.requirement)
      << (h.enforced || h.requirement == Requirement::none ? "" : " (not enforced)") << " — " << h.note
      << "\n";
    for (const ProbeResult& p : h.probes) probe_text(o, p, probe_failure(h, p), h.enforced);
    if (h.probes.empty()) o << "    not probed\n";
  }

  o << "\nMTA-STS:  _mta-sts." << r.domain << " TXT: " << rrset_line(r.sts.txt) << "\n";
  for (const auto& t : r.sts.txt.records) o << "            \"" << t << "\"\n";
  if (!r.sts.txt_id.empty())
    o << "          id " << r.sts.txt_id << "\n";
  else
    o << "          no usable record: " << r.sts.txt_error << "\n";
  if (!r.sts.note.empty()) o << "          " << r.sts.note << "\n";
  if (r.sts.fetched) {
    if (r.sts.fetch.ok()) {
      o << "          fetched from " << r.sts.fetch.address << " (HTTP " << r.sts.fetch.http_status << ")\n";
    } else {
      o << "          fetch failed (" << to_string(r.sts.fetch.error) << "): " << r.sts.fetch.detail << "\n";
    }
  }
  if (!r.sts.policy_error.empty()) o << "          policy invalid: " << r.sts.policy_error << "\n";
  if (r.sts.policy) {
    o << "          policy: mode " << to_string(r.sts.policy->mode) << ", max_age " << r.sts.policy->max_age
      << ", id " << r.sts.policy->id << "\n";
    for (const auto& mx : r.sts.policy->mx) o << "            mx: " << mx << "\n";
  }

  o << "\nTLS-RPT:  _smtp._tls." << r.domain << " TXT: " << rrset_line(r.tlsrpt.txt) << "\n";
  for (const auto& t : r.tlsrpt.txt.records) o << "            \"" << t << "\"\n";
  if (r.tlsrpt.record) {
    for (const auto& rua : r.tlsrpt.record->rua) o << "          rua: " << rua.uri << "\n";
  } else {
    o << "          no valid record: " << r.tlsrpt.error << "\n";
  }

  o << "\nreasons:\n";
  for (const auto& reason : d.reasons) o << "  - " << reason << "\n";
  o << "\nverdict:  " << r.verdict << "\n";
  for (const auto& detail : r.details) o << "  - " << detail << "\n";
  return o.str();
}

nlohmann::json report_json(const CheckReport& r) {
  json hosts = json::array();
  for (const HostCheck& h : r.hosts) {
    json probes = json::array();
    for (const auto& p : h.probes) probes.push_back(probe_json(p, probe_failure(h, p)));
    json dane = nullptr;
    if (h.dane) dane = json{{"base_domain", h.dane->base_domain}, {"records", h.dane->records.size()}};
    hosts.push_back(json{{"name", h.name},
                         {"preference", h.preference},
                         {"a", rrset_json(h.a)},
                         {"aaaa", rrset_json(h.aaaa)},
                         {"tlsa", rrset_json(h.tlsa)},
                         {"dane_input", std::move(dane)},
                         {"requirement", to_string(h.requirement)},
                         {"enforced", h.enforced},
                         {"listed", h.listed},
                         {"note", h.note},
                         {"probes", std::move(probes)},
                         {"failures", h.failures},
                         {"ok", h.ok}});
  }
  json sts{{"txt", rrset_json(r.sts.txt)},
           {"id", r.sts.txt_id},
           {"txt_error", r.sts.txt_error},
           {"note", r.sts.note},
           {"fetch", r.sts.fetched ? json{{"ok", r.sts.fetch.ok()},
                                          {"error", to_string(r.sts.fetch.error)},
                                          {"detail", r.sts.fetch.detail},
                                          {"http_status", r.sts.fetch.http_status},
                                          {"address", r.sts.fetch.address}}
                                   : json(nullptr)},
           {"policy", r.sts.policy ? policy::sts_policy_to_json(*r.sts.policy) : json(nullptr)},
           {"policy_error", r.sts.policy_error}};
  json rua = json::array();
  if (r.tlsrpt.record) {
    for (const auto& u : r.tlsrpt.record->rua) {
      rua.push_back(json{{"scheme", u.scheme == parse::TlsrptRua::Scheme::mailto ? "mailto" : "https"},
                         {"uri", u.uri},
                         {"target", u.target}});
    }
  }
  json tlsrpt{{"txt", rrset_json(r.tlsrpt.txt)},
              {"valid", r.tlsrpt.record.has_value()},
              {"rua", std::move(rua)},
              {"error", r.tlsrpt.error}};
  json decision = policy::decision_to_json(r.decision);
  decision["answer"] = r.answer;
  return json{{"domain", r.domain},
              {"decision", std::move(decision)},
              {"mx", rrset_json(r.mx)},
              {"null_mx", r.null_mx},
              {"implicit_mx", r.implicit_mx},
              {"hosts", std::move(hosts)},
              {"mta_sts", std::move(sts)},
              {"tlsrpt", std::move(tlsrpt)},
              {"verdict", {{"status", to_string(r.overall)}, {"text", r.verdict}, {"details", r.details}}},
              {"exit_status", r.exit_status}};
}

}  // namespace tlsfence::check
