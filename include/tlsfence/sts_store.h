#pragma once
// Where MTA-STS policies are remembered between lookups (RFC 8461 §5.1: a cached policy
// stays in force until its max_age expires, even when the TXT record vanishes or a
// re-fetch fails; a changed TXT id triggers a re-fetch).
// The MTA-STS evaluator reads and writes through this interface; src/policy's cache +
// src/store implement it durably, tests use an in-memory map.
#include <chrono>
#include <optional>
#include <string>

#include "tlsfence/policy.h"

namespace tlsfence {

struct CachedSts {
  StsPolicy policy;                                  // includes the TXT id it was fetched under
  std::chrono::system_clock::time_point fetched_at;  // expiry = fetched_at + policy.max_age
};

class StsStore {
 public:
  virtual ~StsStore() = default;
  virtual std::optional<CachedSts> get_sts(const std::string& domain) = 0;
  virtual void put_sts(const std::string& domain, const CachedSts& entry) = 0;
  virtual void erase_sts(const std::string& domain) = 0;
};

}  // namespace tlsfence
