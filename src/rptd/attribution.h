#pragma once
// Attribution: the TLS-RPT policy (RFC 8460 §4.4) that was in force for a domain, taken from
// the decision tlsfenced stored in cache.db.
//   DANE decision  → "tlsa", one policy string "u s m HEX" per usable TLSA record of the
//                    DANE hosts, mx-host = those hosts;
//   MTA-STS        → "sts", the policy lines and the mx patterns;
//   anything else  → nullopt (the outcome stays "no-policy-found").
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "store/cache_reader.h"
#include "tlsfence/policy.h"
#include "tlsrpt/outcome.h"

namespace tlsfence::rptd {

std::optional<tlsrpt::ReportPolicy> policy_from_decision(const PolicyDecision& d);

// Looks policies up in cache.db (opened read-only, lazily; a missing file means "no policy").
// Answers are memoised until clear() so a batch of outcomes costs one query per domain.
class Attributor {
 public:
  explicit Attributor(std::string cache_db) : path_(std::move(cache_db)) {}
  std::optional<tlsrpt::ReportPolicy> policy(const std::string& domain);
  void attribute(tlsrpt::Outcome& o) { tlsrpt::attribute(o, policy(o.policy_domain)); }
  void clear() { memo_.clear(); }

 private:
  std::string path_;
  std::unique_ptr<store::CacheReader> reader_;
  std::unordered_map<std::string, std::optional<tlsrpt::ReportPolicy>> memo_;
};

}  // namespace tlsfence::rptd
