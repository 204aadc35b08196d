// Requirements per MX host and the verdict of `tlsfence check` (see verdict.h).
#include "check/verdict.h"

#include <algorithm>

#include "parse/mx_match.h"

namespace tlsfence::check {
namespace {

const DaneHost* find_dane_host(const PolicyDecision& d, const std::string& name) {
  for (const auto& h : d.dane_hosts) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string first_word(const std::string& level) {
  return level.substr(0, level.find(' '));
}

// TLSA records from the host's own (secure) TLSA view, for a `dane`/`dane-only` override.
std::optional<DaneInput> dane_from_view(const HostCheck& h) {
  if (h.tlsa.dnssec != DnssecState::secure) return std::nullopt;
  DaneInput in;
  in.base_domain = h.name;
  for (const TlsaRecord& r : h.tlsa_records) {
    if (r.usable) in.records.push_back(r);
  }
  if (in.records.empty()) return std::nullopt;
  return in;
}

void dane_host(HostCheck& h, const PolicyDecision& d, bool dane_only) {
  const DaneHost* dh = find_dane_host(d, h.name);
  if (dh && dh->dane) {
    h.requirement = Requirement::dane;
    h.dane = DaneInput{dh->tlsa_base.empty() ? dh->name : dh->tlsa_base, dh->tlsa};
    h.note = "DANE: secure TLSA RRset";
  } else if (dh && !dh->tlsa.empty() && dh->tlsa_state == DnssecState::secure) {
    h.requirement = Requirement::tls;
    h.note = "secure TLSA RRset without usable records: mandatory (unauthenticated) TLS";
  } else if (dane_only) {
    h.requirement = Requirement::dane;
    h.note = "dane-only: this host has no usable secure TLSA records";
  } else {
    h.requirement = Requirement::none;
    h.note = "no secure TLSA RRset: opportunistic TLS";
  }
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

void assign_requirements(CheckReport& report) {
  const PolicyDecision& d = report.decision;
  for (HostCheck& h : report.hosts) {
    h.requirement = Requirement::none;
    h.enforced = d.verdict == Verdict::policy;
    h.listed = true;
    if (d.verdict == Verdict::temp_fail) {
      h.note = "policy cannot be determined";
      continue;
    }
    if (d.verdict == Verdict::no_policy) {
      if (d.sts && d.sts->mode == StsPolicy::Mode::testing) {
        h.requirement = Requirement::sts;
        h.listed = parse::mx_matches(h.name, *d.sts);
        h.note = "MTA-STS testing: checked as if enforced, failures are reported only";
      } else {
        h.note = "no policy: opportunistic TLS";
      }
      // Show a DANE check where TLSA records exist, for information.
      if (const DaneHost* dh = find_dane_host(d, h.name); dh && !dh->tlsa.empty()) {
        h.dane = DaneInput{dh->tlsa_base.empty() ? dh->name : dh->tlsa_base, dh->tlsa};
      } else if (!h.tlsa_records.empty() && h.tlsa.dnssec != DnssecState::bogus) {
        h.dane = DaneInput{h.name, h.tlsa_records};
      }
      continue;
    }
    const std::string level = first_word(d.level);
    if (d.source == Source::dane) {
      if (level == "encrypt") {
        h.requirement = Requirement::tls;
        h.note = "encrypt: TLSA records present but none usable";
        if (const DaneHost* dh = find_dane_host(d, h.name); dh && dh->tlsa.empty())
          h.note = "encrypt (domain level)";
      } else {
        dane_host(h, d, level == "dane-only");
      }
    } else if (d.source == Source::mta_sts && d.sts) {
      h.requirement = Requirement::sts;
      h.listed = parse::mx_matches(h.name, *d.sts);
      h.note = h.listed ? "MTA-STS enforce: host listed in the policy"
                        : "MTA-STS enforce: host NOT listed in the policy";
    } else {  // local override
      if (level == "none" || level == "may") {
        h.requirement = Requirement::none;
        h.note = "local override " + level + ": TLS not required";
      } else if (level == "encrypt" || level == "fingerprint") {
        h.requirement = Requirement::tls;
        h.note =
            "local override " + level + (level == "fingerprint" ? " (fingerprints not checked here)" : "");
      } else if (level == "dane" || level == "dane-only") {
        h.dane = dane_from_view(h);
        h.requirement = h.dane || level == "dane-only" ? Requirement::dane : Requirement::none;
        h.note = "local override " + level;
      } else {  // verify, secure
        h.requirement = Requirement::pkix;
        h.note = "local override " + level + ": certificate checked against the MX host name";
      }
    }
  }
}

std::string probe_failure(const HostCheck& h, const ProbeResult& p) {
  if (h.requirement == Requirement::none) return {};
  const std::string who = "MX " + h.name + " (" + p.address + ")";
  if (p.stage != ProbeStage::done) {
    if (p.stage == ProbeStage::starttls && !p.starttls_offered) {
      return who + " does not offer STARTTLS but the policy requires TLS";
    }
    return who + ": " + std::string(to_string(p.stage)) + " failed: " + p.error;
  }
  switch (h.requirement) {
    case Requirement::none:
    case Requirement::tls: return {};
    case Requirement::dane:
      if (!p.dane_checked) return who + ": no TLSA records to check the certificate against";
      if (!p.dane_ok) return who + ": certificate does not match the TLSA records (" + p.dane_error + ")";
      return {};
    case Requirement::sts:
    case Requirement::pkix: {
      if (!p.pkix_chain_ok) return who + ": certificate not trusted (" + p.pkix_error + ")";
      if (!p.name_matches) {
        const std::vector<std::string> names =
            p.chain.empty() ? std::vector<std::string>{} : p.chain[0].dns_names;
        return who + ": certificate is not valid for " + h.name +
               " (names: " + (names.empty() ? "none" : join(names, ", ")) + ")";
      }
      return {};
    }
  }
  return {};
}

void judge(CheckReport& report) {
  const PolicyDecision& d = report.decision;
  std::vector<std::string> failures;
  for (HostCheck& h : report.hosts) {
    h.failures.clear();
    if (h.requirement == Requirement::sts && !h.listed) {
      h.failures.push_back("MX " + h.name + " is not listed in the MTA-STS policy (mx: " +
                           (d.sts ? join(d.sts->mx, ", ") : std::string()) + ")");
    }
    if (h.requirement != Requirement::none && h.probes.empty() && d.verdict != Verdict::temp_fail) {
      h.failures.push_back("MX " + h.name + " has no address to deliver to");
    }
    for (const ProbeResult& p : h.probes) {
      std::string f = probe_failure(h, p);
      if (!f.empty()) h.failures.push_back(std::move(f));
    }
    h.ok = h.failures.empty();
    if (h.enforced) failures.insert(failures.end(), h.failures.begin(), h.failures.end());
  }
  report.details.clear();

  if (d.verdict == Verdict::temp_fail) {
    report.overall = Overall::temp;
    report.verdict = "TEMP: the policy cannot be determined now: " +
                     (d.temp_reason.empty() ? std::string("lookup failed") : d.temp_reason);
    report.exit_status = 1;
    return;
  }
  if (d.verdict == Verdict::no_policy) {
    report.overall = Overall::no_policy;
    report.exit_status = 0;
    if (d.sts && d.sts->mode == StsPolicy::Mode::testing) {
      report.verdict = "no policy: MTA-STS mode testing is not enforced";
      for (const HostCheck& h : report.hosts) {
        for (const auto& f : h.failures) report.details.push_back("under enforce: " + f);
      }
      if (report.details.empty()) report.details.push_back("under enforce, delivery would be verified");
    } else if (report.null_mx) {
      report.verdict = "no policy: null MX (RFC 7505), the domain accepts no mail";
    } else {
      report.verdict = "no policy: no DANE or MTA-STS policy applies; the MTA's default TLS settings decide";
      if (!d.result_type.empty()) report.verdict += " (MTA-STS failed: " + d.result_type + ")";
    }
    return;
  }
  if (report.hosts.empty()) failures.push_back("no MX host to deliver to");
  if (!failures.empty()) {
    report.overall = Overall::fail;
    report.verdict = "FAIL: " + failures.front();
    if (failures.size() > 1) report.verdict += " (and " + std::to_string(failures.size() - 1) + " more)";
    report.details = std::move(failures);
    report.exit_status = 1;
    return;
  }
  report.overall = Overall::ok;
  report.exit_status = 0;
  const bool any_verified = std::any_of(report.hosts.begin(), report.hosts.end(), [](const HostCheck& h) {
    return h.requirement == Requirement::dane || h.requirement == Requirement::sts ||
           h.requirement == Requirement::pkix;
  });
  const bool all_required = std::all_of(report.hosts.begin(), report.hosts.end(), [](const HostCheck& h) {
    return h.requirement != Requirement::none;
  });
  if (any_verified && all_required) {
    report.verdict = "OK: delivery would be verified";
  } else if (any_verified) {
    report.verdict =
        "OK: delivery would be verified where the policy requires it (some MX hosts opportunistic)";
  } else if (all_required) {
    report.verdict = "OK: delivery would be encrypted (certificate not authenticated)";
  } else {
    report.verdict = "OK: the policy requires nothing the MX hosts fail";
  }
  report.verdict += " (" + std::string(to_string(d.source)) + ": " + d.level + ")";
}

}  // namespace tlsfence::check
