#pragma once
// MTA-STS MX host matching (RFC 8461 §4.1): does an MX host name match a policy's mx
// patterns? A pattern is a host name (exact match) or "*." + name, where the "*" stands
// for exactly one whole leftmost label ("*.example.com" matches "mx.example.com", not
// "a.b.example.com" nor "example.com"). ASCII case-insensitive; one trailing dot on either
// side is ignored. Pure; used by reports and `tlsfence check`.
#include <string>
#include <string_view>
#include <vector>

#include "tlsfence/policy.h"

namespace tlsfence::parse {

bool mx_matches(std::string_view host, std::string_view pattern);
bool mx_matches_any(std::string_view host, const std::vector<std::string>& patterns);
inline bool mx_matches(std::string_view host, const StsPolicy& policy) {
  return mx_matches_any(host, policy.mx);
}

}  // namespace tlsfence::parse
