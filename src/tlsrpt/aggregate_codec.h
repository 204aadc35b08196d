#pragma once
// One host's aggregates of one (day, policy domain) as JSON — the form the fleet's PostgreSQL
// keeps them in (tlsfence_tlsrpt_outcomes.aggregate) — and the sum of several hosts' into one
// report's worth. Pure functions: the decoder is fed rows another program wrote, so it checks
// every field and names what is wrong instead of guessing.
//
//   [{"type":"sts","strings":[…],"domain":"d","mx":[…],"ok":N,"fail":N,
//     "details":[{"result":"…","sip":"…","mx":"…","helo":"…","rip":"…","code":"…","info":"…","n":N}]}]
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsrpt/store.h"

namespace tlsfence::tlsrpt {

std::string aggregates_to_json(const std::vector<PolicyAggregate>& policies);

// nullopt, with `error` naming the first bad field, when `json` is not what
// aggregates_to_json() writes (a corrupt or foreign row). Counts must fit in 2^53.
std::optional<std::vector<PolicyAggregate>> aggregates_from_json(std::string_view json, std::string& error);

// Adds `from` into `into`: policies equal in type, strings, policy-domain and mx hosts are one
// policy (their session counts summed); failure details equal in result type, sending ip,
// receiving mx, receiving ip and reason code are one detail (counts summed; the first host's
// EHLO reply and additional information kept). Order: `into`'s, then new ones as they come.
void merge_aggregates(std::vector<PolicyAggregate>& into, const std::vector<PolicyAggregate>& from);

// Sessions counted in `policies` (successes + failures): only grows as outcomes are added.
std::uint64_t total_sessions(const std::vector<PolicyAggregate>& policies);

}  // namespace tlsfence::tlsrpt
