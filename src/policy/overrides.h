#pragma once
// Local override rules ([local] override = DOMAIN LEVEL [ARGS…]): the operator's word wins
// over DANE and MTA-STS. Parsed once at start-up (a bad rule is a config error naming it);
// matched per lookup: the exact domain first, then the closest ".parent" rule.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tlsfence::policy {

class OverrideError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OverrideRule {
  std::string pattern;  // "example.org" or ".example.org"
  std::string level;    // the answer after "OK ", e.g. "secure match=.example.org"
};

class Overrides {
 public:
  Overrides() = default;
  // Throws OverrideError naming the rule when one is malformed.
  explicit Overrides(const std::vector<std::string>& rules);

  // The rule for a normalised domain, if any: exact match first, then the longest
  // ".suffix" rule.
  const OverrideRule* find(std::string_view domain) const;
  bool empty() const { return exact_.empty() && suffix_.empty(); }

 private:
  std::unordered_map<std::string, OverrideRule> exact_;
  std::unordered_map<std::string, OverrideRule> suffix_;  // key without the leading dot
};

// The Postfix TLS security levels an override may name.
bool is_postfix_tls_level(std::string_view level);

}  // namespace tlsfence::policy
