#pragma once
// What the two reception doors (policy delegation, milter) share: their rules
// (reception_rules.h: options, the DNSSEC-bogus refusal, the lookup key) and the bounded wait
// for a prefetch lookup (here: Asio coroutines).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "async/asio.h"
#include "policy/lookup.h"
#include "policy/reception_rules.h"
#include "tlsfence/config.h"
#include "tlsfence/policy.h"

namespace tlsfence::policy {

// Starts lookup.decide(key) as an independent coroutine on the caller's executor and waits
// at most `wait` for it. The lookup runs to completion whatever happens here (it warms the
// cache for delivery), so `lookup` must outlive the io_context's run. Returns the decision,
// or nullopt when the deadline passed first or the lookup threw. The caller's executor must
// not run handlers concurrently (one-thread io_context or a strand).
Task<std::optional<PolicyDecision>> decide_within(PolicyLookup& lookup, std::string key,
                                                  std::chrono::milliseconds wait);

// Starts lookup.decide(key) on `ex` and does not wait for it (prefetch only: used when
// on-dnssec-bogus = continue, where the decision cannot change a door's answer).
void prefetch(PolicyLookup& lookup, std::string key, const asio::any_io_executor& ex);

}  // namespace tlsfence::policy
