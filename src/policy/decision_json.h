#pragma once
// PolicyDecision and CachedSts (MTA-STS policy) to and from JSON.
// Used by the cache's SQLite rows and by `tlsfence explain --json`.
// Encoding: enums as their to_string() names, TLSA data as lower-case hex, times as Unix
// seconds (sub-second parts are dropped). Decoding treats the text as untrusted input from
// disk: any malformed, mistyped or out-of-range field gives an error result, never an
// exception or a crash. Unknown keys are ignored (forward compatibility).
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tlsfence/policy.h"
#include "tlsfence/sts_store.h"

namespace tlsfence::policy {

template <typename T>
struct JsonResult {
  std::optional<T> value;
  std::string error;  // set when !value
  explicit operator bool() const { return value.has_value(); }
};

nlohmann::json decision_to_json(const PolicyDecision& d);
std::string decision_to_json_text(const PolicyDecision& d);  // compact, one line
JsonResult<PolicyDecision> decision_from_json(const nlohmann::json& j);
JsonResult<PolicyDecision> decision_from_json_text(std::string_view text);

nlohmann::json sts_policy_to_json(const StsPolicy& p);
JsonResult<StsPolicy> sts_policy_from_json(const nlohmann::json& j);

nlohmann::json cached_sts_to_json(const CachedSts& c);
std::string cached_sts_to_json_text(const CachedSts& c);
JsonResult<CachedSts> cached_sts_from_json(const nlohmann::json& j);
JsonResult<CachedSts> cached_sts_from_json_text(std::string_view text);

// Helpers shared with the store: Unix seconds <-> system_clock.
std::int64_t to_unix_seconds(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point from_unix_seconds(std::int64_t s);

}  // namespace tlsfence::policy
