#pragma once
// PolicyService — the one place that turns a next hop into a TLS policy decision.
//
// Order (DESIGN.md "Deciding a domain's policy"): the next hop is normalised (IDNA A-label,
// lower case, no trailing dot; [ip], [host]:port… get "no policy"); a local override wins;
// then DANE (RFC 7672), whose temporary failure is final (never downgraded to MTA-STS or to
// "no policy"); then MTA-STS (RFC 8461), which can never weaken DANE; then "no policy".
// Results go through PolicyCache when one is given: concurrent lookups of a domain are
// coalesced, and a still-valid earlier policy is answered instead of a new TEMP.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cache.h"
#include "policy/dns_source.h"
#include "policy/lookup.h"
#include "policy/overrides.h"
#include "policy/shared_store.h"
#include "policy/sts_fetcher.h"
#include "tlsfence/clock.h"
#include "tlsfence/config.h"
#include "tlsfence/sts_store.h"

namespace tlsfence::policy {

struct ServiceOptions {
  bool enforce_testing = false;        // [socketmap] enforce-testing
  std::vector<std::string> overrides;  // [local] override rules (validated by Overrides)
  // An MTA-STS decision is re-evaluated (TXT id check, no fetch while the id is unchanged)
  // at least this often, so an id change is noticed long before max_age runs out.
  std::uint32_t sts_recheck_seconds = 300;
  // Called once per decision (resolved, or answered from the cache) — the decision log line.
  std::function<void(const PolicyDecision&, bool from_cache)> on_decision;
};

class PolicyService final : public PolicyLookup {
 public:
  // `cache` may be null (every decide() resolves afresh).
  PolicyService(const ServiceOptions& options, DnsSource& dns, StsFetcher& fetcher, StsStore& sts_store,
                const Clock& clock, PolicyCache* cache);

  Task<PolicyDecision> decide(std::string next_hop) override;
  Task<std::shared_ptr<const PolicyDecision>> decide_shared(std::string next_hop) override;
  // A key found as it is in the cache is a normalised domain (only those are cached): parsing
  // it would give the same name back. Skipped while override rules exist (they come first).
  std::shared_ptr<const PolicyDecision> find_cached(std::string_view next_hop) override;

  // `tlsfence cache refresh`: decide `next_hop` afresh now, bypassing a fresh cache entry;
  // the result is cached like any resolution (a failure keeps a still-valid earlier policy,
  // and a stored MTA-STS policy is kept until its max_age as RFC 8461 §5.1 says).
  Task<PolicyDecision> refresh(std::string next_hop);

  // A SIGHUP reload: new override rules, enforce-testing, on_decision. Runs on the io thread.
  // Every override rule is checked first: a bad one throws OverrideError naming it and nothing
  // changes. When enforce-testing changes, the cached decisions of domains with a stored
  // MTA-STS policy are dropped (the policies themselves are kept, no re-fetch), so the next
  // lookup answers by the new setting; override changes need nothing (overrides are checked
  // before the cache). A resolution already running finishes with the old setting.
  void reconfigure(const ServiceOptions& options);

  // Resolve a normalised domain without the cache: override → DANE → MTA-STS → none.
  Task<PolicyDecision> resolve(std::string domain);

  // Fleet mode: a memory miss asks `shared` (may be null: off) before resolving (shared_store.h).
  // Refreshes (proactive or `tlsfence cache refresh`) resolve here, and write the result behind.
  void set_shared(SharedStore* shared) { shared_ = shared; }

 private:
  PolicyCache::Resolve resolver_for(std::string domain);  // resolve(domain), for the cache
  // A miss: the fleet's answer when it has one (shared_), else resolve(domain).
  Task<PolicyDecision> resolve_miss(std::string domain);
  // A fresh cached decision for a normalised domain (a use: may start a refresh), logged.
  std::shared_ptr<const PolicyDecision> cached_hit(std::string_view domain);

  ServiceOptions options_;
  Overrides overrides_;
  DnsSource& dns_;
  StsFetcher& fetcher_;
  StsStore& sts_store_;
  const Clock& clock_;
  PolicyCache* cache_;
  SharedStore* shared_ = nullptr;
};

}  // namespace tlsfence::policy
