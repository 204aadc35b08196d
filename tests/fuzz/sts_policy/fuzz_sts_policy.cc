// Fuzz target: the MTA-STS policy parser and MX matching. Invariants: an ok policy has
// max_age within the cap, valid mx patterns (at least one unless mode none), and every
// pattern matches a host built from it; a failure has a reason.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parse/mx_match.h"
#include "parse/sts_policy.h"
#include "tlsfence/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = tlsfence::parse::parse_sts_policy(in);
  if (!r.ok()) {
    if (r.detail.empty()) std::abort();
    return 0;
  }
  const auto& p = r.policy;
  if (p.max_age > tlsfence::limits::sts_max_age_max) std::abort();
  if (p.mode != tlsfence::StsPolicy::Mode::none && p.mx.empty()) std::abort();
  // Each pattern against a host built from it (one pattern at a time: matching each host
  // against the whole list was quadratic, a million comparisons for 1,000 patterns), and a
  // few of those hosts against the whole list.
  for (std::size_t i = 0; i < p.mx.size(); ++i) {
    const std::string& mx = p.mx[i];
    if (!tlsfence::parse::is_valid_mx_pattern(mx)) std::abort();
    std::string host = mx.substr(0, 2) == "*." ? "x" + mx.substr(1) : mx;
    if (!tlsfence::parse::mx_matches(host, std::string_view(mx))) std::abort();
    if ((i < 4 || i + 1 == p.mx.size()) && !tlsfence::parse::mx_matches(host, p)) std::abort();
  }
  (void)tlsfence::parse::mx_matches(in, p);
  return 0;
}
