#pragma once
// SharedStore — the second level behind PolicyCache when several hosts share one store (the
// fleet's PostgreSQL, src/fleet). PolicyService asks it on a memory miss before resolving:
//
//   claim(domain)  what the fleet already knows: a still-fresh decision another host derived,
//                  and the MTA-STS policy stored for the domain (RFC 8461 §5.1: kept until its
//                  max_age, so a re-check whose TXT id is unchanged needs no fetch). With no
//                  fresh decision, claim() also coordinates: either this host becomes the one
//                  resolver of the domain for the fleet (`leader`), or it waits a bounded time
//                  for the host that is resolving it and then reads its result — or, when that
//                  does not come in time, resolves itself.
//   resolved(domain) the leader's resolution is stored (the cache's write-behind persists it):
//                  the waiting hosts can be woken.
//
// The store is never required: unreachable, slow or refusing, claim() comes back empty within
// its deadline and the host resolves as a single host would. Never throws. io thread only.
#include <chrono>
#include <optional>
#include <string>

#include "async/asio.h"
#include "tlsfence/policy.h"
#include "tlsfence/sts_store.h"

namespace tlsfence::policy {

struct SharedClaim {
  std::optional<PolicyDecision> decision;  // fresh: answer it as if resolved (its own decided_at/ttl)
  std::optional<CachedSts> sts;            // the fleet's MTA-STS policy for the domain, within max_age
  bool leader = false;                     // this host resolves for the fleet: call resolved() after
  // No fresh decision, but one past its expiry and still within its valid_until: kept in memory
  // before resolving, so a failed resolution answers it (stale-on-failure, fleet-wide).
  std::optional<PolicyDecision> stale;
  std::chrono::system_clock::time_point stale_expires_at{}, stale_valid_until{};
};

class SharedStore {
 public:
  virtual ~SharedStore() = default;
  virtual Task<SharedClaim> claim(std::string domain) = 0;
  virtual void resolved(const std::string& domain) = 0;
};

}  // namespace tlsfence::policy
