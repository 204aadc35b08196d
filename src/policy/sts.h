#pragma once
// MTA-STS (RFC 8461) for one recipient domain: TXT discovery, fetch, parse, cache (§5.1),
// and the resulting PolicyDecision. Used by PolicyService when DANE does not apply.
//
// Pure logic over injected interfaces (DnsSource, StsFetcher, StsStore, Clock): no I/O of its
// own, no logging (the caller logs the decision with its reasons once), never throws for
// DNS, fetch or parse failures.
//
// Outcomes:
//  - Cached, unexpired policy (now < fetched_at + max_age) whose id equals the TXT id → used
//    without fetching.
//  - TXT id differs from the cached one (or nothing cached) → fetch + parse; on success the
//    policy is stored with fetched_at = clock.now() (modes testing and none too); on failure
//    an unexpired cached policy stays in force, else no_policy with result_type
//    "sts-policy-fetch-error" / "sts-webpki-invalid" / "sts-policy-invalid" (RFC 8460) and
//    the reason (RFC 8461 §5: without a valid policy nothing is enforced).
//  - No TXT (NXDOMAIN / no data / no v=STSv1 record / several / invalid record) → the cached
//    policy if unexpired (§5.1: a vanished record does not delete it), else no_policy.
//  - TXT lookup failed (SERVFAIL, timeout, resolver error) or DNSSEC bogus → the cached policy
//    if unexpired, else temp_fail with temp_reason (never a silent "no policy").
//  - Policy in force, mode enforce → verdict policy, source mta_sts, level
//    "secure match=P1:P2 servername=hostname" (patterns lower-cased, "*.x" sent as ".x");
//    testing → no_policy unless options.enforce_testing; none → no_policy.
//    `sts` holds the policy in force (any mode) so TLS-RPT can report on it; source is
//    mta_sts only when the verdict is policy; ttl = seconds left of max_age.
#include <chrono>
#include <string>

#include "async/asio.h"
#include "policy/dns_source.h"
#include "policy/sts_fetcher.h"
#include "tlsfence/clock.h"
#include "tlsfence/policy.h"
#include "tlsfence/sts_store.h"

namespace tlsfence::sts {

struct Options {
  bool enforce_testing = false;  // [socketmap] enforce-testing: treat testing as enforce
};

// `domain` must already be normalised (parse::parse_next_hop): A-label, lower case, no dot.
Task<PolicyDecision> evaluate(DnsSource& dns, StsFetcher& fetcher, StsStore& store, const Clock& clock,
                              std::string domain, Options options);

// "secure match=mx1.example:.example.net servername=hostname" for a policy's mx patterns.
std::string postfix_level(const StsPolicy& policy);

// True while a cached policy is in force: now < fetched_at + max_age.
bool is_fresh(const CachedSts& entry, std::chrono::system_clock::time_point now);

}  // namespace tlsfence::sts
