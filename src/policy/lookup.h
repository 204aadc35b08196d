#pragma once
// What a front door needs from the policy service: one call, one decision.
// Implemented by policy::PolicyService (DANE, MTA-STS, overrides, cache); doors and their
// tests depend only on this interface.
#include <memory>
#include <string>
#include <string_view>

#include "async/asio.h"
#include "tlsfence/policy.h"

namespace tlsfence {

class PolicyLookup {
 public:
  virtual ~PolicyLookup() = default;
  // `next_hop` is the key exactly as the MTA sent it (domain, [ip], [host]:port, U-label…).
  // Never throws for lookup failures: they come back as Verdict::temp_fail with a reason.
  virtual Task<PolicyDecision> decide(std::string next_hop) = 0;
  // The same decision, shared: the hot path (a cache hit) hands out the cached decision
  // without copying it. The default wraps decide().
  // (src/policy/lookup.cc)
  virtual Task<std::shared_ptr<const PolicyDecision>> decide_shared(std::string next_hop);
  // Without waiting: the fresh cached decision for the key exactly as given, or null when the
  // caller must use decide()/decide_shared() (not cached, not fresh, or the key needs parsing).
  // Counts as a use of the entry, like decide(). The default has no cache.
  virtual std::shared_ptr<const PolicyDecision> find_cached(std::string_view /*next_hop*/) { return nullptr; }
};

}  // namespace tlsfence
