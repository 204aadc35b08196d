#include "rptd/attribution.h"

#include <filesystem>

#include "util/log.h"

namespace tlsfence::rptd {
namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace

std::optional<tlsrpt::ReportPolicy> policy_from_decision(const PolicyDecision& d) {
  tlsrpt::ReportPolicy p;
  p.domain = tlsrpt::normalize_domain(d.domain);
  if (d.source == Source::dane) {
    bool any = false;
    p.type = TlsrptPolicyType::tlsa;
    for (const auto& h : d.dane_hosts) {
      if (!h.dane) continue;
      any = true;
      p.mx_hosts.push_back(h.name);
      for (const auto& t : h.tlsa) {
        if (!t.usable) continue;
        p.strings.push_back(std::to_string(t.usage) + " " + std::to_string(t.selector) + " " +
                            std::to_string(t.matching_type) + " " + hex(t.data));
      }
    }
    if (!any) return std::nullopt;
    return p;
  }
  if (d.sts && d.sts->mode != StsPolicy::Mode::none) {
    p.type = TlsrptPolicyType::sts;
    p.strings = d.sts->lines;
    p.mx_hosts = d.sts->mx;
    return p;
  }
  return std::nullopt;
}

std::optional<tlsrpt::ReportPolicy> Attributor::policy(const std::string& domain) {
  if (auto it = memo_.find(domain); it != memo_.end()) return it->second;
  std::optional<tlsrpt::ReportPolicy> out;
  if (!reader_ && !path_.empty() && std::filesystem::exists(path_)) {
    std::string error;
    reader_ = store::CacheReader::open(path_, error);
    if (!reader_)
      log::warning("cache.db unreadable, outcomes get no-policy-found", {{"path", path_}, {"error", error}});
  }
  if (reader_) {
    if (auto d = reader_->decision(domain)) out = policy_from_decision(d->decision);
  }
  memo_.emplace(domain, out);
  return out;
}

}  // namespace tlsfence::rptd
